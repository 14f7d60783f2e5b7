import assert from 'node:assert/strict';
import * as https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa, makeCrl, type TestCa, type TestCert } from './support/test-pki.ts';

/** validation_context.crl (Istio's caCrl on MUTUAL gateways and DestinationRules): revoked client certificates are refused. */
describe('certificate revocation lists', () => {
  let h: Harness;
  let app: EchoServer;
  let ca: TestCa;
  let good: TestCert;
  let revoked: TestCert;

  before(async () => {
    ca = await makeCa('crl-root');
    const server = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
    good = await issue(ca, 'spiffe://cluster.local/ns/default/sa/good');
    revoked = await issue(ca, 'spiffe://cluster.local/ns/default/sa/revoked');
    const crl = makeCrl(ca, [revoked]);
    app = await new EchoServer('app').start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [{
        name: 'mtls', address: address('0.0.0.0', 8443),
        filterChains: [{
          transportSocket: {
            name: 'envoy.transport_sockets.tls',
            typedConfig: {
              '@type': DOWNSTREAM_TLS,
              requireClientCertificate: { value: true },
              commonTlsContext: {
                tlsCertificates: [{ certificateChain: { inlineString: server.certPem }, privateKey: { inlineString: server.keyPem } }],
                validationContext: { trustedCa: { inlineString: ca.certPem }, crl: { inlineString: crl } },
              },
            },
          },
          filters: [hcm('in')],
        }],
      }],
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    await app.stop();
  });

  const get = (cert: TestCert): Promise<number> => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.port('mtls'), path: '/', ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });

  it('accepts a client certificate the CRL does not list', async () => {
    assert.equal(await get(good), 200);
  });

  it('refuses a revoked client certificate', async () => {
    await assert.rejects(get(revoked));
  });
});
