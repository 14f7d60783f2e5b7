import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CaClient, decodeCertificateChain, encodeCertificateRequest } from '../../src/agent/ca-client.ts';
import { CertificateMessages } from '../../src/api/ca/certificate-messages.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { MizzenError } from '../../src/lib/errors.ts';
import { opensslCsr, startCa, tempDir, type CaFixture } from '../ca/ca-fixture.ts';

describe('CaClient', () => {
  const dir = tempDir('mizzen-ca-client-');
  let fx: CaFixture;
  let token: string;
  before(async () => {
    fx = await startCa(dir.path);
    token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'shop', serviceAccount: 'cart', now: Date.now() });
  });
  after(async () => {
    await fx.close();
    dir.remove();
  });

  it('encodes IstioCertificateRequest and decodes IstioCertificateResponse as the .proto says', () => {
    const m = new CertificateMessages();
    assert.deepEqual(m.decodeRequest(encodeCertificateRequest('CSR', 3600)), { csr: 'CSR', validityDuration: '3600' });
    assert.deepEqual(m.decodeRequest(encodeCertificateRequest('CSR', 0)), { csr: 'CSR', validityDuration: '0' });
    assert.deepEqual(decodeCertificateChain(m.encodeResponse({ certChain: ['leaf', 'root'] })), ['leaf', 'root']);
  });

  it('gets a chain over TLS with a token', async () => {
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/shop/sa/cart');
    const client = new CaClient({ address: fx.tlsAddress, tls: { rootCertPem: fx.ca.rootCertPem() } });
    const chain = await client.createCertificate(csr, 3600, { token });
    assert.ok(chain.length >= 2);
    assert.match(chain[0]!, /BEGIN CERTIFICATE/);
  });

  it('rejects with CA_UNAUTHENTICATED without a valid token, and with a hint when the CA is unreachable', async () => {
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/shop/sa/cart');
    const refused = await new CaClient({ address: fx.plainAddress }).createCertificate(csr, 3600, { token: 'not-a-jwt' }).catch((e: unknown) => e);
    assert.ok(refused instanceof MizzenError);
    assert.equal(refused.code, 'CA_UNAUTHENTICATED');
    assert.match(refused.message, /UNAUTHENTICATED/);
    const down = await new CaClient({ address: '127.0.0.1:1' }).createCertificate(csr, 3600, { token }).catch((e: unknown) => e);
    assert.ok(down instanceof MizzenError);
    assert.equal(down.code, 'CA_INTERNAL');
    assert.match(down.message, /UNAVAILABLE/);
    assert.equal(down.hint, 'is discovery running and reachable?');
  });
});
