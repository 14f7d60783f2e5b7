import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { runAppProbe } from '../../src/data/telemetry/app-health-prober.ts';
import { injectAdmission } from '../../src/kube/inject/inject-webhook.ts';
import { defaultInjectionSettings } from '../../src/kube/inject/injection-settings.ts';
import { injectPod } from '../../src/kube/inject/sidecar-injector.ts';
import { installManifest, DEFAULT_INSTALL } from '../../src/kube/install/install-manifest.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'mizzen', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const BOOKINFO = new URL('../../examples/bookinfo/bookinfo.yaml', import.meta.url).pathname;

type Obj = Record<string, any>;

describe('mizzen kube-inject', () => {
  it('injects every Deployment of Bookinfo as the webhook would, leaving other kinds alone', async () => {
    const r = await cli(['kube-inject', '-f', BOOKINFO]);
    assert.equal(r.code, 0, r.err);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as Obj);
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    assert.ok(deployments.length >= 4);
    for (const d of deployments) {
      const t = d.spec.template;
      assert.deepEqual(t.spec.initContainers.map((c: Obj) => c.name), ['istio-init'], d.metadata.name);
      assert.equal(t.spec.containers.at(-1).name, 'istio-proxy');
      assert.deepEqual(t.spec.containers.at(-1).command, ['mizzen', 'proxy', 'sidecar']);
      const env = Object.fromEntries(t.spec.containers.at(-1).env.map((e: Obj) => [e.name, e.value]));
      assert.equal(env.ISTIO_META_WORKLOAD_NAME, d.metadata.name);
      assert.ok(t.metadata.annotations['sidecar.istio.io/status']);
    }
    assert.ok(docs.some((d) => d.kind === 'Service' && !('initContainers' in (d.spec ?? {}))));
  });

  it('honours the per-pod opt-out and the resource annotations', async () => {
    const settings = defaultInjectionSettings();
    const pod = (annotations: Record<string, string>, labels: Record<string, string> = {}): Obj => ({
      uid: 'u1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'ns',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels, annotations }, spec: { containers: [{ name: 'app', image: 'a' }] } },
    });
    assert.equal(injectAdmission(pod({ 'sidecar.istio.io/inject': 'false' }) as never, settings).patch, undefined);
    const res = injectAdmission(pod({ 'sidecar.istio.io/proxyCPU': '250m', 'sidecar.istio.io/proxyMemoryLimit': '300Mi', 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' }) as never, settings);
    assert.equal(res.allowed, true);
    const patch = JSON.parse(Buffer.from(res.patch!, 'base64').toString()) as { op: string; path: string; value: Obj }[];
    const containers = patch.find((p) => p.path === '/spec/containers')!.value as Obj[];
    const proxy = containers.find((c) => c.name === 'istio-proxy')!;
    assert.equal(proxy.resources.requests.cpu, '250m');
    assert.equal(proxy.resources.limits.memory, '300Mi');
    const init = (patch.find((p) => p.path === '/spec/initContainers')!.value as Obj[])[0];
    assert.deepEqual(init.args.slice(init.args.indexOf('-o'), init.args.indexOf('-o') + 2), ['-o', '5432']);
  });

  it("merges metrics as Istio's injector: scraped on the agent (15020), the app's own settings handed to istio-proxy", () => {
    const settings = defaultInjectionSettings();
    const pod = (annotations: Record<string, string>): Obj => injectPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations }, spec: { containers: [{ name: 'app', image: 'a' }] } } as never, 'ns', settings);
    const envOf = (p: Obj): Record<string, string> => Object.fromEntries((p.spec.containers as Obj[]).find((c) => c.name === 'istio-proxy')!.env.filter((e: Obj) => 'value' in e).map((e: Obj) => [e.name, e.value]));
    const app = pod({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/app-metrics' });
    assert.deepEqual([app.metadata.annotations['prometheus.io/scrape'], app.metadata.annotations['prometheus.io/port'], app.metadata.annotations['prometheus.io/path']], ['true', '15020', '/stats/prometheus']);
    assert.deepEqual(JSON.parse(envOf(app).ISTIO_PROMETHEUS_ANNOTATIONS!), { scrape: 'true', path: '/app-metrics', port: '9090' });
    const plain = pod({});
    assert.equal(plain.metadata.annotations['prometheus.io/port'], '15020');
    assert.equal(envOf(plain).ISTIO_PROMETHEUS_ANNOTATIONS, undefined);
    assert.equal(pod({ 'prometheus.io/scrape': 'false' }).metadata.annotations['prometheus.io/port'], undefined, 'an opted-out pod is left alone');
    assert.equal(pod({ 'prometheus.istio.io/merge-metrics': 'false' }).metadata.annotations['prometheus.io/port'], undefined);
  });

  it("the gateway template keeps the proxy's mounts beside the service account token the API server added", () => {
    const pod = injectPod({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'gw', labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'inject.istio.io/templates': 'gateway' } },
      spec: { containers: [{ name: 'istio-proxy', image: 'auto', volumeMounts: [{ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] }], volumes: [{ name: 'kube-api-access-x', projected: { sources: [] } }] },
    } as never, 'istio-system', defaultInjectionSettings());
    const proxy = (pod.spec.containers as Obj[])[0]!;
    assert.deepEqual(proxy.command, ['mizzen', 'proxy', 'router']);
    const mounts = (proxy.volumeMounts as Obj[]).map((m) => m.mountPath);
    for (const path of ['/var/run/secrets/istio', '/var/run/secrets/tokens', '/var/run/secrets/kubernetes.io/serviceaccount']) assert.ok(mounts.includes(path), `${path} in ${mounts.join(' ')}`);
    const volumes = (pod.spec.volumes as Obj[]).map((v) => v.name);
    for (const name of ['istiod-ca-cert', 'istio-token', 'kube-api-access-x']) assert.ok(volumes.includes(name), name);
    // Istio's gateway-injection-template sets the canonical labels but no tlsMode: sidecars do
    // not auto-mTLS to a gateway (its servers say what it accepts)
    assert.equal(pod.metadata.labels['security.istio.io/tlsMode'], undefined);
    assert.equal(pod.metadata.labels['service.istio.io/canonical-name'], 'gw');
  });

  it("the gateway template merges the user's istio-proxy container over the injected one, the user's values winning (Istio's reapplyOverwrittenContainers)", () => {
    const pod = injectPod({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'gw', labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'inject.istio.io/templates': 'gateway' } },
      spec: {
        containers: [{
          name: 'istio-proxy',
          image: 'auto',
          env: [{ name: 'ISTIO_META_ROUTER_NOTE', value: 'mine' }, { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'NONE' }],
          ports: [{ name: 'http2', containerPort: 8080 }],
          resources: { limits: { cpu: '3' } },
        }],
      },
    } as never, 'istio-system', defaultInjectionSettings());
    const proxy = (pod.spec.containers as Obj[])[0]!;
    assert.equal(proxy.image, defaultInjectionSettings().image, 'image: auto takes the injector\'s image');
    const env = proxy.env as Obj[];
    assert.deepEqual(env.filter((e) => e.name === 'ISTIO_META_ROUTER_NOTE'), [{ name: 'ISTIO_META_ROUTER_NOTE', value: 'mine' }]);
    // by name, in place: one entry, the user's value (no duplicate the API server would warn about)
    assert.deepEqual(env.filter((e) => e.name === 'ISTIO_META_INTERCEPTION_MODE'), [{ name: 'ISTIO_META_INTERCEPTION_MODE', value: 'NONE' }]);
    assert.ok(env.some((e) => e.name === 'POD_NAME'), "the template's env stays");
    // ports by containerPort: the template's Prometheus port beside the user's
    assert.deepEqual((proxy.ports as Obj[]).map((p) => p.containerPort).sort(), [15090, 8080].sort());
    // maps field by field: the user's CPU limit, the template's requests and memory limit
    assert.equal(proxy.resources.limits.cpu, '3');
    assert.ok(proxy.resources.requests.cpu);
    assert.ok(proxy.resources.limits.memory);
  });

  it("merges a sidecar pod's own istio-proxy container over the injected sidecar (Istio's customizing injection) instead of adding a second", () => {
    const pod = injectPod({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'web' },
      spec: { containers: [{ name: 'web', image: 'w' }, { name: 'istio-proxy', image: 'auto', env: [{ name: 'ISTIO_META_NOTE', value: 'mine' }], resources: { limits: { memory: '1Gi' } } }] },
    } as never, 'ns', defaultInjectionSettings());
    const proxies = (pod.spec.containers as Obj[]).filter((c) => c.name === 'istio-proxy');
    assert.equal(proxies.length, 1);
    assert.deepEqual(proxies[0]!.command, ['mizzen', 'proxy', 'sidecar']);
    assert.ok((proxies[0]!.env as Obj[]).some((e) => e.name === 'ISTIO_META_NOTE' && e.value === 'mine'));
    assert.equal(proxies[0]!.resources.limits.memory, '1Gi');
  });

  it('applies the init container flags through mizzen istio-iptables (dry run shows the nft rules)', async () => {
    const r = await cli(['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '10.1.0.0/16', '-b', '*', '-d', '15090,15021,15020', '-o', '5432', '--dry-run']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ip daddr 10\.1\.0\.0\/16 return/);
    assert.match(r.out, /tcp dport 5432 return/);
    const refused = await cli(['istio-iptables', '-m', 'TPROXY', '--dry-run']);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /TPROXY is not supported/);
  });
});

