/**
 * `node bench/controlplane/generate-bench.ts [SERVICES] [PROXIES]`: cost of generating every
 * resource type for sidecars in a synthetic mesh (SERVICES services over 20 namespaces, two
 * ports each, 3 endpoints, a VirtualService and DestinationRule with subsets for 40 % of them),
 * first proxy of a push (cold) and then the rest (sharing within a namespace scope).
 */
import { generateAll, proxy, pushContext, type EndpointSpec, type ServiceSpec } from '../../test/support/generate-fixture.ts';

const SERVICES = Number(process.argv[2] ?? 500);
const PROXIES = Number(process.argv[3] ?? 1000);
const services: ServiceSpec[] = [];
const endpoints: EndpointSpec[] = [];
for (let i = 0; i < SERVICES; i++) {
  const ns = `ns${i % 20}`;
  services.push({ name: `s${i}`, namespace: ns, vip: `10.96.${i >> 8}.${i & 255}`, ports: [{ port: 8080 }, { port: 9090, protocol: 'GRPC' }] });
  for (let j = 0; j < 3; j++) endpoints.push({ service: `s${i}`, namespace: ns, address: `10.244.${(i * 3 + j) >> 8}.${(i * 3 + j) & 255}`, labels: { app: `s${i}`, version: `v${j}` }, serviceAccount: `s${i}` });
}
let yaml = '';
for (let i = 0; i < SERVICES * 0.4; i++) {
  yaml += `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: v${i}, namespace: ns${i % 20} }\nspec: { hosts: [s${i}], http: [{ match: [{ headers: { x: { exact: a } } }], route: [{ destination: { host: s${i}, subset: v1 } }] }, { route: [{ destination: { host: s${i}, subset: v1 }, weight: 90 }, { destination: { host: s${i}, subset: v2 }, weight: 10 }] }] }\n---\n`;
  yaml += `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: d${i}, namespace: ns${i % 20} }\nspec: { host: s${i}, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }\n---\n`;
}
let t = performance.now();
const push = pushContext(yaml, services, endpoints);
const ctxMs = performance.now() - t;
const times: number[] = [];
let counts = '';
t = performance.now();
for (let p = 0; p < PROXIES; p++) {
  const s = performance.now();
  const r = generateAll(proxy({ namespace: `ns${p % 20}`, ip: `10.250.${p >> 8}.${p & 255}`, labels: { app: `client${p}` }, pod: `c${p}` }), push);
  times.push(performance.now() - s);
  if (p === 0) counts = `${r.listeners.length} listeners, ${r.routes.length} route configs, ${r.clusters.length} clusters, ${r.endpoints.length} endpoint sets`;
}
const total = performance.now() - t;
const sorted = [...times].sort((a, b) => a - b);
const pct = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
console.log(`${SERVICES} services, ${PROXIES} sidecars in 20 namespaces (${counts} per proxy)`);
console.log(`push context ${ctxMs.toFixed(0)} ms (incl. YAML parse); generation total ${total.toFixed(0)} ms; per proxy P50 ${pct(0.5)} ms, P99 ${pct(0.99)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`);
