import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionPoolFields, shouldH2Upgrade } from '../../src/control/generate/cluster-traffic-policy.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;
const options = (fields: Obj): Obj => ((fields.typedExtensionProtocolOptions as Obj)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] as Obj);

describe('h2UpgradePolicy and http2KeepAlive → the cluster\'s HTTP/2 options, as istiod', () => {
  it("upgrades as istiod's shouldH2Upgrade: the rule's policy, else MeshConfig's on HTTP ports, never with useClientProtocol", () => {
    assert.equal(shouldH2Upgrade({ http: { h2UpgradePolicy: 'UPGRADE' } }, false, undefined), true, 'a rule upgrades even a sniffed port');
    assert.equal(shouldH2Upgrade({ http: { h2UpgradePolicy: 'DO_NOT_UPGRADE' } }, true, 'UPGRADE'), false);
    assert.equal(shouldH2Upgrade(undefined, true, 'UPGRADE'), true);
    assert.equal(shouldH2Upgrade(undefined, false, 'UPGRADE'), false, 'not a declared HTTP port');
    assert.equal(shouldH2Upgrade({ http: { useClientProtocol: true } }, true, 'UPGRADE'), false);
    const up = connectionPoolFields({ http: { http2KeepAlive: { interval: '30s', timeout: '5s' } } }, false, '10s', true, undefined, true);
    assert.deepEqual(options(up).explicitHttpConfig, { http2ProtocolOptions: { connectionKeepalive: { interval: '30s', timeout: '5s' } } });
    const plain = connectionPoolFields({ http: { http2KeepAlive: { interval: '30s' } } }, false, '10s', false, undefined, false);
    assert.equal(plain.typedExtensionProtocolOptions, undefined, 'an HTTP/1.1 cluster has no HTTP/2 keepalive');
  });
});

describe('HTTP/2 connection keepalive honoured by the proxy (real sockets)', () => {
  let h: Harness;
  let server: http2.Http2Server;
  let relay: net.Server;
  let pings = 0;
  let frozen = false;
  let upstreamClosed = 0;

  before(async () => {
    server = http2.createServer();
    server.on('session', (s) => s.on('ping', () => pings++));
    server.on('stream', (st: http2.ServerHttp2Stream) => {
      st.respond({ ':status': 200 });
      st.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // a TCP relay in front of the server that can stop carrying the server's bytes (PING acks lost)
    relay = net.createServer((down) => {
      const up = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      down.on('data', (d) => up.write(d));
      up.on('data', (d) => { if (!frozen) down.write(d); });
      down.on('close', () => { upstreamClosed++; up.destroy(); });
      up.on('close', () => down.destroy());
      down.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    h = await startHarness();
    const h2 = { explicitHttpConfig: { http2ProtocolOptions: { connectionKeepalive: { interval: { nanos: 100_000_000 }, timeout: { nanos: 400_000_000 } } } } };
    await h.push({
      clusters: [staticCluster('h2', [['127.0.0.1', (relay.address() as net.AddressInfo).port]], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...h2 } } })],
      listeners: [httpListener('web', 0, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'h2' })])])],
    });
  });

  after(async () => {
    await h.close();
    relay.close();
    server.close();
  });

  it('PINGs the upstream connection every interval and closes it when a PING goes unanswered for the timeout', async () => {
    const client = http2.connect(`http://127.0.0.1:${h.port('web')}`);
    client.on('error', () => undefined);
    const status = await new Promise<number>((resolve, reject) => {
      const rq = client.request({ ':path': '/' });
      rq.on('response', (hd) => resolve(Number(hd[':status'])));
      rq.on('error', reject);
      rq.resume();
    });
    assert.equal(status, 200);
    await waitUntil(() => pings >= 8, "eight keepalive PINGs (longer than interval + timeout)", 20_000);
    assert.equal(upstreamClosed, 0, 'answered PINGs keep the connection');
    frozen = true;
    await waitUntil(() => upstreamClosed === 1, 'the proxy closing the connection whose PING went unanswered', 20_000);
    client.close();
  });
});
