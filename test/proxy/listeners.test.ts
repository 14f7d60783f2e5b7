import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SourceAddressDestinationMap } from '../../src/data/listener/original-destination.ts';
import { address, hcm, route, routeConfig, staticCluster, tcpProxy, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

/** A TCP server that answers every chunk with `NAME:chunk`. */
async function tcpEcho(name: string): Promise<net.Server & { port: number }> {
  const s = net.createServer((c) => c.on('data', (d) => c.write(`${name}:${d}`))) as net.Server & { port: number };
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  s.port = (s.address() as net.AddressInfo).port;
  return s;
}

function tcpRoundTrip(port: number, payload: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', localAddress }, () => c.write(payload));
    c.once('data', (d) => {
      resolve(String(d));
      c.destroy();
    });
    c.on('error', reject);
  });
}

const INSPECTORS = [
  { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
  { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } },
];

describe('listeners: original destination dispatch, sniffing, tcp_proxy', () => {
  let h: Harness;
  let app: EchoServer;
  let passthrough: EchoServer;
  let tcpA: net.Server & { port: number };
  let tcpB: net.Server & { port: number };
  const od = new SourceAddressDestinationMap();
  let outbound: number;
  let sniffed: number;

  before(async () => {
    app = await new EchoServer('app').start();
    passthrough = await new EchoServer('passthrough').start();
    tcpA = await tcpEcho('a');
    tcpB = await tcpEcho('b');
    od.set('127.0.0.2', { address: '10.96.0.5', port: 9080 });
    od.set('127.0.0.3', { address: '10.96.0.6', port: 3306 });
    od.set('127.0.0.4', { address: '127.0.0.1', port: passthrough.port });
    od.set('127.0.0.6', { address: '10.244.0.9', port: 9090 });
    h = await startHarness({ originalDestination: od });
    await h.push({
      clusters: [
        staticCluster('app', [['127.0.0.1', app.port]]),
        staticCluster('tcp-a', [['127.0.0.1', tcpA.port]]),
        staticCluster('tcp-b', [['127.0.0.1', tcpB.port]]),
        { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 1 } },
      ],
      listeners: [
        {
          name: 'virtualOutbound', address: address('0.0.0.0', 15001), useOriginalDst: { value: true },
          filterChains: [{ name: 'PassthroughFilterChain', filters: [tcpProxy('PassthroughCluster')] }],
        },
        { name: '10.96.0.5_9080', address: address('10.96.0.5', 9080), bindToPort: { value: false }, filterChains: [{ filters: [hcm('9080')] }] },
        { name: '0.0.0.0_3306', address: address('0.0.0.0', 3306), bindToPort: { value: false }, filterChains: [{ filters: [tcpProxy([{ name: 'tcp-a', weight: 100 }, { name: 'tcp-b', weight: 0 }])] }] },
        {
          name: 'virtualInbound', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND',
          listenerFilters: [{ name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
          filterChains: [
            { filterChainMatch: { destinationPort: { value: 9080 } }, filters: [tcpProxy('tcp-a')] },
            { filterChainMatch: { destinationPort: { value: 9090 } }, filters: [tcpProxy('tcp-b')] },
          ],
        },
        {
          name: 'sniffing', address: address('0.0.0.0', 8000), listenerFilters: INSPECTORS,
          filterChains: [
            { filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] }, filters: [hcm('9080')] },
            { filterChainMatch: {}, filters: [tcpProxy('tcp-b')] },
          ],
        },
      ],
      routes: [routeConfig('9080', [vhost('app', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
    outbound = h.port('virtualOutbound');
    sniffed = h.port('sniffing');
  });

  after(async () => {
    await h.close();
    await app.stop();
    await passthrough.stop();
    tcpA.close();
    tcpB.close();
  });

  it('hands captured connections to the listener of their original destination', async () => {
    const r = await request(outbound, { path: '/x', localAddress: '127.0.0.2', headers: { host: 'reviews:9080' } });
    assert.equal(r.json<EchoReply>().server, 'app');
    assert.equal(await tcpRoundTrip(outbound, 'ping', '127.0.0.3'), 'a:ping');
  });

  it('passes unknown destinations through to the original destination (PassthroughCluster)', async () => {
    const r = await request(outbound, { path: '/direct', localAddress: '127.0.0.4' });
    assert.equal(r.json<EchoReply>().server, 'passthrough');
  });

  it('matches inbound filter chains on the captured destination port (original_dst listener filter)', async () => {
    assert.equal(await tcpRoundTrip(h.port('virtualInbound'), 'in', '127.0.0.6'), 'b:in');
  });

  it('sniffs HTTP/1.1 to the HTTP chain and anything else to the TCP chain', async () => {
    assert.equal((await request(sniffed, { path: '/' })).json<EchoReply>().server, 'app');
    assert.equal(await tcpRoundTrip(sniffed, '\x00\x01binary'), 'b:\x00\x01binary');
  });
});
