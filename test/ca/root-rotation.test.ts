import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { secretFromChain } from '../../src/agent/certificate-rotator.ts';
import { trustedRoots } from '../../src/agent/workload-agent.ts';
import { createWorkloadCsr, generateWorkloadKey } from '../../src/agent/workload-key.ts';
import { CaDirectoryWatcher } from '../../src/control/ca/ca-directory-watcher.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { splitCertificatePems } from '../../src/lib/pem.ts';
import { caCertificate, writePlugIn } from '../../chaos/plug-in-ca.ts';

/**
 * Istio's plug-in CA root rotation, at the CA and the agent: root B added to root-cert.pem beside
 * root A, then the signing certificate moved under root B, then root A dropped; discovery picks
 * each step up from its CA directory, answers CreateCertificate with the whole root bundle, and
 * a workload trusts every root of it, so certificates under A and under B verify each other's
 * peers while both are trusted.
 */
describe('plug-in root CA rotation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-root-rotation-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rootA = caCertificate('root A');
  const rootB = caCertificate('root B');
  const intermediateA = caCertificate('intermediate A', rootA);
  const intermediateB = caCertificate('intermediate B', rootB);

  const issue = (ca: CertificateAuthority, sa: string) => {
    const key = generateWorkloadKey();
    const r = ca.issuer.issueWorkload({ csrPem: createWorkloadCsr(key), identity: `spiffe://cluster.local/ns/default/sa/${sa}`, validitySeconds: 3600 });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    return secretFromChain(r.certChain, key.publicKey.export({ format: 'der', type: 'spki' }), key.privateKeyPem);
  };
  const roots = (pem: string): string[] => splitCertificatePems(pem).map((p) => new X509Certificate(p).subject.split('\n').pop() ?? '');
  /** A real TLS handshake: does a server holding `server` accept a client holding `client`, each trusting its own roots? */
  const handshake = (server: ReturnType<typeof issue>, client: ReturnType<typeof issue>): Promise<boolean> =>
    new Promise((resolve) => {
      const srv = tls.createServer({ cert: server.certChainPem, key: server.privateKeyPem, ca: server.rootCertPem, requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
      srv.on('tlsClientError', () => undefined);
      srv.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', cert: client.certChainPem, key: client.privateKeyPem, ca: client.rootCertPem, checkServerIdentity: () => undefined });
        let got = '';
        c.on('data', (d: Buffer) => (got += d.toString()));
        const done = (ok: boolean): void => {
          c.destroy();
          srv.close();
          resolve(ok);
        };
        c.on('error', () => done(false));
        c.on('close', () => done(got === 'ok'));
      });
    });

  it('adds root B, moves signing under it, drops root A, without a restart; peers under A and B handshake while both are trusted', async () => {
    writePlugIn(dir, intermediateA, rootA, [rootA]);
    const ca = createCertificateAuthority({ caDir: dir, clock: systemClock, log: silentLogger(), metrics: new Registry() });
    const watcher = new CaDirectoryWatcher({ caDir: dir, reload: () => ca.reload(), log: silentLogger() });
    const settle = (): void => {
      watcher.check(); // sees the change
      watcher.check(); // the same again: settled, reloads
    };
    try {
      const oldA = issue(ca, 'old');
      assert.deepEqual(roots(oldA.rootCertPem), ['CN=root A']);

      // step 1: root B beside root A; still signed by intermediate A
      writePlugIn(dir, intermediateA, rootA, [rootA, rootB]);
      settle();
      assert.equal(watcher.problem, undefined);
      const bothA = issue(ca, 'both-a');
      assert.deepEqual(roots(bothA.rootCertPem), ['CN=root A', 'CN=root B'], 'the answer carries the whole bundle');
      assert.deepEqual(roots(ca.rootCertPem()), ['CN=root A', 'CN=root B']);

      // step 2: signing under root B, both still trusted
      writePlugIn(dir, intermediateB, rootB, [rootA, rootB]);
      settle();
      assert.equal(watcher.problem, undefined);
      const bothB = issue(ca, 'both-b');
      assert.match(new X509Certificate(splitCertificatePems(bothB.certChainPem)[1]).subject, /intermediate B/);
      assert.ok(await handshake(bothA, bothB), 'a workload under root A and one under root B accept each other (both trust both)');
      assert.ok(await handshake(bothB, bothA));
      assert.equal(await handshake(bothB, oldA), false, 'a workload that never learnt root B cannot verify a server under it');

      // step 3: root A dropped
      writePlugIn(dir, intermediateB, rootB, [rootB]);
      settle();
      const onlyB = issue(ca, 'only-b');
      assert.deepEqual(roots(onlyB.rootCertPem), ['CN=root B']);
      assert.ok(await handshake(onlyB, bothB), 'after the rotation: certificates under root B, trust in root B only');
      assert.equal(await handshake(onlyB, bothA), false, 'a certificate still under root A is refused once root A is dropped');
    } finally {
      watcher.close();
      ca.close();
    }
  });

  it('keeps the CA in force while the files are half written or unusable', () => {
    writePlugIn(dir, intermediateA, rootA, [rootA]);
    const ca = createCertificateAuthority({ caDir: dir, clock: systemClock, log: silentLogger(), metrics: new Registry() });
    const watcher = new CaDirectoryWatcher({ caDir: dir, reload: () => ca.reload(), log: silentLogger() });
    try {
      // intermediate B's certificate with intermediate A's key, and a chain whose root is not in the bundle
      writePlugIn(dir, intermediateB, rootB, [rootA]);
      watcher.check();
      watcher.check();
      assert.match(watcher.problem ?? '', /root-cert\.pem|not signed|does not match/);
      assert.deepEqual(roots(ca.rootCertPem()), ['CN=root A'], 'the CA in force is kept');
      assert.match(ca.authority.signingCert.subject, /intermediate A/);
    } finally {
      watcher.close();
      ca.close();
    }
  });

  it('the agent verifies the CA with the provisioned root plus the roots it was last sent', () => {
    assert.equal(trustedRoots(rootA.certPem, undefined), rootA.certPem);
    assert.equal(trustedRoots(rootA.certPem, rootA.certPem), rootA.certPem);
    assert.deepEqual(splitCertificatePems(trustedRoots(rootA.certPem, rootA.certPem + rootB.certPem)).length, 2);
  });
});
