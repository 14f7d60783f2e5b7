/**
 * `node bench/telemetry-policy-hotpath.ts [--n 200000]`: per-request CPU of the policy and
 * telemetry work mizzen proxy adds to one HTTP request, in-process (no sockets): metadata
 * exchange on the outbound and inbound sidecar, Istio metrics recording on both reporters,
 * an Istio-shaped RBAC check, jwt_authn on a token-less request, and the access log format.
 * Prints ns per request and the equivalent vCPU per 1,000 rps.
 */
import { parseArgs } from 'node:util';
import { HeaderList } from '../src/data/http1/header-list.ts';
import type { FilterContext } from '../src/data/l7/http-filter.ts';
import { StreamInfo } from '../src/data/l7/stream-info.ts';
import { JwksCache } from '../src/data/policy/jwks-cache.ts';
import { createJwtAuthnFilter } from '../src/data/policy/jwt-authn-filter.ts';
import { createHttpRbacFilter } from '../src/data/policy/rbac-filter.ts';
import { compileTextFormat, ISTIO_TEXT_FORMAT } from '../src/data/telemetry/access-log.ts';
import { IstioMetrics } from '../src/data/telemetry/istio-metrics.ts';
import { createMetadataExchangeFilter } from '../src/data/telemetry/metadata-exchange-filter.ts';
import { PeerMetadataCodec, peerInfoOf } from '../src/data/telemetry/peer-metadata.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' } } });
const N = Number(values.n);

const meta = (app: string, sa: string) => ({ NAME: `${app}-v1-abc`, NAMESPACE: 'default', WORKLOAD_NAME: `${app}-v1`, LABELS: { app, version: 'v1' }, SERVICE_ACCOUNT: sa, CLUSTER_ID: 'Kubernetes', MESH_ID: 'cluster.local' });
const codec = new PeerMetadataCodec();
const clientValue = codec.encode(meta('productpage', 'productpage'));
const serverValue = codec.encode(meta('reviews', 'reviews'));
const outFilter = createMetadataExchangeFilter('istio.metadata_exchange', { upstreamDiscovery: [{ istioHeaders: {} }], upstreamPropagation: [{ istioHeaders: {} }] }, { codec, ownValue: clientValue, ownId: 'sidecar~a' });
const inFilter = createMetadataExchangeFilter('istio.metadata_exchange', { downstreamDiscovery: [{ istioHeaders: {} }], downstreamPropagation: [{ istioHeaders: {} }] }, { codec, ownValue: serverValue, ownId: 'sidecar~b' });
const clientMetrics = new IstioMetrics({ self: peerInfoOf(meta('productpage', 'productpage'), -1), selfPrincipal: 'spiffe://cluster.local/ns/default/sa/productpage' });
const serverMetrics = new IstioMetrics({ self: peerInfoOf(meta('reviews', 'reviews'), -1), selfPrincipal: 'spiffe://cluster.local/ns/default/sa/reviews', clusterService: () => ({ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }) });
const rbac = createHttpRbacFilter('envoy.filters.http.rbac', {
  rules: { policies: {
    'ns[default]-policy[viewer]-rule[0]': {
      permissions: [{ andRules: { rules: [{ orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }] } }, { orRules: { rules: [{ urlPath: { path: { prefix: '/reviews' } } }] } }] } }],
      principals: [{ andIds: { ids: [{ orIds: { ids: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/productpage' } } }] } }] } }],
    },
  } },
}, 'bench');
const jwt = createJwtAuthnFilter('envoy.filters.http.jwt_authn', {
  providers: { p: { issuer: 'https://issuer', localJwks: { inlineString: '{"keys":[]}' }, payloadInMetadata: 'payload' } },
  rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'p' }, { allowMissing: {} }] } } }],
}, 'bench', { jwks: new JwksCache() });
const format = compileTextFormat(ISTIO_TEXT_FORMAT);

function ctx(direction: 'INBOUND' | 'OUTBOUND'): FilterContext {
  const info = new StreamInfo();
  info.direction = direction;
  info.listenerName = direction === 'INBOUND' ? 'virtualInbound' : '0.0.0.0_9080';
  info.protocol = 'HTTP/1.1';
  info.mtls = direction === 'INBOUND';
  info.peerPrincipal = 'spiffe://cluster.local/ns/default/sa/productpage';
  info.downstreamRemoteAddress = '10.244.0.12';
  info.downstreamLocalAddress = '10.244.0.11';
  info.downstreamLocalPort = 9080;
  return { request: { method: 'GET', path: '/reviews/1', authority: 'reviews:9080', scheme: 'http', headers: new HeaderList() }, info, route: undefined };
}

const out = ctx('OUTBOUND');
const inb = ctx('INBOUND');
const respHeaders = new HeaderList();

function one(): void {
  // client sidecar: request out, response back
  out.info.resetForRequest(performance.now());
  out.info.clusterName = 'outbound|9080||reviews.default.svc.cluster.local';
  out.request.headers = new HeaderList();
  out.request.headers.add('user-agent', 'bench');
  outFilter.decodeHeaders!(out);
  // server sidecar: request in (carries the client's metadata), response with its own
  inb.info.resetForRequest(performance.now());
  inb.info.clusterName = 'inbound|9080||';
  inb.request.headers = out.request.headers;
  inFilter.decodeHeaders!(inb);
  jwt.decodeHeaders!(inb);
  rbac.decodeHeaders!(inb);
  respHeaders.remove('x-envoy-peer-metadata');
  respHeaders.remove('x-envoy-peer-metadata-id');
  inFilter.encodeHeaders!(inb, 200, respHeaders);
  inb.info.responseCode = 200;
  inb.info.bytesSent = 1024;
  serverMetrics.onStreamComplete(inb.info);
  outFilter.encodeHeaders!(out, 200, respHeaders);
  out.info.responseCode = 200;
  out.info.bytesSent = 1024;
  clientMetrics.onStreamComplete(out.info);
}

function time(label: string, fn: () => void, per = 1): void {
  for (let i = 0; i < Math.min(N, 20000); i++) fn();
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const d = process.cpuUsage(t0);
  const ns = ((d.user + d.system) * 1000) / N / per;
  process.stdout.write(`${label.padEnd(64)} ${ns.toFixed(0).padStart(6)} ns/request  ${(ns * 1000 / 1e9).toFixed(4)} vCPU per 1,000 rps\n`);
}

time('both sidecars: exchange + jwt (no token) + rbac + metrics, per proxy', one, 2);
time('rbac: Istio-shaped ALLOW policy (method, path, principal)', () => rbac.decodeHeaders!(inb));
time('jwt_authn: request without a token', () => jwt.decodeHeaders!(inb));
time('metrics: one finished stream (destination reporter)', () => serverMetrics.onStreamComplete(inb.info));
time('access log: Istio text format line', () => format(inb.info));