describe('app probers (the agent side of the probe rewrite)', () => {
  it('answers for the app as its original probe would', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 503).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.equal((await runAppProbe({ httpGet: { path: '/health', port } }, '127.0.0.1')).ok, true);
      assert.equal((await runAppProbe({ httpGet: { path: '/other', port } }, '127.0.0.1')).ok, false);
      assert.equal((await runAppProbe({ tcpSocket: { port } }, '127.0.0.1')).ok, true);
    } finally {
      server.close();
    }
    assert.equal((await runAppProbe({ tcpSocket: { port } }, '127.0.0.1')).ok, false, 'closed port fails');
  });
});

describe('mizzen install --dry-run', () => {
  it('prints CRDs, RBAC, Deployment, Service, webhooks and ConfigMaps; a revision names and selects its own', async () => {
    const r = await cli(['install', '--dry-run', '-o', 'yaml', '--revision', 'canary']);
    assert.equal(r.code, 0, r.err);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as Obj);
    const kinds = new Set(docs.map((d) => d.kind));
    for (const k of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ConfigMap']) assert.ok(kinds.has(k), k);
    const mwc = docs.find((d) => d.kind === 'MutatingWebhookConfiguration')!;
    assert.equal(mwc.metadata.name, 'istio-sidecar-injector-canary');
    assert.ok(JSON.stringify(mwc.webhooks).includes('"values":["canary"]'));
    const svc = docs.find((d) => d.kind === 'Service')!;
    assert.deepEqual(svc.spec.ports.map((p: Obj) => `${p.port}->${p.targetPort}`), ['15010->15010', '15012->15012', '443->15017', '15014->15014']);
    assert.equal(docs.find((d) => d.kind === 'Deployment')!.spec.replicas, 2);
    assert.equal(installManifest({ ...DEFAULT_INSTALL, crds: false }).filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
    assert.ok(parse(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'istio-canary')!.data.mesh));
  });
});
