import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { tryParseMeshConfig, type PathNormalizationType } from '../../src/control/config/mesh-config.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { address, staticCluster } from '../proxy/support/envoy-builders.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { exchange } from '../proxy/support/raw-http.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * End to end through real sockets: meshConfig.pathNormalization and an AuthorizationPolicy go
 * through discovery's generators (as istiod translates them) and the wire encoding into a proxy;
 * requests with encoded, dotted and doubled paths must meet the DENY on /admin, /admin/* and reach
 * the app with the path Envoy would forward, over HTTP/1.1 and HTTP/2, on the sidecar's inbound
 * and outbound listeners and on a gateway.
 */
type Mode = Exclude<PathNormalizationType, 'DEFAULT'>;
const MODES: Mode[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

const SERVICES = [
  { name: 'app', vip: '10.96.0.10', ports: [{ port: 9080 }] },
  { name: 'admin', vip: '10.96.0.11', ports: [{ port: 9080 }] },
];
const ENDPOINTS = [
  { service: 'app', address: '10.244.0.10', labels: { app: 'app' }, serviceAccount: 'app' },
  { service: 'admin', address: '10.244.0.11', labels: { app: 'admin' }, serviceAccount: 'admin' },
];
const CONFIG = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: app } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin", "/admin/*"] } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app, namespace: default }
spec:
  hosts: [app]
  http:
  - match: [{ uri: { prefix: /admin } }]
    route: [{ destination: { host: admin } }]
  - route: [{ destination: { host: app } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*/app.example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app-gw, namespace: default }
spec:
  hosts: [app.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{ uri: { prefix: /admin } }]
    route: [{ destination: { host: admin.default.svc.cluster.local } }]
  - route: [{ destination: { host: app.default.svc.cluster.local } }]
