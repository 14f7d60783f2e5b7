import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { downstreamTls } from '../../src/control/generate/inbound-listeners.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { KeepAliveConnection } from './support/keep-alive-client.ts';
import { codec, startHarness, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa, type TestCa } from './support/test-pki.ts';

type Obj = Record<string, unknown>;

/** The inbound transport socket discovery generates, as the proxy decodes it. */
function generatedTls(trustDomains: string[]): Obj {
  const ts = downstreamTls(true, trustDomains);
  const { '@type': type, ...body } = ts.typedConfig as Obj;
  return { name: ts.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

/** Inbound mTLS admits peers of the mesh's trust domain and its aliases only, even when a foreign identity is signed by the same root. */
describe('inbound trust domain check', () => {
  let h: Harness;
  let app: EchoServer;
  let ca: TestCa;

  before(async () => {
    ca = await makeCa('td-root');
    const server = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
    const secrets = new MapSecretProvider();
    secrets.set('default', { kind: 'certificate', certChain: server.certPem, privateKey: server.keyPem });
    secrets.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    app = await new EchoServer('app').start();
    h = await startHarness({ secrets });
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [
        { name: 'mesh', address: address('0.0.0.0', 15006), filterChains: [{ transportSocket: generatedTls(['cluster.local']), filters: [hcm('in')] }] },
        { name: 'aliases', address: address('0.0.0.0', 15007), filterChains: [{ transportSocket: generatedTls(['cluster.local', 'old.td']), filters: [hcm('in')] }] },
      ],
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });
  after(async () => {
    await h.close();
    await app.stop();
  });

  const call = async (listener: string, spiffe: string): Promise<number> => {
    const cert = await issue(ca, spiffe);
    const c = await KeepAliveConnection.open(h.port(listener), { tls: { ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, rejectUnauthorized: false } }).catch(() => undefined);
    if (!c) return 0;
    try {
      return (await c.request('/')).status;
    } catch {
      return 0;
    } finally {
      c.close();
    }
  };

  it("accepts the mesh's trust domain", async () => {
    assert.equal(await call('mesh', 'spiffe://cluster.local/ns/default/sa/client'), 200);
  });

  it('refuses another trust domain signed by the same root', async () => {
    assert.equal(await call('mesh', 'spiffe://evil.example/ns/default/sa/client'), 0);
    assert.equal(await call('mesh', 'spiffe://cluster.local.evil/ns/default/sa/client'), 0);
  });

  it('accepts a configured trust domain alias', async () => {
    assert.equal(await call('aliases', 'spiffe://old.td/ns/default/sa/client'), 200);
    assert.equal(await call('aliases', 'spiffe://other.td/ns/default/sa/client'), 0);
  });
});
