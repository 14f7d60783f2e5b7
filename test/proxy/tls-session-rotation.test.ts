import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, DOWNSTREAM_TLS, hcm, httpListener, route, routeConfig, staticCluster, UPSTREAM_TLS, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';
import { issueWith, makeCa, type TestCa } from './support/test-pki.ts';

/**
 * A control-plane outage past certificate expiry (issue 20's chaos scenario, in small): both
 * sidecars hold certificates that expired while they could not renew; their connections keep
 * working on resumed TLS sessions (a resumption does not verify the peer certificate again, in
 * Envoy as here). When the CA is back each side renews at its own moment. Renewing one side must
 * not break the sessions both verified: before, the side that renewed first dropped them (the
 * server's new context had new ticket keys; the client's session cache was keyed by every secret
 * change) and every full handshake then failed against the other side's expired certificate
 * (509 failed requests in the chaos run). A change of what a side trusts still drops them.
 */
const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
const INSPECTORS = [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }];
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';

const commonTls = (alpn: string[], san: object) => ({
  alpnProtocols: alpn,
  tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3' },
  tlsCertificateSdsSecretConfigs: [SDS('default')],
  combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [san] }, validationContextSdsSecretConfig: SDS('ROOTCA') },
});

describe('TLS sessions across certificate rotation after expiry', () => {
  let ca: TestCa;
  let server: Harness;
  let client: Harness;
  let app: EchoServer;
  const serverSecrets = new MapSecretProvider();
  const clientSecrets = new MapSecretProvider();
  let port: number;

  const setCert = (p: MapSecretProvider, id: string, lifetimeMs: number): number => {
    const notAfter = Date.now() + lifetimeMs;
    const c = issueWith(ca, { uris: [id], notAfter });
    p.set('default', { kind: 'certificate', certChain: c.certPem, privateKey: c.keyPem });
    return notAfter;
  };

  before(async () => {
    ca = await makeCa('mesh-root');
    for (const p of [serverSecrets, clientSecrets]) p.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    setCert(serverSecrets, SERVER_ID, 86_400_000);
    setCert(clientSecrets, CLIENT_ID, 86_400_000);
    app = await new EchoServer('app').start();
    server = await startHarness({ secrets: serverSecrets });
    await server.push({
      clusters: [staticCluster('inbound|9080||', [['127.0.0.1', app.port]])],
      listeners: [{
        name: 'strict', address: address('0.0.0.0', 15006), listenerFilters: INSPECTORS,
        filterChains: [{
          filterChainMatch: { transportProtocol: 'tls' },
          transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: commonTls(['istio', 'http/1.1'], { prefix: 'spiffe://cluster.local/' }) } },
          filters: [hcm('inbound|9080||')],
        }],
      }],
      routes: [routeConfig('inbound|9080||', [vhost('inbound', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||' })])])],
    });
    client = await startHarness({ secrets: clientSecrets });
    await client.push({
      clusters: [staticCluster('mtls', [['127.0.0.1', server.port('strict')]], {
        // one request per connection: every request is a new handshake (full or resumed)
        maxRequestsPerConnection: { value: 1 },
        transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: 'outbound_.9080_._.server.default.svc.cluster.local', commonTlsContext: commonTls(['istio'], { exact: SERVER_ID }) } },
      })],
      listeners: [httpListener('out', 9080, 'out')],
      routes: [routeConfig('out', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'mtls' })])])],
    });
    port = client.port('out');
  });

  after(async () => {
    await client?.close();
    await server?.close();
    await app?.stop();
  });

  it('keeps resuming verified sessions while one side and then the other renews; a trust change drops them', { timeout: 120_000 }, async () => {
    // certificates that expire in a few seconds (the outage), each side's first handshake while valid
    const expiry = Math.max(setCert(serverSecrets, SERVER_ID, 6000), setCert(clientSecrets, CLIENT_ID, 6000));
    const first = await request(port, { path: '/valid' });
    assert.equal(first.status, 200, `first request while both certificates are valid: ${first.body}`);
    for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/warm' })).status, 200);
    await waitUntil(() => Date.now() > expiry + 500, 'both certificates expired', 20_000);

    // the outage: both expired, sessions resumed
    assert.equal((await request(port, { path: '/both-expired' })).status, 200);

    // the CA is back: the server renews first, the client's certificate is still the expired one
    setCert(serverSecrets, SERVER_ID, 86_400_000);
    for (let i = 0; i < 3; i++) {
      const r = await request(port, { path: '/server-renewed' });
      assert.equal(r.status, 200, `server renewed, client not yet: ${r.body}`);
    }
    // then the client renews
    setCert(clientSecrets, CLIENT_ID, 86_400_000);
    for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/both-renewed' })).status, 200);

    // the other order: both expired again, the client renews first
    const expiry2 = Math.max(setCert(serverSecrets, SERVER_ID, 4000), setCert(clientSecrets, CLIENT_ID, 4000));
    assert.equal((await request(port, { path: '/valid-again' })).status, 200);
    await waitUntil(() => Date.now() > expiry2 + 500, 'both certificates expired again', 20_000);
    setCert(clientSecrets, CLIENT_ID, 86_400_000);
    for (let i = 0; i < 3; i++) {
      const r = await request(port, { path: '/client-renewed' });
      assert.equal(r.status, 200, `client renewed, server not yet: ${r.body}`);
    }
    setCert(serverSecrets, SERVER_ID, 86_400_000);
    assert.equal((await request(port, { path: '/both-renewed-again' })).status, 200);

    // a change of trust is not a rotation: the server stops trusting the mesh root, sessions
    // verified under it are not resumed, the full handshake is refused
    const foreign = await makeCa('foreign-root');
    serverSecrets.set('ROOTCA', { kind: 'validation', trustedCa: foreign.certPem });
    const refused = await request(port, { path: '/trust-changed' });
    assert.equal(refused.status, 503, 'a client the server no longer trusts is refused');
  });
});
