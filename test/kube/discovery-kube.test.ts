import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { KubeApi, loadKubeConfig } from '../../src/lib/kube/kube-api.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { createCertificate, opensslCsr, opensslVerify, tempDir } from '../ca/ca-fixture.ts';
import { AdsTestClient, sidecarNode } from '../xds/support/ads-test-client.ts';
import { envoyRoot } from '../xds/support/ads-harness.ts';
import { eventually, kubeSkipReason, startTestCluster, type TestCluster } from './support/kube-cluster.ts';

const CRDS = new URL('../../src/control/config/schema/istio-crds.gen.yaml', import.meta.url).pathname;
const skip = kubeSkipReason();

function get(addr: string, path: string): Promise<string> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)];
  return new Promise((resolve, reject) => {
    request({ host, port: Number(port), path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

const yaml = (s: string): string => s.replace(/^ {4}/gm, '');

/** A plug-in CA as Istio's tools/certs make it: a root and an intermediate signed by it. */
function plugInCa(base: string, name: string): { dir: string; root: string; intermediate: string } {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const o = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', `/O=cluster.local/CN=${name} root`,
    '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=cluster.local/CN=${name} intermediate`, '-keyout', 'ca-key.pem', '-out', 'ca.csr']);
  writeFileSync(join(dir, 'ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n');
  o(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '30', '-extfile', 'ext', '-out', 'ca-cert.pem']);
  const root = readFileSync(join(dir, 'root-cert.pem'), 'utf8');
  const intermediate = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
  writeFileSync(join(dir, 'cert-chain.pem'), intermediate + root);
  return { dir, root, intermediate };
}

/** The issuer CN of the certificate a TLS server presents. */
function servingIssuer(addr: string): Promise<string> {
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'istiod.istio-system.svc', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const cn = s.getPeerCertificate().issuer?.CN ?? '';
      s.destroy();
      resolve(String(cn));
    }).once('error', reject);
  });
}

