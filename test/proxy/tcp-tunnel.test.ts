import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { address, staticCluster } from './support/envoy-builders.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;
const PROXY_HOST = 'egress-proxy.default.svc.cluster.local';

/** Istio's DestinationRule tunnel (the rule's CONNECT, the subset's POST) and a TCP VirtualService to the subset. */
const config = (targetPort: number): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egress-proxy, namespace: default }
spec:
  host: ${PROXY_HOST}
  trafficPolicy:
    tunnel: { protocol: CONNECT, targetHost: 127.0.0.1, targetPort: ${targetPort} }
  subsets:
  - name: post
    labels: { tunnel: post }
    trafficPolicy:
      tunnel: { protocol: POST, targetHost: "::1", targetPort: ${targetPort} }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: via-post, namespace: default }
spec:
  hosts: [db.default.svc.cluster.local]
  tcp:
  - route: [{ destination: { host: ${PROXY_HOST}, subset: post, port: { number: 3128 } } }]
`;

/** The tcp_proxy config of the outbound listener of a service VIP and port. */
function tcpProxyOf(listeners: readonly { name: string; resource: Obj }[], name: string): Obj {
  const l = listeners.find((r) => r.name === name)!.resource as { filterChains: { filters: { typedConfig: Obj }[] }[] };
  return l.filterChains[0]!.filters.at(-1)!.typedConfig;
}

function generated(targetPort: number): { connect: Obj; post: Obj } {
  const services = [
    { name: 'egress-proxy', vip: '10.96.0.50', ports: [{ port: 3128, protocol: 'TCP' as const }] },
    { name: 'db', vip: '10.96.0.60', ports: [{ port: 5432, protocol: 'TCP' as const }] },
  ];
  const { listeners } = generateAll(proxy({}), pushContext(config(targetPort), services));
  return { connect: tcpProxyOf(listeners, '10.96.0.50_3128'), post: tcpProxyOf(listeners, '10.96.0.60_5432') };
}

/** A TCP echo server that answers each connection's bytes upper-cased and reports who connected. */
async function echoServer(): Promise<net.Server> {
  const s = net.createServer((c) => c.on('data', (d) => c.write(d.toString().toUpperCase())).on('end', () => c.end()).on('error', () => undefined));
  await new Promise<void>((r) => s.listen(0, '::', r));
  return s;
}

/**
 * Stand-in for Envoy terminating tunnels (what istio's egress gateways do; no such third-party
 * server is on this machine): HTTP/1.1 POST with the stream as the chunked body, and HTTP/2
 * CONNECT; each connects to the request's host:port.
 */
function terminator(): { h1: http.Server; h2: http2.Http2Server; posts: string[] } {
  const posts: string[] = [];
  const hostPort = (a: string): [string, number] => { const i = a.lastIndexOf(':'); return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))]; };
  const h1 = http.createServer((req, res) => {
    posts.push(`${req.method} ${req.url} ${req.headers.host} ${req.headers['transfer-encoding']}`);
    const [h, p] = hostPort(req.headers.host ?? '');
    const up = net.connect(p, h, () => {
      res.writeHead(200);
      res.flushHeaders();
      req.pipe(up);
      up.pipe(res);
    });
    up.on('error', () => res.destroy());
  });
  const h2 = http2.createServer();
  h2.on('stream', (st: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    posts.push(`${headers[':method']} ${headers[':authority']}`);
    const [h, p] = hostPort(String(headers[':authority']));
    const up = net.connect(p, h, () => {
      st.respond({ ':status': 200 });
      st.pipe(up);
      up.pipe(st);
    });
    up.on('error', () => st.destroy());
  });
  return { h1, h2, posts };
}

/** Writes `text` and reads the echo (the connection kept open: tinyproxy ends a tunnel on the client's FIN); '' when the proxy closes it. */
async function roundTrip(port: number, text: string): Promise<string> {
  const c = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => c.once('connect', r).once('error', j));
  c.write(text);
  return await new Promise<string>((resolve) => {
    let s = '';
    c.on('data', (d) => {
      s += d;
      if (s.length >= text.length) {
        c.end();
        resolve(s);
      }
    });
    c.on('close', () => resolve(s));
    c.on('error', () => undefined);
  });
}

const listen = (s: net.Server | http2.Http2Server): Promise<number> => new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));

describe('DestinationRule tunnel → tcp_proxy tunneling_config, as istiod', () => {
  it("sets hostname TARGET:PORT from the rule, or from the subset a route names; POST as use_post", () => {
    const { connect, post } = generated(9000);
    assert.deepEqual(connect.tunnelingConfig, { hostname: '127.0.0.1:9000' });
    assert.equal(connect.cluster, `outbound|3128||${PROXY_HOST}`);
    assert.deepEqual(post.tunnelingConfig, { hostname: '[::1]:9000', usePost: true });
    assert.equal(post.cluster, `outbound|3128|post|${PROXY_HOST}`);
  });
});

const tinyproxy = spawnSync('tinyproxy', ['-v']).status === 0;

describe('tcp_proxy tunnelling honoured by the proxy (real sockets)', () => {
  let h: Harness;
  let echo: net.Server;
  let tiny: ChildProcess | undefined;
  let dir: string;
  const term = terminator();
  let ports: { tiny: number; h1: number; h2: number };

  before(async () => {
    echo = await echoServer();
    const echoPort = (echo.address() as net.AddressInfo).port;
    ports = { tiny: 0, h1: await listen(term.h1), h2: await listen(term.h2) };
    dir = mkdtempSync(join(tmpdir(), 'mizzen-tunnel-'));
    if (tinyproxy) {
      // a free port for tinyproxy: taken from the kernel, then handed over
      const probe = net.createServer();
      ports.tiny = await listen(probe);
      await new Promise<void>((r) => probe.close(() => r()));
      writeFileSync(join(dir, 'tinyproxy.conf'), `Port ${ports.tiny}\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 10\nLogLevel Connect\nLogFile "${join(dir, 'tinyproxy.log')}"\n`);
      tiny = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
      for (let i = 0; i < 400; i++) {
        const up = await new Promise<boolean>((r) => net.connect(ports.tiny, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
        if (up) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    const { connect, post } = generated(echoPort);
    h = await startHarness();
    const h2Options = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } };
    const tcp = (name: string, tc: Obj): Obj => ({ name, address: address('127.0.0.1', 0), filterChains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: tc }] }] });
    await h.push({
      clusters: [
        staticCluster(String(connect.cluster), [['127.0.0.1', ports.tiny || ports.h1]]),
        staticCluster(String(post.cluster), [['127.0.0.1', ports.h1]]),
        staticCluster('h2-terminator', [['127.0.0.1', ports.h2]], h2Options),
      ],
      listeners: [tcp('connect', connect), tcp('post', post), tcp('h2', { ...connect, statPrefix: 'h2', cluster: 'h2-terminator' })],
    });
  });

  after(async () => {
    await h?.close();
    tiny?.kill();
    echo.close();
    term.h1.close();
    term.h2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('HTTP/1.1 CONNECT through tinyproxy to the target host and port', { skip: tinyproxy ? false : 'tinyproxy is not installed (Debian tinyproxy-bin; .ci/run installs it)' }, async () => {
    assert.equal(await roundTrip(h.port('connect'), 'hello through a proxy'), 'HELLO THROUGH A PROXY');
  });

  it('HTTP/1.1 POST (the stream as a chunked body) and HTTP/2 CONNECT', async () => {
    assert.equal(await roundTrip(h.port('post'), 'posted'), 'POSTED');
    assert.ok(term.posts.includes('POST / [::1]:' + (echo.address() as net.AddressInfo).port + ' chunked'), term.posts.join('\n'));
    assert.equal(await roundTrip(h.port('h2'), 'over h2'), 'OVER H2');
    assert.ok(term.posts.includes(`CONNECT 127.0.0.1:${(echo.address() as net.AddressInfo).port}`), term.posts.join('\n'));
  });

  it('closes the downstream connection when the proxy refuses the tunnel', async () => {
    // tinyproxy (or the terminator) cannot reach a closed port: no 2xx, nothing relayed
    const closed = net.createServer();
    const dead = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const { connect } = generated(dead);
    await h.push({ listeners: [{ name: 'refused', address: address('127.0.0.1', 0), filterChains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: connect }] }] }] });
    assert.equal(await roundTrip(h.port('refused'), 'x'), '');
  });
});
