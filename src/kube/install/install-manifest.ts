import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_IMAGE } from '../inject/injection-settings.ts';

type Obj = Record<string, any>;

export interface InstallOptions {
  revision: string;
  namespace: string;
  image: string;
  replicas: number;
  /** Include Istio's CRDs (shared by all revisions). */
  crds: boolean;
}

export const DEFAULT_INSTALL: InstallOptions = { revision: 'default', namespace: 'istio-system', image: DEFAULT_IMAGE, replicas: 2, crds: true };

const CRD_FILE = new URL('../../control/config/schema/istio-crds.gen.yaml', import.meta.url);
const ISTIO_GROUPS = ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io'];

/** Istio's CRDs as YAML text, as shipped with Mizzen (the same file its validator reads). */
export function istioCrdText(): string {
  return readFileSync(CRD_FILE, 'utf8');
}

/** Istio's CRDs as objects. */
export function istioCrds(): Obj[] {
  return parseAllDocuments(istioCrdText())
    .map((d) => d.toJS() as Obj)
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

/**
 * Everything `mizzen install` applies, as istiod's Helm chart lays it out: the CRDs, the
 * namespace, istiod's ServiceAccount and RBAC (exactly the verbs discovery uses), the Deployment
 * running `mizzen discovery --kube`, its Service (15010, 15012, 15014, 443→15017), the webhook
 * configurations (caBundle is patched in by the leader), and the `istio` and
 * `istio-sidecar-injector` ConfigMaps. A revision R names everything `-R` and selects
 * `istio.io/rev=R` namespaces and pods, for canary upgrades.
 */
export function installManifest(o: InstallOptions): Obj[] {
  const rev = o.revision;
  const def = rev === 'default';
  const sfx = def ? '' : `-${rev}`;
  const ns = o.namespace;
  const istiod = `istiod${sfx}`;
  const labels = { app: 'istiod', 'istio.io/rev': rev, 'app.kubernetes.io/part-of': 'mizzen' };
  const out: Obj[] = [];
  if (o.crds) out.push(...istioCrds());
  out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: istiod, namespace: ns, labels } });
  const read = ['get', 'list', 'watch'];
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: `istiod${sfx}-clusterrole-${ns}`, labels },
    rules: [
      { apiGroups: [''], resources: ['namespaces', 'nodes', 'services', 'pods'], verbs: read },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: read },
      { apiGroups: ISTIO_GROUPS, resources: ['*'], verbs: read },
      // the validation self-check: a dry-run create of an invalid Gateway
      { apiGroups: ['networking.istio.io'], resources: ['gateways'], verbs: ['create'] },
      // istio-ca-root-cert in every namespace (the leader)
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'update'] },
    ],
  });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `istiod${sfx}-clusterrole-${ns}`, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `istiod${sfx}-clusterrole-${ns}` },
    subjects: [{ kind: 'ServiceAccount', name: istiod, namespace: ns }],
  });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: istiod, namespace: ns, labels },
    rules: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'list', 'watch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ],
  });
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: istiod, namespace: ns, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: istiod },
    subjects: [{ kind: 'ServiceAccount', name: istiod, namespace: ns }],
  });
  out.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `istio${sfx}`, namespace: ns, labels },
    data: { mesh: `rootNamespace: ${ns}\ntrustDomain: cluster.local\ndefaultConfig:\n  discoveryAddress: ${istiod}.${ns}.svc:15012\n`, meshNetworks: 'networks: {}\n' },
  });
  out.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `istio-sidecar-injector${sfx}`, namespace: ns, labels },
    data: { values: JSON.stringify({ revision: rev, global: { proxy: { image: o.image }, istioNamespace: ns, meshID: 'cluster.local', multiCluster: { clusterName: 'Kubernetes' } } }, null, 2) },
  });
  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: istiod, namespace: ns, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: 'istiod', 'istio.io/rev': rev } },
      template: {
        // prometheus.io/port: istioctl (and mizzen proxy-status) find the debug port there
        metadata: { labels: { app: 'istiod', 'istio.io/rev': rev, 'sidecar.istio.io/inject': 'false' }, annotations: { 'prometheus.io/port': '15014', 'prometheus.io/scrape': 'true' } },
        spec: {
          serviceAccountName: istiod,
          containers: [
            {
              name: 'discovery',
              image: o.image,
              command: ['mizzen', 'discovery', '--kube', '--grpc-addr', ':15010', '--secure-grpc-addr', ':15012', '--http-addr', ':15014', '--webhook-addr', ':15017'],
              ports: [
                { name: 'grpc-xds', containerPort: 15010 },
                { name: 'https-dns', containerPort: 15012 },
                { name: 'http-monitoring', containerPort: 15014 },
                { name: 'https-webhook', containerPort: 15017 },
              ],
              env: [
                { name: 'REVISION', value: rev },
                { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: 15014 }, periodSeconds: 3, timeoutSeconds: 5 },
              resources: { requests: { cpu: '500m', memory: '512Mi' } },
              securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: false },
            },
          ],
        },
      },
    },
  });
  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: istiod, namespace: ns, labels },
    spec: {
      selector: { app: 'istiod', 'istio.io/rev': rev },
      ports: [
        { name: 'grpc-xds', port: 15010, targetPort: 15010, protocol: 'TCP' },
        { name: 'https-dns', port: 15012, targetPort: 15012, protocol: 'TCP' },
        { name: 'https-webhook', port: 443, targetPort: 15017, protocol: 'TCP' },
        { name: 'http-monitoring', port: 15014, targetPort: 15014, protocol: 'TCP' },
      ],
    },
  });
  const client = (path: string): Obj => ({ service: { name: istiod, namespace: ns, path, port: 443 } });
  const podRule = [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }];
  const hook = (name: string, namespaceSelector: Obj, objectSelector: Obj): Obj => ({
    name,
    clientConfig: client('/inject'),
    rules: podRule,
    namespaceSelector,
    objectSelector,
    failurePolicy: 'Fail',
    sideEffects: 'None',
    reinvocationPolicy: 'Never',
    admissionReviewVersions: ['v1'],
  });
  const notFalse = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };
  const webhooks = def
    ? [
        hook('namespace.sidecar-injector.istio.io', { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] }, { matchExpressions: [notFalse] }),
        hook(
          'object.sidecar-injector.istio.io',
          { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
          { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
        ),
      ]
    : [
        hook('rev.namespace.sidecar-injector.istio.io', { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: [rev] }, { key: 'istio-injection', operator: 'DoesNotExist' }] }, { matchExpressions: [notFalse] }),
        hook('rev.object.sidecar-injector.istio.io', { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] }, { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: [rev] }] }),
      ];
  out.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: `istio-sidecar-injector${sfx}`, labels: { app: 'sidecar-injector', 'istio.io/rev': rev } },
    webhooks,
  });
  out.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `istio-validator${sfx}-${ns}`, labels: { app: 'istiod', 'istio.io/rev': rev } },
    webhooks: [
      {
        name: 'rev.validation.istio.io',
        clientConfig: client('/validate'),
        rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ISTIO_GROUPS, apiVersions: ['*'], resources: ['*'] }],
        // the default revision validates everything; a revision only objects labelled for it
        ...(def ? {} : { objectSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: [rev] }] } }),
        // Ignore until discovery has seen the API server reach it; the leader then sets Fail.
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  });
  return out;
}
