import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { SourceAddressDestinationMap } from '../../src/data/listener/original-destination.ts';
import { compileCluster } from '../../src/data/upstream/cluster-config.ts';
import { ResourceRejection } from '../../src/data/xds-client/resource-rejection.ts';
import { address, hcm, route, routeConfig, tcpProxy, vhost } from './support/envoy-builders.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

/** A TCP server that answers every connection with the peer address it sees. */
async function peerReporter(): Promise<net.Server & { port: number }> {
  const s = net.createServer((c) => c.end(c.remoteAddress ?? '')) as net.Server & { port: number };
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  s.port = (s.address() as net.AddressInfo).port;
  return s;
}

function peerVia(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', localAddress });
    let out = '';
    c.on('data', (d) => (out += String(d)));
    c.once('end', () => resolve(out));
    c.on('error', reject);
  });
}

const ORIGINAL_DST_FILTER = { name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } };
const BIND = { sourceAddress: { address: '127.0.0.6', portValue: 0 } };

describe('upstream_bind_config', () => {
  let h: Harness;
  let tcpApp: net.Server & { port: number };
  let httpApp: http.Server & { port: number };
  let h2App: http2.Http2Server & { port: number };
  const od = new SourceAddressDestinationMap();

  const clusters = (bind: object | undefined) => [
    { name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 1 }, ...(bind ? { upstreamBindConfig: bind } : {}) },
    {
      name: 'h2-passthrough', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 1 }, ...(bind ? { upstreamBindConfig: bind } : {}),
      typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', useDownstreamProtocolConfig: { http2ProtocolOptions: {} } } },
    },
  ];

  before(async () => {
    tcpApp = await peerReporter();
    httpApp = http.createServer((req, res) => res.end(req.socket.remoteAddress ?? '')) as http.Server & { port: number };
    await new Promise<void>((r) => httpApp.listen(0, '127.0.0.1', r));
    httpApp.port = (httpApp.address() as net.AddressInfo).port;
    h2App = http2.createServer((req, res) => res.end(req.socket.remoteAddress ?? '')) as http2.Http2Server & { port: number };
    await new Promise<void>((r) => h2App.listen(0, '127.0.0.1', r));
    h2App.port = (h2App.address() as net.AddressInfo).port;
    od.set('127.0.0.23', { address: '127.0.0.1', port: h2App.port });
    // Captured inbound connections (client source → original destination, as SO_ORIGINAL_DST would say).
    od.set('127.0.0.21', { address: '127.0.0.1', port: tcpApp.port });
    od.set('127.0.0.22', { address: '127.0.0.1', port: httpApp.port });
    h = await startHarness({ originalDestination: od });
    await h.push({
      clusters: clusters(BIND),
      listeners: [
        {
          name: 'virtualInbound', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND',
          listenerFilters: [ORIGINAL_DST_FILTER],
          filterChains: [
            { filterChainMatch: { destinationPort: { value: httpApp.port } }, filters: [hcm('passthrough-http')] },
            { filterChainMatch: { destinationPort: { value: h2App.port } }, filters: [hcm('passthrough-h2')] },
            { name: 'virtualInbound-catchall-plaintext', filters: [tcpProxy('InboundPassthroughCluster')] },
          ],
        },
      ],
      routes: [
        routeConfig('passthrough-http', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'InboundPassthroughCluster' })])]),
        routeConfig('passthrough-h2', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'h2-passthrough' })])]),
      ],
    });
  });

  after(async () => {
    await h.close();
    tcpApp.close();
    httpApp.close();
    h2App.close();
  });

  it('binds tcp_proxy upstream sockets of the cluster to the source address (Istio\'s 127.0.0.6 inbound passthrough)', async () => {
    assert.equal(await peerVia(h.port('virtualInbound'), '127.0.0.21'), '127.0.0.6');
  });

  it('binds pooled HTTP upstream connections too', async () => {
    const r = await request(h.port('virtualInbound'), { path: '/', localAddress: '127.0.0.22' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '127.0.0.6');
  });

  const h2Get = async (localAddress: string): Promise<{ status: number; body: string }> => {
    const port = h.port('virtualInbound');
    const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress }) });
    try {
      return await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/h2' });
        let status = 0;
        let body = '';
        req.on('response', (hd) => (status = Number(hd[':status'])));
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end();
      });
    } finally {
      session.close();
    }
  };

  it('sends HTTP/2 (h2c) streams on ORIGINAL_DST clusters to the original destination, bound as well (HTTP/1.1 and HTTP/2 upstreams)', async () => {
    for (const [local, upstream] of [['127.0.0.22', 'HTTP/1.1'], ['127.0.0.23', 'HTTP/2']]) {
      const r = await h2Get(local!);
      assert.equal(r.status, 200, `${upstream} upstream: ${r.body}`);
      assert.equal(r.body, '127.0.0.6', `${upstream} upstream`);
    }
  });

  it('follows a cluster update that removes the bind', async () => {
    await h.push({ clusters: clusters(undefined) });
    assert.equal(await peerVia(h.port('virtualInbound'), '127.0.0.21'), '127.0.0.1');
    const r = await request(h.port('virtualInbound'), { path: '/', localAddress: '127.0.0.22' });
    assert.equal(r.body, '127.0.0.1', 'pooled connections bound to the old source were drained');
    await h.push({ clusters: clusters(BIND) });
    assert.equal(await peerVia(h.port('virtualInbound'), '127.0.0.21'), '127.0.0.6');
  });

  it('NACKs a bind the proxy cannot honour, naming the field, and keeps the previous cluster', async () => {
    const before = h.ads.acks.length;
    h.ads.set(TYPE_URL.cluster, clusters({ sourceAddress: { address: 'localhost', portValue: 0 } }));
    await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.cluster)?.error !== undefined, 'cluster NACK');
    assert.match(h.ads.last(TYPE_URL.cluster)!.error!, /Cluster InboundPassthroughCluster\.upstreamBindConfig\.sourceAddress\.address: source address must be an IP literal/);
    assert.equal(await peerVia(h.port('virtualInbound'), '127.0.0.21'), '127.0.0.6');
  });
});

describe('compileCluster upstreamBindConfig', () => {
  const base = { name: 'c', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' };
  it('takes the source address per family from source_address and extra_source_addresses', () => {
    const c = compileCluster({ ...base, upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 }, extraSourceAddresses: [{ address: { address: '::6', portValue: 0 } }] } });
    assert.deepEqual(c.bind, { v4: { address: '127.0.0.6', port: 0 }, v6: { address: '::6', port: 0 } });
    assert.equal(compileCluster(base).bind, undefined);
  });

  it('rejects freebind, socket options and two addresses of one family', () => {
    const bad = (bind: object) => () => compileCluster({ ...base, upstreamBindConfig: bind });
    assert.throws(bad({ sourceAddress: { address: '127.0.0.6' }, freebind: { value: true } }), (e: Error) => e instanceof ResourceRejection && /freebind/.test(e.message));
    assert.throws(bad({ sourceAddress: { address: '127.0.0.6' }, socketOptions: [{ level: 1, name: 2, intValue: 1 }] }), ResourceRejection);
    assert.throws(bad({ sourceAddress: { address: '127.0.0.6' }, extraSourceAddresses: [{ address: { address: '127.0.0.7' } }] }), /at most one source address per IP family/);
    assert.throws(bad({ freebind: { value: false } }), /source_address is required/);
  });
});
