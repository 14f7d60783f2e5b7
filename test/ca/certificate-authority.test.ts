import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { certificateSans, certificateValidity } from '../../src/lib/certificate-info.ts';
import { createCertificationRequest } from '../../src/lib/certification-request.ts';
import { createCertificate, opensslCsr, opensslVerify, startCa, tempDir, type CaFixture } from './ca-fixture.ts';

describe('CertificateAuthority (CreateCertificate over real gRPC)', () => {
  const dir = tempDir();
  let fx: CaFixture;
  let token: string;

  before(async () => {
    fx = await startCa(dir.path);
    token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'default', serviceAccount: 'x' });
  });
  after(async () => {
    await fx.close();
    dir.remove();
  });

  it('issues a chain that openssl verifies, with the SAN from the token, not the CSR', async () => {
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/kube-system/sa/admin');
    const { chain, error } = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 3600 });
    assert.equal(error, undefined);
    assert.ok(chain && chain.length === 2, 'leaf and root');
    const v = opensslVerify(dir.path, chain);
    assert.ok(v.ok, v.output);
    const leaf = new X509Certificate(chain[0]);
    assert.deepEqual(certificateSans(leaf).uris, ['spiffe://cluster.local/ns/default/sa/x']);
    assert.deepEqual(certificateSans(leaf).dns, []);
    assert.ok(!leaf.subject, 'subject is empty (nothing copied from the CSR)');
    assert.equal(chain[chain.length - 1], fx.ca.rootCertPem());
    assert.match(leaf.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/);
    assert.ok(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth');
  });

  it('honours validity_duration: 3600 → one hour, 0 → 24 hours, over 90 days → INVALID_ARGUMENT', async () => {
    const { csr } = opensslCsr(dir.path, 'spiffe://x/ns/y/sa/z', 'v');
    const hour = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 3600 });
    const v1 = certificateValidity(new X509Certificate(hour.chain![0]));
    assert.equal(v1.notAfter - v1.notBefore, 3600_000);
    const def = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 0 });
    const v0 = certificateValidity(new X509Certificate(def.chain![0]));
    assert.equal(v0.notAfter - v0.notBefore, 24 * 3600_000);
    const long = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 91 * 86400 });
    assert.equal(long.error?.code, grpc.status.INVALID_ARGUMENT);
    const max = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 90 * 86400 });
    assert.ok(max.chain, 'exactly 90 days is allowed');
  });

  it('refuses callers without a token, with a forged token, an expired token or the wrong audience', async () => {
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/default/sa/x', 'u');
    const none = await createCertificate({ address: fx.plainAddress, csr });
    assert.equal(none.error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(none.error?.details, 'request authenticate failure', 'opaque to the caller');

    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await mintServiceAccountToken({ key: otherKey, namespace: 'default', serviceAccount: 'x' });
    assert.equal((await createCertificate({ address: fx.plainAddress, csr, token: forged })).error?.code, grpc.status.UNAUTHENTICATED);

    const key = loadOrCreateTokenKey(dir.path).privateKey;
    const expired = await mintServiceAccountToken({ key, namespace: 'default', serviceAccount: 'x', ttlSeconds: 60, now: Date.now() - 3600_000 });
    assert.equal((await createCertificate({ address: fx.plainAddress, csr, token: expired })).error?.code, grpc.status.UNAUTHENTICATED);

    const wrongAud = await mintServiceAccountToken({ key, namespace: 'default', serviceAccount: 'x', audience: 'kubernetes' });
    assert.equal((await createCertificate({ address: fx.plainAddress, csr, token: wrongAud })).error?.code, grpc.status.UNAUTHENTICATED);

    const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await createCertificate({ address: fx.plainAddress, csr, token: tampered })).error?.code, grpc.status.UNAUTHENTICATED);
  });

  it('refuses malformed CSRs, bad CSR signatures and weak keys with INVALID_ARGUMENT', async () => {
    const garbage = await createCertificate({ address: fx.plainAddress, csr: 'not a csr', token });
    assert.equal(garbage.error?.code, grpc.status.INVALID_ARGUMENT);
    const huge = await createCertificate({ address: fx.plainAddress, csr: 'A'.repeat(100_000), token });
    assert.equal(huge.error?.code, grpc.status.INVALID_ARGUMENT);

    const { csr } = opensslCsr(dir.path, 'spiffe://a/ns/b/sa/c', 'sig');
    const body = csr.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const der = Buffer.from(body, 'base64');
    der[der.length - 5] ^= 0x01; // flip a bit inside the signature
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.equal((await createCertificate({ address: fx.plainAddress, csr: bad, token })).error?.code, grpc.status.INVALID_ARGUMENT);

    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakCsr = createCertificationRequest({ privateKey: weak.privateKey, publicKey: weak.publicKey });
    assert.equal((await createCertificate({ address: fx.plainAddress, csr: weakCsr, token })).error?.code, grpc.status.INVALID_ARGUMENT);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaCsr = createCertificationRequest({ privateKey: rsa.privateKey, publicKey: rsa.publicKey });
    assert.ok((await createCertificate({ address: fx.plainAddress, csr: rsaCsr, token })).chain, 'RSA 2048 is accepted');
  });

  it('counts requests in istiod metrics on the given registry', async () => {
    const text = await fx.registry.metrics();
    const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    assert.ok(value('citadel_server_csr_count') >= 10);
    assert.ok(value('citadel_server_success_cert_issuance_count') >= 4);
    assert.ok(value('citadel_server_authentication_failure_count') >= 5);
    assert.ok(value('citadel_server_csr_parsing_err_count') >= 3);
    const expiry = value('citadel_server_root_cert_expiry_timestamp');
    assert.ok(expiry > Date.now() / 1000 + 9 * 365 * 86400, 'root lives ten years');
  });

  it('serves 15012 with a certificate for istiod.istio-system.svc and renews over mTLS with a mesh certificate', async () => {
    const root = fx.ca.rootCertPem();
    const { csr, keyPath } = opensslCsr(dir.path, 'spiffe://ignored/ns/a/sa/b', 'm');
    const first = await createCertificate({ address: fx.tlsAddress, csr, token, tls: { rootCertPem: root } });
    assert.ok(first.chain, String(first.error?.details));
    const { readFileSync } = await import('node:fs');
    const keyPem = readFileSync(keyPath, 'utf8');
    // Renewal: no token, the certificate just issued authenticates the caller.
    const { csr: csr2 } = opensslCsr(dir.path, 'spiffe://ignored/ns/other/sa/other', 'm2');
    const renewed = await createCertificate({ address: fx.tlsAddress, csr: csr2, tls: { rootCertPem: root, clientKeyPem: keyPem, clientCertPem: first.chain![0] } });
    assert.ok(renewed.chain, String(renewed.error?.details));
    assert.deepEqual(certificateSans(new X509Certificate(renewed.chain[0])).uris, ['spiffe://cluster.local/ns/default/sa/x']);
    // No token and no client certificate over TLS: refused.
    const anon = await createCertificate({ address: fx.tlsAddress, csr: csr2, tls: { rootCertPem: root } });
    assert.equal(anon.error?.code, grpc.status.UNAUTHENTICATED);
  });

  it('refuses a client certificate from another CA on 15012', async () => {
    const other = tempDir();
    const foreign = await startCa(other.path);
    try {
      const foreignToken = await mintServiceAccountToken({ key: loadOrCreateTokenKey(other.path).privateKey, namespace: 'default', serviceAccount: 'mallory' });
      const { csr, keyPath } = opensslCsr(other.path, 'spiffe://cluster.local/ns/default/sa/mallory', 'f');
      const issued = await createCertificate({ address: foreign.plainAddress, csr, token: foreignToken });
      const { readFileSync } = await import('node:fs');
      const r = await createCertificate({
        address: fx.tlsAddress,
        csr,
        tls: { rootCertPem: fx.ca.rootCertPem(), clientKeyPem: readFileSync(keyPath, 'utf8'), clientCertPem: issued.chain![0] },
      });
      assert.equal(r.error?.code, grpc.status.UNAUTHENTICATED);
    } finally {
      await foreign.close();
      other.remove();
    }
  });
});

describe('CertificateAuthority.authenticate', () => {
  it('authenticates tokens and mesh certificates for other services (e.g. xDS on 15012)', async () => {
    const dir = tempDir();
    const fx = await startCa(dir.path);
    try {
      const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'ns', serviceAccount: 'sa' });
      assert.deepEqual(await fx.ca.authenticate({ bearerToken: token }), { ok: true, authenticator: 'jwt', identity: 'spiffe://cluster.local/ns/ns/sa/sa', pod: { namespace: 'ns', serviceAccount: 'sa' } });
      const { csr } = opensslCsr(dir.path, 'spiffe://x/ns/y/sa/z');
      const { chain } = await createCertificate({ address: fx.plainAddress, csr, token });
      const peerCertificate = new X509Certificate(chain![0]).raw;
      const viaCert = await fx.ca.authenticate({ peerCertificate });
      assert.equal(viaCert.ok && viaCert.identity, 'spiffe://cluster.local/ns/ns/sa/sa');
      const none = await fx.ca.authenticate({});
      assert.equal(none.ok, false);
    } finally {
      await fx.close();
      dir.remove();
    }
  });
});
