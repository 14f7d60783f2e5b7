import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { SourceAddressDestinationMap } from '../../src/data/listener/original-destination.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, tcpProxy, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { KeepAliveConnection } from './support/keep-alive-client.ts';
import { codec, startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa, type TestCa, type TestCert } from './support/test-pki.ts';

type Obj = Record<string, unknown>;

const DRAIN_MS = 1500;
const ALLOW_NOTHING = [{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: { name: 'allow-nothing', namespace: 'default' }, spec: {} }] as ConfigResource<AuthorizationPolicySpec>[];

function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

/** RBAC filters as discovery generates them for `allow-nothing` (HTTP or network). */
function allowNothing(tcp: boolean): Obj[] {
  const r = buildRbac(ALLOW_NOTHING, tcp);
  return rbacFilterList(r).map(asProto);
}

const INSPECTORS = [
  { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
];

/** A chain for connections from one loopback source address. */
function fromSource(ip: string, filters: Obj[], extra: Obj = {}): Obj {
  return { name: `from-${ip}`, filterChainMatch: { sourcePrefixRanges: [{ addressPrefix: ip, prefixLen: { value: 32 } }] }, filters, ...extra };
}

function listener(name: string, chains: Obj[], extra: Obj = {}): Obj {
  return { name, address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', filterChains: chains, ...extra };
}

async function tcpEcho(): Promise<net.Server & { port: number }> {
  const s = net.createServer((c) => c.pipe(c)) as net.Server & { port: number };
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  s.port = (s.address() as net.AddressInfo).port;
  return s;
}

function tcpConnect(port: number): Promise<{ socket: net.Socket; echo(s: string): Promise<string>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      let waiter: ((d: string) => void) | undefined;
      socket.on('data', (d) => waiter?.(d.toString()));
      const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
      resolve({ socket, closed, echo: (s) => new Promise((r) => { waiter = r; socket.write(s); }) });
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

function h2get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':authority': 'test.local' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  });
}

/**
 * Listener updates with Envoy's semantics (issue 12): new connections get the new filter chains
 * at once; warm connections on a changed chain are drained (HTTP/1.1 `connection: close` on the
 * next response, HTTP/2 GOAWAY, TCP closed) within the drain period; unchanged chains keep their
 * connections; RDS changes reach the next request.
 */
