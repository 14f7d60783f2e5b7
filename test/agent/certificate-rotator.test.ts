import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CaClient } from '../../src/agent/ca-client.ts';
import { CertificateRotator, EXPIRED_RETRY_MAX_MS, retryCeiling, type RotatorEvent } from '../../src/agent/certificate-rotator.ts';
import { SecretCache, type WorkloadSecret } from '../../src/agent/secret-cache.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { startCa, tempDir, type CaFixture } from '../ca/ca-fixture.ts';

/** Collects rotator events and lets a test wait for the next one of a kind. */
class Events {
  private readonly seen: RotatorEvent[] = [];
  private waiters: { type: RotatorEvent['type']; resolve: (e: RotatorEvent) => void }[] = [];
  readonly listener = (e: RotatorEvent): void => {
    const w = this.waiters.find((x) => x.type === e.type);
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(e);
    } else this.seen.push(e);
  };
  next<T extends RotatorEvent['type']>(type: T): Promise<Extract<RotatorEvent, { type: T }>> {
    const i = this.seen.findIndex((e) => e.type === type);
    if (i >= 0) return Promise.resolve(this.seen.splice(i, 1)[0] as Extract<RotatorEvent, { type: T }>);
    return new Promise((resolve) => this.waiters.push({ type, resolve: resolve as (e: RotatorEvent) => void }));
  }
  pending(): number {
    return this.seen.length;
  }
}

const serial = (s: WorkloadSecret): string => new X509Certificate(s.certChainPem).serialNumber;

