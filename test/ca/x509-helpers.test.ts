import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { ExponentialBackoff } from '../../src/lib/backoff.ts';
import { certificateSans, parseCertificateChain } from '../../src/lib/certificate-info.ts';
import { createCertificationRequest, parseCertificationRequest } from '../../src/lib/certification-request.ts';
import * as der from '../../src/lib/der.ts';
import { parseDuration } from '../../src/lib/duration.ts';
import { splitPem, toPem } from '../../src/lib/pem.ts';
import { formatSpiffeId, parseSpiffeId } from '../../src/lib/spiffe.ts';
import { buildCertificate, distinguishedName, OID, randomSerial, subjectAltNameExtension } from '../../src/lib/x509-builder.ts';

describe('spiffe', () => {
  it('formats and parses spiffe://TD/ns/NS/sa/SA', () => {
    const id = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'bookinfo-productpage' };
    assert.equal(formatSpiffeId(id), 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
    assert.deepEqual(parseSpiffeId(formatSpiffeId(id)), id);
    assert.equal(parseSpiffeId('spiffe://cluster.local/ns/default'), undefined);
    assert.equal(parseSpiffeId('https://cluster.local/ns/a/sa/b'), undefined);
    assert.throws(() => formatSpiffeId({ ...id, namespace: 'a/b' }), RangeError);
  });
});

describe('der', () => {
  it('round-trips OIDs and lengths over 127 bytes', () => {
    for (const o of ['1.2.840.10045.4.3.2', '2.5.29.17', '1.3.6.1.5.5.7.3.2', '2.999.1234567']) {
      const enc = der.oid(o);
      assert.equal(der.readOid(enc, der.readElement(enc, 0)), o);
    }
    const big = der.octetString(Buffer.alloc(300, 7));
    const el = der.readElement(big, 0);
    assert.equal(el.end - el.contentStart, 300);
    assert.throws(() => der.readElement(big.subarray(0, 100), 0), der.DerError);
  });

  it('writes UTCTime before 2050 and GeneralizedTime after', () => {
    assert.equal(der.time(Date.UTC(2026, 0, 2, 3, 4, 5))[0], der.TAG.utcTime);
    assert.equal(der.time(Date.UTC(2051, 0, 1))[0], der.TAG.generalizedTime);
  });
});

describe('certification requests and certificates', () => {
  it('builds a CSR that parses and verifies, and rejects a tampered one', () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = createCertificationRequest({ ...kp, altNames: { uris: ['spiffe://a/ns/b/sa/c'] } });
    const parsed = parseCertificationRequest(pem);
    assert.ok(parsed.ok);
    assert.equal(parsed.request.keyDetail, 'prime256v1');
    const [block] = splitPem(pem);
    block.der[block.der.length - 3] ^= 1;
    const bad = parseCertificationRequest(toPem('CERTIFICATE REQUEST', block.der));
    assert.equal(bad.ok, false);
    assert.equal(parseCertificationRequest('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n').ok, false);
  });

  it('signs certificates with URI, DNS and IP SANs that OpenSSL reads back', () => {
    const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const name = distinguishedName([{ oid: OID.organization, value: 'test' }]);
    const certDer = buildCertificate({
      serial: randomSerial(),
      issuer: name,
      subject: name,
      notBefore: Date.now(),
      notAfter: Date.now() + 3600_000,
      spki: issuer.publicKey.export({ format: 'der', type: 'spki' }),
      signingKey: issuer.privateKey,
      extensions: [subjectAltNameExtension({ uris: ['spiffe://td/ns/a/sa/b'], dns: ['istiod.istio-system.svc'], ips: ['127.0.0.1', 'fd00::1'] }, false)],
    });
    const [cert] = parseCertificateChain(toPem('CERTIFICATE', certDer));
    assert.ok(cert.verify(issuer.publicKey));
    // IPv6 as Envoy prints it (compressed), read from the DER
    assert.deepEqual(certificateSans(cert), { uris: ['spiffe://td/ns/a/sa/b'], dns: ['istiod.istio-system.svc'], ips: ['127.0.0.1', 'fd00::1'] });
    assert.ok(new X509Certificate(certDer).checkHost('istiod.istio-system.svc'));
  });

  it('reads SANs that Node quotes and escapes value for value (regression: a backslash made the text reader throw)', () => {
    const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const name = distinguishedName([{ oid: OID.organization, value: 'test' }]);
    const make = (uris: string[], ips: string[] = []) => parseCertificateChain(toPem('CERTIFICATE', buildCertificate({
      serial: randomSerial(), issuer: name, subject: name, notBefore: Date.now(), notAfter: Date.now() + 3600_000,
      spki: issuer.publicKey.export({ format: 'der', type: 'spki' }), signingKey: issuer.privateKey,
      extensions: [subjectAltNameExtension({ uris, ips }, false)],
    })))[0];
    const tricky = ['a\\', 'spiffe://cluster.local/ns/a/sa/b', 'x, URI:spiffe://cluster.local/ns/default/sa/admin', '"q"', 'sp ace'];
    assert.deepEqual(certificateSans(make(tricky)).uris, tricky);
    assert.deepEqual(certificateSans(make([], ['::', '1:0:0:1:0:0:0:1', '2001:db8::ff00:42:8329', '1:2:3:4:5:6:7:8'])).ips, ['::', '1:0:0:1::1', '2001:db8::ff00:42:8329', '1:2:3:4:5:6:7:8']);
  });
});

describe('parseDuration', () => {
  it('reads Go-style durations and bare seconds', () => {
    assert.equal(parseDuration('1h'), 3600_000);
    assert.equal(parseDuration('1h30m'), 5400_000);
    assert.equal(parseDuration('3600'), 3600_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('soon'), undefined);
  });
});

describe('ExponentialBackoff', () => {
  it('doubles up to the cap and resets', () => {
    const b = new ExponentialBackoff({ initialMs: 100, maxMs: 500, jitter: 0.5, random: () => 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 500]);
    b.reset();
    assert.equal(b.next(), 100);
    const j = new ExponentialBackoff({ initialMs: 100, jitter: 0.5, random: () => 1 });
    assert.equal(j.next(), 50);
  });
});
