import { ConfigStore } from '../../src/control/config/config-store.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { ResourceValidator } from '../../src/control/config/validation/validate-resource.ts';
import { PushContext } from '../../src/control/push/push-context.ts';
import { generateAll, proxy, staticRegistry, type EndpointSpec, type ServiceSpec } from '../../test/support/generate-fixture.ts';
import { invariant, type FuzzTarget } from '../engine/fuzz-target.ts';
import { YAML_DICTIONARY } from './dictionaries.ts';

let validator: ResourceValidator | undefined;

const SERVICES: ServiceSpec[] = [
  { name: 'reviews', vip: '10.96.0.10', ports: [{ port: 9080 }, { port: 9443, protocol: 'TLS' }] },
  { name: 'ratings', namespace: 'other', vip: '10.96.0.11', ports: [{ port: 9080, protocol: 'GRPC' }] },
];
const ENDPOINTS: EndpointSpec[] = [
  { service: 'reviews', address: '10.244.0.10', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' },
  { service: 'reviews', address: '10.244.0.11', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'reviews' },
  { service: 'ratings', namespace: 'other', address: '10.244.0.12', labels: { app: 'ratings' }, serviceAccount: 'ratings' },
];
const PROXIES = [
  proxy({ ip: '10.244.0.10', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-0' }),
  proxy({ type: 'router', ip: '10.244.0.20', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, pod: 'gw-0' }),
];

/**
 * What `mizzen validate`/`apply` and discovery's file source do with a YAML file: split and parse
 * the documents (file and line per problem), validate each resource (Istio's CRD schemas and
 * webhook rules), apply the valid ones to a config store, and generate xDS from it for a sidecar
 * and a gateway. Invariants: nothing throws; every problem names the file and a line.
 */
export const configYaml: FuzzTarget = {
  name: 'config-yaml',
  description: 'YAML/JSON config parser + Istio validation + config store + xDS generation (sidecar, gateway)',
  dictionary: YAML_DICTIONARY,
  maxLength: 4096,
  watch: ['/src/control/config/', '/src/control/generate/', '/src/control/push/', '/src/api/'],
  timeoutMs: 5000,
  async setup() {
    validator ??= new ResourceValidator();
  },
  run(data) {
    const parsed = parseDocuments(data.toString('utf8'), 'fuzz.yaml');
    for (const p of parsed.problems) invariant(p.file === 'fuzz.yaml' && Number.isInteger(p.line) && p.line >= 0, `problem without a place: ${JSON.stringify(p)}`);
    const valid = [];
    for (const r of parsed.resources) {
      invariant(r.origin?.file === 'fuzz.yaml' && (r.origin.line ?? 0) >= 1, `resource without a place: ${JSON.stringify(r.origin)}`);
      const v = validator!.validate(r);
      for (const e of v.errors) invariant(typeof e.message === 'string' && e.message.length > 0, 'an error without a message');
      if (v.errors.length === 0) valid.push(r);
    }
    const store = new ConfigStore();
    store.apply('fuzz', valid);
    // and what discovery makes of it for a sidecar and a gateway (generators must not throw on valid config)
    const push = new PushContext({ config: store, registry: staticRegistry(SERVICES, ENDPOINTS), mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' } });
    for (const p of PROXIES) generateAll(p, push);
  },
};
