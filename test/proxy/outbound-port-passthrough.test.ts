import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { codec, startHarness, type Harness } from './support/proxy-harness.ts';
import { makeCa, issue } from './support/test-pki.ts';

type Obj = Record<string, any>;

/**
 * The outbound port listener as discovery generates it for an HTTP port (`0.0.0.0_9080`, istiod's
 * shape): HTTP seen by http_inspector is routed; TLS (or anything else) to that port passes through
 * untouched on the default chain to PassthroughCluster. No capture here, so PassthroughCluster is
 * pushed as a static cluster standing for the original destination (a TLS server).
 */
describe('outbound port listener: HTTP routed, other protocols passed through', () => {
  let h: Harness;
  let app: http.Server;
  let tlsServer: tls.Server;
  let caPem: string;

  before(async () => {
    const ca = await makeCa('external-ca');
    const cert = await issue(ca, 'spiffe://external.example/app');
    caPem = ca.certPem;
    tlsServer = tls.createServer({ key: cert.keyPem, cert: cert.certPem }, (s) => s.end('tls-origin'));
    app = http.createServer((_req, res) => res.end('routed'));
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const push = pushContext('', [{ name: 'web', vip: '10.96.9.9', ports: [{ port: 9080, protocol: 'HTTP' as const }] }], [{ service: 'web', address: '10.244.9.9' }]);
    const generated = generateAll(proxy({ ip: '10.244.0.5' }), push).listeners.find((l) => l.name === '0.0.0.0_9080')!.resource as Obj;
    assert.equal(generated.defaultFilterChain.filters[0].typedConfig.cluster, 'PassthroughCluster');
    const { object } = protoJsonToObject(codec().typeOfUrl(TYPE_URL.listener), { ...generated, bindToPort: true });
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('PassthroughCluster', [['127.0.0.1', (tlsServer.address() as AddressInfo).port]]), staticCluster('app', [['127.0.0.1', (app.address() as AddressInfo).port]])],
      listeners: [object],
      routes: [routeConfig('9080', [vhost('web', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });

  after(async () => {
    await h.close();
    app.close();
    tlsServer.close();
  });

  it('routes plaintext HTTP through the HCM and its RDS route config', async () => {
    const r = await fetch(`http://127.0.0.1:${h.port('0.0.0.0_9080')}/`);
    assert.equal(await r.text(), 'routed');
  });

  it('passes TLS through to PassthroughCluster untouched (the origin server completes the handshake)', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ port: h.port('0.0.0.0_9080'), host: '127.0.0.1', servername: 'external.example', ca: caPem, checkServerIdentity: () => undefined }, () => undefined);
      let data = '';
      c.on('data', (d) => (data += String(d)));
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    assert.equal(got, 'tls-origin');
  });
});