describe('listener updates drain connections on changed filter chains', () => {
  let app: EchoServer;
  let echo: net.Server & { port: number };
  let h: Harness | undefined;
  const open: { close(): void }[] = [];

  before(async () => {
    app = await new EchoServer('app').start();
    echo = await tcpEcho();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await h?.close();
    h = undefined;
  });
  after(async () => {
    await app.stop();
    echo.close();
  });

  const clusters = (): Obj[] => [staticCluster('app', [['127.0.0.1', app.port]]), staticCluster('echo', [['127.0.0.1', echo.port]])];
  const routes = (cluster = 'app'): Obj[] => [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster })])])];
  const start = async (listeners: Obj[], withRoutes = true, opts: Parameters<typeof startHarness>[0] = {}): Promise<Harness> => {
    h = await startHarness({ drainDurationMs: DRAIN_MS, ...opts });
    await h.push({ clusters: clusters(), listeners, ...(withRoutes ? { routes: routes() } : {}) });
    return h;
  };
  const keepAlive = async (port: number, localAddress?: string): Promise<KeepAliveConnection> => {
    const c = await KeepAliveConnection.open(port, { localAddress });
    open.push(c);
    return c;
  };

  it('HTTP/1.1: allow-nothing over a warm keep-alive: the next response closes it, the next connection is denied', async () => {
    const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
    const port = hh.port('in');
    const warm = await keepAlive(port);
    assert.equal((await warm.request('/a')).status, 200);
    assert.equal((await warm.request('/b')).headers.connection, undefined, 'kept alive before the change');
    await hh.push({ listeners: [listener('in', [{ filters: [hcm('in', {}, allowNothing(false))] }])] });
    // Envoy: the request that was already on its way is answered by the chain it arrived on, with connection: close
    const last = await warm.request('/c');
    assert.equal(last.headers.connection, 'close');
    await warm.closed;
    const fresh = await keepAlive(port);
    const denied = await fresh.request('/d');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
  });

  it('HTTP/1.1: an idle warm connection on a changed chain is closed when the drain period ends', async () => {
    const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
    const warm = await keepAlive(hh.port('in'));
    assert.equal((await warm.request('/a')).status, 200);
    const changed = Date.now();
    await hh.push({ listeners: [listener('in', [{ filters: [hcm('in', {}, allowNothing(false))] }])] });
    await warm.closed;
    const took = Date.now() - changed;
    assert.ok(took >= DRAIN_MS * 0.9 && took < DRAIN_MS + 5000, `closed after ${took} ms (drain period ${DRAIN_MS} ms)`);
  });

  it('a connection whose filter chain did not change keeps running, untouched, past the drain period', async () => {
    const chains = (bRbac: Obj[]): Obj[] => [fromSource('127.0.0.2', [hcm('in')]), fromSource('127.0.0.3', [hcm('in', {}, bRbac)])];
    const hh = await start([listener('in', chains([]))]);
    const port = hh.port('in');
    const kept = await keepAlive(port, '127.0.0.2');
    const changed = await keepAlive(port, '127.0.0.3');
    assert.equal((await kept.request('/a')).status, 200);
    assert.equal((await changed.request('/a')).status, 200);
    await hh.push({ listeners: [listener('in', chains(allowNothing(false)))] });
    await changed.closed;
    await waitUntil(() => hh.proxy.listeners.chainsDraining === 0, 'the drain to end');
    assert.equal(kept.isClosed, false);
    const r = await kept.request('/b');
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, undefined);
    const other = await keepAlive(port, '127.0.0.3');
    assert.equal((await other.request('/c')).status, 403);
  });

  it('HTTP/1.1: a response in flight during the change carries connection: close', async () => {
    app.behaviour = (req) => (req.url === '/slow' ? { delayMs: 400 } : undefined);
    try {
      const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
      const warm = await keepAlive(hh.port('in'));
      const inFlight = warm.request('/slow');
      await waitUntil(() => app.count > 0, 'the request to reach the app');
      await hh.push({ listeners: [listener('in', [{ filters: [hcm('in', {}, allowNothing(false))] }])] });
      const r = await inFlight;
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, 'close');
      await warm.closed;
    } finally {
      app.behaviour = undefined;
    }
  });

  it('HTTP/2: GOAWAY on a changed chain at once; a new connection gets the new chain', async () => {
    const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
    const url = `http://127.0.0.1:${hh.port('in')}`;
    const warm = http2.connect(url);
    warm.on('error', () => undefined);
    open.push({ close: () => warm.destroy() });
    assert.equal(await h2get(warm, '/a'), 200);
    const goaway = new Promise<void>((r) => warm.once('goaway', () => r()));
    const changed = Date.now();
    await hh.push({ listeners: [listener('in', [{ filters: [hcm('in', {}, allowNothing(false))] }])] });
    await goaway;
    assert.ok(Date.now() - changed < DRAIN_MS, 'GOAWAY is sent when the drain starts, not at its end');
    const fresh = http2.connect(url);
    fresh.on('error', () => undefined);
    open.push({ close: () => fresh.destroy() });
    assert.equal(await h2get(fresh, '/b'), 403);
  });

  it('TCP: a warm connection on a changed chain is closed at the end of the drain period; new ones get the new chain', async () => {
    const tcpListener = (rbac: Obj[]): Obj[] => [listener('tcp', [{ filters: [...rbac, tcpProxy('echo')] }])];
    const hh = await start(tcpListener([]), false);
    const port = hh.port('tcp');
    const warm = await tcpConnect(port);
    open.push({ close: () => warm.socket.destroy() });
    assert.equal(await warm.echo('one'), 'one');
    const changed = Date.now();
    await hh.push({ listeners: tcpListener(allowNothing(true)) });
    assert.equal(await warm.echo('two'), 'two', 'tcp_proxy does not drain: bytes flow until the period ends');
    const closedAt = await warm.closed;
    assert.ok(closedAt - changed >= DRAIN_MS * 0.9, `closed after ${closedAt - changed} ms`);
    const fresh = await tcpConnect(port);
    open.push({ close: () => fresh.socket.destroy() });
    await fresh.closed; // network RBAC allow-nothing closes it
  });

  it('outbound: a captured connection handed to its service listener drains when that listener changes', async () => {
    const od = new SourceAddressDestinationMap();
    od.set('127.0.0.5', { address: '10.96.0.5', port: 9080 });
    const outbound = (accessLog: Obj[]): Obj[] => [
      { name: 'virtualOutbound', address: address('0.0.0.0', 15001), useOriginalDst: { value: true }, filterChains: [{ name: 'PassthroughFilterChain', filters: [tcpProxy('echo')] }] },
      { name: '10.96.0.5_9080', address: address('10.96.0.5', 9080), bindToPort: { value: false }, filterChains: [{ filters: [hcm('in', accessLog.length ? { accessLog } : {})] }] },
    ];
    const hh = await start(outbound([]), true, { originalDestination: od });
    const port = hh.port('virtualOutbound');
    const warm = await keepAlive(port, '127.0.0.5');
    assert.equal((await warm.request('/a')).status, 200);
    const log = [{ name: 'envoy.access_loggers.file', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/dev/null' } }];
    await hh.push({ listeners: outbound(log) });
    assert.equal((await warm.request('/b')).headers.connection, 'close');
    await warm.closed;
    const fresh = await keepAlive(port, '127.0.0.5');
    assert.equal((await fresh.request('/c')).status, 200);
  });

  it('RDS changes reach the next request on a warm connection without draining it', async () => {
    const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
    const warm = await keepAlive(hh.port('in'));
    assert.equal((await warm.request('/a')).body.includes('"server":"app"'), true);
    await hh.push({ routes: [routeConfig('in', [vhost('in', ['*'], [{ match: { prefix: '/' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } }])])] });
    const r = await warm.request('/b');
    assert.equal(r.status, 418);
    assert.equal(r.headers.connection, undefined);
    assert.equal(hh.proxy.listeners.chainsDraining, 0);
  });

  it('a removed listener drains its connections', async () => {
    const hh = await start([listener('in', [{ filters: [hcm('in')] }]), { ...listener('other', [{ filters: [hcm('in')] }]), address: address('0.0.0.0', 15007) }]);
    const warm = await keepAlive(hh.port('in'));
    assert.equal((await warm.request('/a')).status, 200);
    await hh.push({ listeners: [{ ...listener('other', [{ filters: [hcm('in')] }]), address: address('0.0.0.0', 15007) }] });
    assert.equal((await warm.request('/b')).headers.connection, 'close');
    await warm.closed;
  });

  it('telemetry: an access log added to the chain logs the requests of the connections that follow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-drain-log-'));
    try {
      const file = join(dir, 'access.log');
      const accessLog = [{ name: 'envoy.access_loggers.file', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: file, logFormat: { textFormatSource: { inlineString: '%REQ(:PATH)% %RESPONSE_CODE%\n' } } } }];
      const hh = await start([listener('in', [{ filters: [hcm('in')] }])]);
      const warm = await keepAlive(hh.port('in'));
      assert.equal((await warm.request('/before')).status, 200);
      await hh.push({ listeners: [listener('in', [{ filters: [hcm('in', { accessLog })] }])] });
      assert.equal((await warm.request('/last-on-old-chain')).headers.connection, 'close');
      await warm.closed;
      const fresh = await keepAlive(hh.port('in'));
      assert.equal((await fresh.request('/logged')).status, 200);
      await waitUntil(() => { try { return readFileSync(file, 'utf8').includes('/logged 200'); } catch { return false; } }, 'the access log line');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PeerAuthentication STRICT against a plaintext keep-alive opened before it', () => {
  let app: EchoServer;
  let h: Harness;
  let ca: TestCa;
  let client: TestCert;

  const chains = (permissive: boolean): Obj[] => [
    {
      name: 'inbound|9080||', filterChainMatch: { transportProtocol: 'tls' }, filters: [hcm('in')],
      transportSocket: {
        name: 'envoy.transport_sockets.tls',
        typedConfig: {
          '@type': DOWNSTREAM_TLS,
          requireClientCertificate: { value: true },
          commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: 'default' }], combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: { name: 'ROOTCA' } } },
        },
      },
    },
    ...(permissive ? [{ name: 'inbound|9080||-plaintext', filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [hcm('in')] }] : []),
  ];

  before(async () => {
    ca = await makeCa('drain-root');
    const server = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
    client = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
    const secrets = new MapSecretProvider();
    secrets.set('default', { kind: 'certificate', certChain: server.certPem, privateKey: server.keyPem });
    secrets.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    app = await new EchoServer('app').start();
    h = await startHarness({ secrets, drainDurationMs: DRAIN_MS });
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', app.port]])],
      listeners: [listener('in', chains(true), { listenerFilters: INSPECTORS })],
      routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
  });
  after(async () => {
    await h.close();
    await app.stop();
  });

  it('PERMISSIVE -> STRICT: the plaintext connection is closed after its next response, mTLS connections keep running', async () => {
    const port = h.port('in');
    const plain = await KeepAliveConnection.open(port);
    const mtls = await KeepAliveConnection.open(port, { tls: { ca: ca.certPem, cert: client.certPem, key: client.keyPem, rejectUnauthorized: false } });
    try {
      assert.equal((await plain.request('/a')).status, 200);
      assert.equal((await mtls.request('/a')).status, 200);
      await h.push({ listeners: [listener('in', chains(false), { listenerFilters: INSPECTORS })] });
      assert.equal((await plain.request('/b')).headers.connection, 'close');
      await plain.closed;
      // a new plaintext connection matches no chain: closed without an answer
      const again = await KeepAliveConnection.open(port);
      await assert.rejects(again.request('/c'));
      await waitUntil(() => h.proxy.listeners.chainsDraining === 0, 'the drain to end');
      const r = await mtls.request('/d');
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, undefined, 'the mTLS chain did not change');
    } finally {
      plain.close();
      mtls.close();
    }
  });
});