describe('CertificateRotator', () => {
  const dir = tempDir('mizzen-agent-');
  const clock = new ManualClock(Date.now());
  let fx: CaFixture;
  let goodToken: string;
  let forgedToken: string;

  /** A rotator whose CA cannot be reached (port 1), retrying from `initialMs` without jitter. */
  const unreachableCa = (initialMs: number, events: Events): CertificateRotator => new CertificateRotator({
    client: new CaClient({ address: '127.0.0.1:1', timeoutMs: 5000 }),
    cache: new SecretCache(),
    clock,
    log: silentLogger(),
    token: () => goodToken,
    backoff: { initialMs, jitter: 0 },
    onEvent: events.listener,
  });

  before(async () => {
    fx = await startCa(dir.path, clock);
    const key = loadOrCreateTokenKey(dir.path).privateKey;
    goodToken = await mintServiceAccountToken({ key, namespace: 'shop', serviceAccount: 'cart', now: clock.now() });
    const other = tempDir();
    forgedToken = await mintServiceAccountToken({ key: loadOrCreateTokenKey(other.path).privateKey, namespace: 'shop', serviceAccount: 'cart', now: clock.now() });
    other.remove();
  });
  after(async () => {
    await fx.close();
    dir.remove();
  });

  it('fetches a certificate, renews it at 50 % of its lifetime minus jitter, over mTLS without a token', async () => {
    const cache = new SecretCache();
    const events = new Events();
    let tokenReads = 0;
    const rotator = new CertificateRotator({
      client: new CaClient({ address: fx.tlsAddress, tls: { rootCertPem: fx.ca.rootCertPem() } }),
      cache,
      clock,
      log: silentLogger(),
      mtls: true,
      identity: 'spiffe://cluster.local/ns/shop/sa/cart',
      // Only the first request carries a token: renewals must authenticate with the certificate.
      token: () => (tokenReads++ === 0 ? goodToken : undefined),
      validitySeconds: 3600,
      jitterRatio: 0.1,
      random: () => 0.5,
      onEvent: events.listener,
    });
    const updates: WorkloadSecret[] = [];
    const unsubscribe = cache.subscribe((s) => updates.push(s));
    try {
      rotator.start();
      const first = await rotator.ready();
      const issued = await events.next('issued');
      assert.equal(first.identity, 'spiffe://cluster.local/ns/shop/sa/cart');
      assert.equal(first.notAfter - first.notBefore, 3600_000);
      assert.equal(issued.nextRotationAt, first.notBefore + 1800_000 - 180_000, 'half the lifetime minus 0.5 × 10 % jitter');
      assert.match(first.rootCertPem, /BEGIN CERTIFICATE/);
      assert.equal(first.rootCertPem.trim(), fx.ca.rootCertPem().trim());

      clock.advance(issued.nextRotationAt - clock.now() - 1000);
      assert.equal(cache.current(), first, 'no renewal before the rotation time');
      assert.equal(events.pending(), 0);
      clock.advance(1000);
      const second = (await events.next('issued')).secret;
      assert.notEqual(serial(second), serial(first));
      assert.notEqual(second.privateKeyPem, first.privateKeyPem, 'a fresh key per rotation');
      assert.equal(second.identity, first.identity);
      assert.equal(cache.current(), second);
      assert.deepEqual(updates.map(serial), [serial(first), serial(second)]);
    } finally {
      unsubscribe();
      rotator.close();
    }
  });

  it('keeps the still-valid certificate when renewal fails, backs off, then recovers', async () => {
    const cache = new SecretCache();
    const events = new Events();
    let token = goodToken;
    const rotator = new CertificateRotator({
      client: new CaClient({ address: fx.plainAddress }),
      cache,
      clock,
      log: silentLogger(),
      token: () => token,
      validitySeconds: 3600,
      jitterRatio: 0,
      backoff: { initialMs: 1000, maxMs: 8000, jitter: 0 },
      onEvent: events.listener,
    });
    try {
      rotator.start();
      const first = (await events.next('issued')).secret;
      token = forgedToken; // the CA now refuses us
      clock.advance(first.notBefore + 1800_000 - clock.now());
      const f1 = await events.next('failed');
      assert.equal(f1.keptCurrent, true);
      assert.equal(f1.retryInMs, 1000);
      assert.match(f1.error, /UNAUTHENTICATED/);
      assert.equal(cache.current(), first, 'the old certificate is still served');
      clock.advance(1000);
      const f2 = await events.next('failed');
      assert.equal(f2.retryInMs, 2000, 'exponential backoff');
      assert.equal(cache.current(), first);
      token = goodToken;
      clock.advance(2000);
      const recovered = (await events.next('issued')).secret;
      assert.notEqual(serial(recovered), serial(first));
      assert.equal(cache.current(), recovered);
    } finally {
      rotator.close();
    }
  });

  it('retries the first fetch while the CA is unreachable, and close() rejects ready()', async () => {
    const events = new Events();
    const rotator = unreachableCa(500, events);
    const ready = rotator.ready();
    rotator.start();
    const failed = await events.next('failed');
    assert.equal(failed.keptCurrent, false);
    assert.equal(failed.retryInMs, 500);
    rotator.close();
    await assert.rejects(ready, /closed/);
  });

  it('retries at most every quarter of the validity left, and every 5 s once expired (a CA back after an outage is noticed at once)', () => {
    assert.equal(retryCeiling(undefined), EXPIRED_RETRY_MAX_MS, 'no certificate yet');
    assert.equal(retryCeiling(-1), EXPIRED_RETRY_MAX_MS, 'expired');
    assert.equal(retryCeiling(60_000), 15_000, '2-minute certificate at half-life');
    assert.equal(retryCeiling(2000), 1000, 'never below 1 s');
    assert.equal(Math.min(60_000, retryCeiling(12 * 3600_000)), 60_000, 'a day-long certificate keeps the 60 s backoff');
  });

  it('caps a long backoff at 5 s while it has no valid certificate', async () => {
    const events = new Events();
    const rotator = unreachableCa(60_000, events);
    rotator.start();
    try {
      const failed = await events.next('failed');
      assert.equal(failed.retryInMs, EXPIRED_RETRY_MAX_MS);
    } finally {
      rotator.close();
    }
  });
});