describe('mizzen discovery --kube against a real API server', { skip }, () => {
  let cluster: TestCluster;
  let d: Discovery;
  let addrs: Awaited<ReturnType<Discovery['start']>>;
  const clients: AdsTestClient[] = [];
  const dir = tempDir('mizzen-kube-ca-');

  before(async () => {
    cluster = await startTestCluster();
    await cluster.kubectl(['create', 'namespace', 'istio-system']);
    d = new Discovery({
      configPaths: [],
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 500,
      clock: systemClock,
      logs: createLogFactory({ levels: process.env.MIZZEN_TEST_LOG ?? 'silent' }),
      kube: {
        api: new KubeApi(loadKubeConfig({ file: cluster.kubeconfig })),
        systemNamespace: 'istio-system',
        revision: 'default',
        identity: 'discovery-test-0',
        leaseDurationMs: 3000,
        webhookHost: '127.0.0.1',
        webhookPort: 0,
      },
    });
    // Istio's CRDs are not installed yet: discovery must start anyway and say so.
    addrs = await d.start();
    const port = addrs.webhook!.split(':').pop();
    await cluster.kubectl(['apply', '--server-side', '-f', CRDS]);
    await cluster.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    // Webhook configurations as `mizzen install` makes them, pointing at the test's loopback port;
    // no caBundle: the leader patches it in, and flips validation to failurePolicy Fail.
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingWebhookConfiguration
    metadata: {name: istio-validator-istio-system, labels: {app: istiod, istio.io/rev: default}}
    webhooks:
    - name: rev.validation.istio.io
      clientConfig: {url: "https://127.0.0.1:${port}/validate"}
      rules: [{operations: [CREATE, UPDATE], apiGroups: [security.istio.io, networking.istio.io, telemetry.istio.io, extensions.istio.io], apiVersions: ["*"], resources: ["*"]}]
      failurePolicy: Ignore
      sideEffects: None
      admissionReviewVersions: [v1]
    ---
    apiVersion: admissionregistration.k8s.io/v1
    kind: MutatingWebhookConfiguration
    metadata: {name: istio-sidecar-injector, labels: {app: sidecar-injector, istio.io/rev: default}}
    webhooks:
    - name: namespace.sidecar-injector.istio.io
      clientConfig: {url: "https://127.0.0.1:${port}/inject"}
      rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
      namespaceSelector: {matchExpressions: [{key: istio-injection, operator: In, values: [enabled]}]}
      objectSelector: {matchExpressions: [{key: sidecar.istio.io/inject, operator: NotIn, values: ["false"]}]}
      failurePolicy: Fail
      sideEffects: None
      reinvocationPolicy: Never
      admissionReviewVersions: [v1]
    `));
  });

  after(async () => {
    for (const c of clients) c.close();
    await d?.close();
    await cluster?.stop();
    dir.remove();
  });

  it('warns about absent CRDs and watches their kinds once they exist', async () => {
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: external, namespace: default}
    spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
    `));
    const configz = await eventually(async () => {
      const c = JSON.parse(await get(addrs.http, '/debug/configz')) as { resources: { ref: string }[]; errors: { message: string }[] };
      return c.resources.some((r) => r.ref === 'ServiceEntry default/external') ? c : undefined;
    }, 20_000, 'the ServiceEntry in /debug/configz');
    assert.ok(!configz.errors.some((e) => /CRD virtualservices/.test(e.message)), 'the warning goes once the CRD is there');
  });

  it('refuses an invalid VirtualService at kubectl apply with the validator message, accepts a valid one', async () => {
    const bad = yaml(`
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: bad, namespace: default}
    spec:
      hosts: [reviews]
      http: [{match: [{uri: {regex: "(["}}], route: [{destination: {host: reviews}}]}]
    `);
    const res = await eventually(async () => {
      const r = await cluster.kubectlResult(['apply', '-f', '-'], bad);
      if (r.code === 0) await cluster.kubectl(['delete', 'virtualservice', 'bad', '-n', 'default', '--ignore-not-found']);
      return r.code !== 0 ? r : undefined;
    }, 20_000, 'the webhook to refuse the VirtualService');
    assert.match(res.stderr, /admission webhook "rev.validation.istio.io" denied the request: configuration is invalid: VirtualService default\/bad: spec\.http\[0\]\.match\[0\]\.uri: .*error parsing regexp/);
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: good, namespace: default}
    spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
    `));
    const failurePolicy = await eventually(async () => {
      const p = await cluster.kubectl(['get', 'validatingwebhookconfiguration', 'istio-validator-istio-system', '-o', 'jsonpath={.webhooks[0].failurePolicy}']);
      return p === 'Fail' ? p : undefined;
    }, 20_000, 'failurePolicy Fail');
    assert.equal(failurePolicy, 'Fail');
  });

  it('sends Services and EndpointSlices written by kube-controller-manager to an ADS client', async () => {
    // A node for the scheduler, a pod bound to it whose status we set as a kubelet would.
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Node
    metadata: {name: node-a, labels: {topology.kubernetes.io/region: eu, topology.kubernetes.io/zone: eu-1}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: ratings, namespace: default}
    spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: ratings-1, namespace: default, labels: {app: ratings}}
    spec: {nodeName: node-a, containers: [{name: app, image: ratings, ports: [{containerPort: 9080}]}]}
    `));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await eventually(() => cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'default']).then(() => true), 20_000, 'default ServiceAccount');
    await cluster.kubectl(['patch', 'pod', 'ratings-1', '-n', 'default', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { phase: 'Running', podIP: '10.244.0.7', podIPs: [{ ip: '10.244.0.7' }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } })]);
    await eventually(async () => (await cluster.kubectl(['get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=ratings', '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}'])).includes('10.244.0.7'), 20_000, 'kube-controller-manager to write the EndpointSlice');

    const c = new AdsTestClient(envoyRoot(), addrs.grpc, 'sotw');
    clients.push(c);
    c.send({ node: sidecarNode('productpage', 'default'), typeUrl: TYPE_URL.endpoint, resourceNames: ['outbound|9080||ratings.default.svc.cluster.local'] });
    const cla = await eventually(async () => {
      const r = await c.next(10_000);
      const [x] = c.decode(r) as { endpoints?: { locality?: { region?: string; zone?: string }; lbEndpoints?: { endpoint?: { address?: { socketAddress?: { address?: string } } } }[] }[] }[];
      return x?.endpoints?.some((e) => e.lbEndpoints?.some((l) => l.endpoint?.address?.socketAddress?.address === '10.244.0.7')) ? x : undefined;
    }, 20_000, 'the pod IP in EDS');
    assert.deepEqual(cla.endpoints?.[0].locality, { region: 'eu', zone: 'eu-1' }, 'locality comes from the Node');
    const registry = JSON.parse(await get(addrs.http, '/debug/registryz')) as { hostname: string }[];
    assert.ok(registry.some((s) => s.hostname === 'ratings.default.svc.cluster.local'));
  });

  it('injects pods of namespaces labelled istio-injection=enabled', async () => {
    await cluster.kubectl(['create', 'namespace', 'injected']);
    await cluster.kubectl(['label', 'namespace', 'injected', 'istio-injection=enabled']);
    await eventually(() => cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'injected']).then(() => true), 20_000, 'default ServiceAccount');
    const pod = JSON.parse(await cluster.kubectl(['create', '-o', 'json', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Pod
    metadata: {name: web, namespace: injected, labels: {app: web, version: v1}}
    spec:
      containers:
      - name: web
        image: web
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /health, port: 8080}}
    `))) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { initContainers: { name: string }[]; containers: { name: string; readinessProbe?: { httpGet?: { port: number; path: string } }; env?: { name: string; value?: string }[] }[]; volumes: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string } }[] } }[] } };
    assert.deepEqual(pod.spec.initContainers.map((c) => c.name), ['istio-init']);
    assert.deepEqual(pod.spec.containers.map((c) => c.name), ['web', 'istio-proxy']);
    assert.equal(pod.metadata.labels['security.istio.io/tlsMode'], 'istio');
    assert.equal(pod.metadata.labels['service.istio.io/canonical-name'], 'web');
    assert.ok(pod.metadata.annotations['sidecar.istio.io/status']);
    assert.equal(pod.metadata.annotations['prometheus.io/port'], '15020');
    const token = pod.spec.volumes.find((v) => v.name === 'istio-token');
    assert.equal(token?.projected?.sources[0].serviceAccountToken?.audience, 'istio-ca');
    assert.deepEqual(pod.spec.containers[0].readinessProbe?.httpGet, { path: '/app-health/web/readyz', port: 15020, scheme: 'HTTP' });
    const probers = pod.spec.containers[1].env?.find((e) => e.name === 'ISTIO_KUBE_APP_PROBERS')?.value;
    // (the API server defaulted scheme and timeout before the webhook saw the pod)
    assert.deepEqual(JSON.parse(probers ?? '{}'), { '/app-health/web/readyz': { httpGet: { path: '/health', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1 } });
    // Opting out per pod.
    const plain = JSON.parse(await cluster.kubectl(['run', 'plain', '-n', 'injected', '--image', 'x', '--labels', 'sidecar.istio.io/inject=false', '-o', 'json'])) as { spec: { containers: unknown[]; initContainers?: unknown[] } };
    assert.equal(plain.spec.containers.length, 1);
    assert.equal(plain.spec.initContainers, undefined);
  });

  it('writes istio-ca-root-cert into every namespace and puts it back when deleted', async () => {
    await cluster.kubectl(['create', 'namespace', 'fresh']);
    const root = d.rootCertPem();
    const read = (): Promise<string> => cluster.kubectl(['get', 'configmap', 'istio-ca-root-cert', '-n', 'fresh', '-o', 'jsonpath={.data.root-cert\\.pem}']);
    assert.equal(await eventually(async () => ((await read()) === root ? root : undefined), 20_000, 'the ConfigMap'), root);
    await cluster.kubectl(['delete', 'configmap', 'istio-ca-root-cert', '-n', 'fresh']);
    assert.equal(await eventually(async () => ((await read()) === root ? root : undefined), 20_000, 'the ConfigMap back'), root);
    const secret = await cluster.kubectl(['get', 'secret', 'istio-ca-secret', '-n', 'istio-system', '-o', 'jsonpath={.data.ca-cert\\.pem}']);
    assert.equal(Buffer.from(secret, 'base64').toString(), root, 'the self-signed root is persisted as istio-ca-secret');
  });

  it('issues certificates for projected service-account tokens (TokenReview, audience istio-ca) only', async () => {
    await cluster.kubectl(['create', 'serviceaccount', 'reviews', '-n', 'default']);
    const token = (await cluster.kubectl(['create', 'token', 'reviews', '-n', 'default', '--audience', 'istio-ca'])).trim();
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/default/sa/reviews');
    const ok = await createCertificate({ address: addrs.grpc, csr, token });
    assert.equal(ok.error, undefined, ok.error?.message ?? "");
    assert.ok((ok.chain ?? []).length >= 2);

    const otherAudience = (await cluster.kubectl(['create', 'token', 'reviews', '-n', 'default', '--audience', 'something-else'])).trim();
    const refused = await createCertificate({ address: addrs.grpc, csr, token: otherAudience });
    assert.equal(refused.error?.code, 16, 'UNAUTHENTICATED for another audience');

    // Expired, signed with the cluster's own service-account key: the API server refuses it.
    const key = createPrivateKey(readFileSync(join(cluster.dir, 'pki', 'sa.key')));
    const expired = await new SignJWT({ 'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'reviews', uid: 'x' } } })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('https://kubernetes.default.svc.cluster.local')
      .setAudience('istio-ca')
      .setSubject('system:serviceaccount:default:reviews')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(key);
    assert.equal((await createCertificate({ address: addrs.grpc, csr, token: expired })).error?.code, 16, 'UNAUTHENTICATED when expired');
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.from('not the signature').toString('base64url')}`;
    assert.equal((await createCertificate({ address: addrs.grpc, csr, token: forged })).error?.code, 16, 'UNAUTHENTICATED when forged');
  });

  it('reloads the CA when Secret cacerts appears or changes: new certificates, serving certificates, istio-ca-root-cert and caBundle follow', async () => {
    const token = (await cluster.kubectl(['create', 'token', 'reviews', '-n', 'default', '--audience', 'istio-ca'])).trim();
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/default/sa/reviews', 'rotate');
    const published = (): Promise<string> => cluster.kubectl(['get', 'configmap', 'istio-ca-root-cert', '-n', 'fresh', '-o', 'jsonpath={.data.root-cert\\.pem}']);
    const caBundle = async (): Promise<string> => Buffer.from(await cluster.kubectl(['get', 'validatingwebhookconfiguration', 'istio-validator-istio-system', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']), 'base64').toString();
    for (const [i, name] of ['plug-in-one', 'plug-in-two'].entries()) {
      const ca = plugInCa(dir.path, name);
      const files = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => `--from-file=${f}=${join(ca.dir, f)}`);
      // first created (the self-signed root was in force), then replaced
      const secret = await cluster.kubectl(['create', 'secret', 'generic', 'cacerts', '-n', 'istio-system', ...files, '--dry-run=client', '-o', 'yaml']);
      await cluster.kubectl([i === 0 ? 'create' : 'replace', '-f', '-'], secret);
      await eventually(() => d.rootCertPem() === ca.root, 20_000, `${name}'s root in force`);
      const issued = await createCertificate({ address: addrs.grpc, csr, token });
      assert.equal(issued.error, undefined, issued.error?.message ?? '');
      const chain = issued.chain ?? [];
      assert.equal(chain[chain.length - 1].trim(), ca.root.trim(), 'the new root ends the chain a proxy gets');
      assert.equal(chain[1].trim(), ca.intermediate.trim(), 'signed by the new intermediate');
      assert.ok(opensslVerify(dir.path, chain).ok);
      assert.equal(await eventually(async () => ((await published()) === ca.root ? ca.root : undefined), 20_000, `istio-ca-root-cert with ${name}'s root`), ca.root);
      await eventually(async () => (await caBundle()) === ca.root, 20_000, `the webhook caBundle with ${name}'s root`);
      assert.equal(await servingIssuer(addrs.secureGrpc!), `${name} intermediate`, '15012 serves a certificate of the new CA');
      assert.equal(await servingIssuer(addrs.webhook!), `${name} intermediate`, 'the webhooks serve a certificate of the new CA');
    }
    // An unusable cacerts (key of another CA) is refused; the CA in force stays.
    const other = plugInCa(dir.path, 'plug-in-bad');
    const good = d.rootCertPem();
    await cluster.kubectl(['patch', 'secret', 'cacerts', '-n', 'istio-system', '--type=merge', '-p', JSON.stringify({ data: { 'ca-key.pem': readFileSync(join(other.dir, 'ca-key.pem')).toString('base64') } })]);
    const configErrors = async (): Promise<string[]> => (JSON.parse(await get(addrs.http, '/debug/configz')) as { errors: { resource?: string; message: string }[] }).errors.filter((e) => e.resource === 'Secret istio-system/cacerts').map((e) => e.message);
    const [refusal] = await eventually(async () => ((await configErrors()).length > 0 ? configErrors() : undefined), 20_000, 'the refusal in /debug/configz');
    assert.match(refusal, /not a usable plug-in CA, the CA in force is kept: .*ca-key\.pem does not match ca-cert\.pem/);
    const issued = await createCertificate({ address: addrs.grpc, csr, token });
    assert.equal(issued.chain?.[issued.chain.length - 1].trim(), good?.trim(), 'still the root in force');
    assert.equal(d.rootCertPem(), good);
    const after = plugInCa(dir.path, 'plug-in-three');
    // a good one afterwards is taken
    const files = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => `--from-file=${f}=${join(after.dir, f)}`);
    await cluster.kubectl(['replace', '-f', '-'], await cluster.kubectl(['create', 'secret', 'generic', 'cacerts', '-n', 'istio-system', ...files, '--dry-run=client', '-o', 'yaml']));
    await eventually(() => d.rootCertPem() === after.root, 20_000, 'plug-in-three in force');
    assert.deepEqual(await configErrors(), [], 'the refusal goes once a usable cacerts is there');
  });
});