`;

const APP = 'outbound|9080||app.default.svc.cluster.local';
const ADMIN = 'outbound|9080||admin.default.svc.cluster.local';

function generated(mode: PathNormalizationType, p: ReturnType<typeof proxy>) {
  const mesh = tryParseMeshConfig(`pathNormalization:\n  normalization: ${mode}\n`);
  assert.ok(mesh.ok);
  return generateAll(p, pushContext(CONFIG, SERVICES, ENDPOINTS, { pathNormalization: mesh.config.pathNormalization }));
}

const hcmOf = (chain: Obj): Obj => chain.filters.find((f: Obj) => f.name === 'envoy.filters.network.http_connection_manager');

/** The app's inbound HCM (plaintext chain of port 9080) as generated, its inline route sent to the echo app. */
function inboundHcm(mode: PathNormalizationType): Obj {
  const res = generated(mode, proxy({ ip: '10.244.0.10', labels: { app: 'app' }, serviceAccount: 'app', pod: 'app-0' }));
  const vi = res.listeners.find((l) => (l.resource as Obj).name === 'virtualInbound')!.resource as Obj;
  const chain = (vi.filterChains as Obj[]).find((c) => c.filterChainMatch?.destinationPort === 9080 && hcmOf(c) && c.transportSocket === undefined);
  assert.ok(chain, 'a plaintext HTTP chain for 9080');
  const h = structuredClone(hcmOf(chain));
  for (const vh of h.typedConfig.routeConfig.virtualHosts) for (const r of vh.routes) r.route.cluster = 'echo-app';
  return h;
}

/** The HCM of a generated listener (outbound 0.0.0.0_9080 for a sidecar, 0.0.0.0_8080 for the gateway). */
function listenerHcm(mode: PathNormalizationType, p: ReturnType<typeof proxy>, name: string): { hcm: Obj; routes: Obj[] } {
  const res = generated(mode, p);
  const l = res.listeners.find((x) => (x.resource as Obj).name === name)!.resource as Obj;
  return { hcm: hcmOf((l.filterChains as Obj[])[0]), routes: res.routes.map((r) => r.resource as Obj) };
}

function asListener(name: string, port: number, hcm: Obj, direction: string): Obj {
  const l = { name, address: address('0.0.0.0', port), trafficDirection: direction, filterChains: [{ filters: [hcm] }] };
  return protoJsonToObject(codec().typeOfUrl(TYPE_URL.listener), l).object as Obj;
}

interface Answer {
  status: number;
  server?: string;
  url?: string;
}

/** One HTTP/1.1 request with the request target sent byte for byte. */
async function h1(port: number, target: string, host: string): Promise<Answer> {
  const r = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  if (r.status !== 200) return { status: r.status };
  const e = JSON.parse(r.body) as EchoReply;
  return { status: 200, server: e.server, url: e.url };
}

/** The same over HTTP/2 (h2c prior knowledge), :path as given. */
function h2(session: http2.ClientHttp2Session, path: string, authority: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ':path': path, ':authority': authority });
    let status = 0;
    let body = '';
    st.on('response', (h) => (status = Number(h[':status'])));
    st.setEncoding('utf8');
    st.on('data', (d: string) => (body += d));
    st.on('error', reject);
    st.on('end', () => {
      if (status === 200) {
        const e = JSON.parse(body) as EchoReply;
        resolve({ status, server: e.server, url: e.url });
      } else resolve({ status });
    });
  });
}

const show = (a: Answer): string => (a.status === 200 ? `200 ${a.server} ${a.url}` : String(a.status));

/** Expected answers: the status, and for 200 which app got which path. */
const INBOUND: Record<string, Record<Mode, string>> = {
  '/admin': { NONE: '403', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/admin/x': { NONE: '403', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/%61dmin': { NONE: '200 app /%61dmin', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/./admin': { NONE: '200 app /./admin', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/x/../admin': { NONE: '200 app /x/../admin', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/%2e%2E/admin/%2E/y': { NONE: '200 app /%2e%2E/admin/%2E/y', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/x\\..\\admin': { NONE: '200 app /x\\..\\admin', BASE: '403', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '//admin': { NONE: '200 app //admin', BASE: '200 app //admin', MERGE_SLASHES: '403', DECODE_AND_MERGE_SLASHES: '403' },
  '/admin%2Fx': { NONE: '200 app /admin%2Fx', BASE: '200 app /admin%2Fx', MERGE_SLASHES: '200 app /admin%2Fx', DECODE_AND_MERGE_SLASHES: '403' },
  '/Admin': { NONE: '200 app /Admin', BASE: '200 app /Admin', MERGE_SLASHES: '200 app /Admin', DECODE_AND_MERGE_SLASHES: '200 app /Admin' },
  '/a/./b/../%63?q=/../x#frag': { NONE: '200 app /a/./b/../%63?q=/../x', BASE: '200 app /a/c?q=/../x', MERGE_SLASHES: '200 app /a/c?q=/../x', DECODE_AND_MERGE_SLASHES: '200 app /a/c?q=/../x' },
  '/admin%00': { NONE: '200 app /admin%00', BASE: '400', MERGE_SLASHES: '400', DECODE_AND_MERGE_SLASHES: '400' },
};

/** Outbound and gateway: routing (prefix /admin → the admin service) sees the normalized path. */
const ROUTED: Record<string, Record<Mode, string>> = {
  '/%61dmin/x': { NONE: '200 app /%61dmin/x', BASE: '200 admin /admin/x', MERGE_SLASHES: '200 admin /admin/x', DECODE_AND_MERGE_SLASHES: '200 admin /admin/x' },
  '/x/../admin': { NONE: '200 app /x/../admin', BASE: '200 admin /admin', MERGE_SLASHES: '200 admin /admin', DECODE_AND_MERGE_SLASHES: '200 admin /admin' },
  '//admin': { NONE: '200 app //admin', BASE: '200 app //admin', MERGE_SLASHES: '200 admin /admin', DECODE_AND_MERGE_SLASHES: '200 admin /admin' },
  '/x/..%2Fadmin': { NONE: '200 app /x/..%2Fadmin', BASE: '200 app /x/..%2Fadmin', MERGE_SLASHES: '200 app /x/..%2Fadmin', DECODE_AND_MERGE_SLASHES: '200 admin /admin' },
};

describe('path normalization before routing and RBAC (meshConfig.pathNormalization, end to end)', () => {
  let h: Harness;
  let app: EchoServer;
  let adminApp: EchoServer;
  const ports: Record<string, number> = {};
  const sessions: http2.ClientHttp2Session[] = [];

  before(async () => {
    app = await new EchoServer('app').start();
    adminApp = await new EchoServer('admin').start();
    h = await startHarness();
    const listeners: Obj[] = [];
    const routes: Obj[] = [];
    const sidecar = proxy({ ip: '10.244.0.99', labels: { app: 'client' }, serviceAccount: 'client', pod: 'client-0' });
    const gateway = proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' });
    MODES.forEach((mode, i) => {
      listeners.push(asListener(`in-${mode}`, 15100 + i, inboundHcm(mode), 'INBOUND'));
      // each mode's outbound/gateway HCM reads its own copy of the generated route configuration
      for (const [kind, p, name, routeName] of [['out', sidecar, '0.0.0.0_9080', '9080'], ['gw', gateway, '0.0.0.0_8080', 'http.8080']] as const) {
        const { hcm, routes: rs } = listenerHcm(mode, p, name);
        const rc = structuredClone(rs.find((r) => r.name === routeName)!);
        rc.name = `${kind}-${mode}`;
        hcm.typedConfig.rds.routeConfigName = rc.name;
        routes.push(protoJsonToObject(codec().typeOfUrl(TYPE_URL.route), rc).object as Obj);
        listeners.push(asListener(`${kind}-${mode}`, kind === 'out' ? 15110 + i : 15120 + i, hcm, 'OUTBOUND'));
      }
    });
    await h.push({
      clusters: [staticCluster('echo-app', [['127.0.0.1', app.port]]), staticCluster(APP, [['127.0.0.1', app.port]]), staticCluster(ADMIN, [['127.0.0.1', adminApp.port]])],
      listeners,
      routes,
    });
    for (const mode of MODES) for (const kind of ['in', 'out', 'gw']) ports[`${kind}-${mode}`] = h.port(`${kind}-${mode}`);
  });

  after(async () => {
    for (const s of sessions) s.close();
    await h.close();
    await app.stop();
    await adminApp.stop();
  });

  it('generates the HCM fields istiod generates for each mode', () => {
    const fields = (mode: PathNormalizationType) => {
      const t = inboundHcm(mode).typedConfig;
      return { normalizePath: t.normalizePath, mergeSlashes: t.mergeSlashes, action: t.pathWithEscapedSlashesAction };
    };
    assert.deepEqual(fields('NONE'), { normalizePath: false, mergeSlashes: undefined, action: 'KEEP_UNCHANGED' });
    assert.deepEqual(fields('BASE'), { normalizePath: true, mergeSlashes: undefined, action: 'KEEP_UNCHANGED' });
    assert.deepEqual(fields('MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, action: 'KEEP_UNCHANGED' });
    assert.deepEqual(fields('DECODE_AND_MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, action: 'UNESCAPE_AND_FORWARD' });
  });

  for (const proto of ['HTTP/1.1', 'HTTP/2'] as const) {
    it(`answers a DENY on /admin, /admin/* on the inbound listener with Istio's answers per mode (${proto})`, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const mode of MODES) {
        const port = ports[`in-${mode}`];
        let session: http2.ClientHttp2Session | undefined;
        if (proto === 'HTTP/2') {
          session = http2.connect(`http://127.0.0.1:${port}`);
          sessions.push(session);
        }
        for (const [path, answers] of Object.entries(INBOUND)) {
          const a = session ? await h2(session, path, 'app') : await h1(port, path, 'app');
          got.push(`${mode} ${path} -> ${show(a)}`);
          want.push(`${mode} ${path} -> ${answers[mode]}`);
        }
      }
      assert.deepEqual(got, want);
    });
  }

  for (const [kind, host] of [['out', 'app'], ['gw', 'app.example.com']] as const) {
    it(`routes on the normalized path and forwards it upstream (${kind === 'out' ? 'sidecar outbound' : 'gateway'}, HTTP/1.1 and HTTP/2)`, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const mode of MODES) {
        const port = ports[`${kind}-${mode}`];
        const session = http2.connect(`http://127.0.0.1:${port}`);
        sessions.push(session);
        for (const [path, answers] of Object.entries(ROUTED)) {
          got.push(`${mode} ${path} -> ${show(await h1(port, path, host))} / ${show(await h2(session, path, host))}`);
          want.push(`${mode} ${path} -> ${answers[mode]} / ${answers[mode]}`);
        }
      }
      assert.deepEqual(got, want);
    });
  }
});
