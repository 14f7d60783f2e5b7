import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { effectivePolicy, wrapProxyProtocol } from '../../src/control/generate/cluster-traffic-policy.ts';
import { httpListener, route, routeConfig, staticCluster, tcpProxy, vhost, address } from './support/envoy-builders.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import * as tls from 'node:tls';
import { issueWith, makeCa } from './support/test-pki.ts';
import { UPSTREAM_TLS } from './support/envoy-builders.ts';

const PP = 'type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport';
const RAW = { name: 'envoy.transport_sockets.raw_buffer', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } };

/** A TCP server that records what each connection sends first (the PROXY header) and answers HTTP or echoes. */
class HeaderRecorder {
  readonly heads: Buffer[] = [];
  readonly server: net.Server;
  port = 0;
  constructor() {
    this.server = net.createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n', buf[0] === 0x0d ? 16 : 0);
        if (buf.subarray(0, 5).toString() === 'PROXY' && buf.includes('ping')) {
          this.heads.push(buf);
          s.end('pong');
        } else if (end >= 0 && /HTTP\/1\.1/.test(buf.toString('latin1'))) {
          this.heads.push(buf);
          s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
        }
      });
      s.on('error', () => undefined);
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }
}

describe('DestinationRule proxyProtocol → upstream_proxy_protocol transport socket, as istiod', () => {
  it('wraps raw buffer, the TLS socket or every transport_socket_matches socket; rule then subset, not port level', () => {
    const plain: Record<string, unknown> = {};
    wrapProxyProtocol(plain, { version: 'V2' });
    assert.deepEqual(plain.transportSocket, { name: 'envoy.transport_sockets.upstream_proxy_protocol', typedConfig: { '@type': PP, config: { version: 'V2' }, transportSocket: RAW } });
    const tls = { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': 'x' } };
    const matches: Record<string, unknown> = { transportSocketMatches: [{ name: 'tlsMode-istio', match: {}, transportSocket: tls }, { name: 'tlsMode-disabled', match: {}, transportSocket: RAW }] };
    wrapProxyProtocol(matches, {});
    const ms = matches.transportSocketMatches as { transportSocket: { typedConfig: Record<string, unknown> } }[];
    assert.deepEqual(ms.map((m) => m.transportSocket.typedConfig.transportSocket), [tls, RAW]);
    assert.deepEqual(ms[0]!.transportSocket.typedConfig.config, { version: 'V1' });
    assert.equal(matches.transportSocket, undefined);
    assert.deepEqual(effectivePolicy({ proxyProtocol: { version: 'V1' } }, { proxyProtocol: { version: 'V2' } }, 80).proxyProtocol, { version: 'V2' });
  });
});

/** A TLS server behind a PROXY v1 header: reads the header line in the clear, then handshakes on the same socket. */
async function tlsBehindProxyHeader(cert: { certPem: string; keyPem: string }, heads: string[]): Promise<net.Server> {
  const server = net.createServer((raw) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n');
      if (end < 0) return;
      raw.off('data', onData);
      raw.pause();
      heads.push(buf.subarray(0, end + 2).toString());
      raw.unshift(buf.subarray(end + 2));
      const t = new tls.TLSSocket(raw, { isServer: true, cert: cert.certPem, key: cert.keyPem });
      t.on('data', (x: Buffer) => t.end(x.toString().toUpperCase()));
      t.on('error', () => undefined);
    };
    raw.on('data', onData);
    raw.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

describe('upstream PROXY protocol honoured by the proxy (real sockets)', () => {
  let h: Harness;
  let up: HeaderRecorder;
  let tlsServer: net.Server;
  const tlsHeads: string[] = [];

  before(async () => {
    up = await new HeaderRecorder().start();
    h = await startHarness();
    const v1 = staticCluster('v1', [['127.0.0.1', up.port]]);
    wrapProxyProtocol(v1, { version: 'V1' });
    const v2 = staticCluster('v2', [['127.0.0.1', up.port]]);
    wrapProxyProtocol(v2, { version: 'V2' });
    const ca = await makeCa('site-ca');
    tlsServer = await tlsBehindProxyHeader(issueWith(ca, { dns: ['site.example'] }), tlsHeads);
    const overTls = staticCluster('tls', [['127.0.0.1', (tlsServer.address() as net.AddressInfo).port]], {
      transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: 'site.example', commonTlsContext: { validationContext: { trustedCa: { inlineString: ca.certPem }, matchSubjectAltNames: [{ exact: 'site.example' }] } } } },
    });
    wrapProxyProtocol(overTls, { version: 'V1' });
    await h.push({
      clusters: [v1, v2, overTls],
      listeners: [
        { name: 'tcp', address: address('127.0.0.1', 0), filterChains: [{ filters: [tcpProxy('v1')] }] },
        { name: 'tls', address: address('127.0.0.1', 0), filterChains: [{ filters: [tcpProxy('tls')] }] },
        httpListener('web', 0, 'web'),
      ],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'v2' })])])],
    });
  });

  after(async () => {
    await h.close();
    await new Promise<void>((r) => up.server.close(() => r()));
    tlsServer.close();
  });

  it('TLS upstream: the header goes first in the clear, then the TLS handshake on the same connection', async () => {
    const port = h.port('tls');
    const c = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => c.once('connect', r));
    const clientPort = c.localPort!;
    c.write('secret');
    const reply = await new Promise<string>((r) => { let s = ''; c.on('data', (d) => (s += d)); c.on('end', () => r(s)); });
    assert.equal(reply, 'SECRET', 'answered over the TLS session that followed the header');
    assert.deepEqual(tlsHeads, [`PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\n`]);
  });

  it('tcp_proxy: a v1 header with the downstream connection\'s source and destination, then the bytes', async () => {
    const port = h.port('tcp');
    const c = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => c.once('connect', r));
    const clientPort = c.localPort!;
    c.write('ping');
    const reply = await new Promise<string>((r) => { let s = ''; c.on('data', (d) => (s += d)); c.on('end', () => r(s)); });
    assert.equal(reply, 'pong');
    assert.equal(up.heads.at(-1)!.toString(), `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nping`);
  });

  it('HTTP: a v2 binary header (the upstream connection\'s own ends) before the request', async () => {
    const res = await request(h.port('web'), { path: '/' });
    assert.equal(res.status, 200);
    const b = up.heads.at(-1)!;
    assert.deepEqual([...b.subarray(0, 12)], [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
    assert.equal(b[12], 0x21, 'version 2, PROXY command');
    assert.equal(b[13], 0x11, 'TCP over IPv4');
    assert.equal(b.readUInt16BE(14), 12);
    assert.equal([...b.subarray(16, 20)].join('.'), '127.0.0.1');
    assert.equal([...b.subarray(20, 24)].join('.'), '127.0.0.1');
    assert.ok(b.readUInt16BE(24) > 0, 'source port');
    assert.equal(b.readUInt16BE(26), up.port);
    assert.match(b.subarray(28).toString(), /^GET \/ HTTP\/1\.1\r\n/);
  });
});
