import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { cli, leftovers, REPO, rootSkipReason, tempDir, waitFor } from '../runtime/netns-test-support.ts';

/**
 * Interop with Istio's own ztunnel (the Rust binary, built from its source by scripts/ztunnel.sh
 * into /var/cache/mizzen/ztunnel/ztunnel; CI has no copy of that source, so this skips there):
 * `mizzen up --ztunnel-binary` runs it as the node's ztunnel. It must take its configuration from
 * mizzen discovery's workload API (delta ADS, `istio.workload.Address`), its certificates from
 * mizzen's CA (CreateCertificate with impersonation for the node's pods), and its pods from mizzen's
 * node agent over ZDS; then carry HBONE between ambient pods, to a mizzen sidecar
 * (`connect_terminate` on 15008) and from a mizzen sidecar (`connect_originate`), all under STRICT.
 */
const ZTUNNEL = '/var/cache/mizzen/ztunnel/ztunnel';
const skip = (await rootSkipReason()) || (existsSync(ZTUNNEL) ? false : `Istio's ztunnel is not built: run scripts/ztunnel.sh SRC_DIR (an istio/ztunnel checkout) to get ${ZTUNNEL}`);
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');

const app = (ns: string, name: string, echo: boolean): string => `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: ${ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      serviceAccountName: ${name}
      containers: [${echo ? `{name: main, command: ["node", "${ECHO}"], ports: [{containerPort: 8080}]}` : '{name: main, image: curl, command: [sleep, infinity]}'}]
${echo ? `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: 8080}]
` : ''}`;

const MESH = `apiVersion: v1
kind: Namespace
metadata:
  name: ambient
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels: {istio-injection: enabled}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
---
${app('ambient', 'client', false)}---
${app('ambient', 'server', true)}---
${app('legacy', 'web', true)}---
${app('legacy', 'sleep', false)}`;

describe("Istio's ztunnel on mizzen's discovery, CA and node agent", { skip, timeout: 400_000 }, () => {
  let dir: string;
  let prefix = '';
  const pods: Record<string, string> = {};

  const ztunnelLog = (): string => {
    const f = join(dir, '.mizzen', 'logs', 'ztunnel.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  };
  const curl = async (ns: string, from: string, url: string): Promise<string> =>
    (await cli(['exec', '-n', ns, pods[from]!, '-c', 'main', '--', 'curl', '-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', url], dir)).stdout.trim();
  const configDump = async (): Promise<string> => (await runHostCommand('ip', ['netns', 'exec', `${prefix}-node`, 'curl', '-s', '--max-time', '5', 'http://127.0.0.1:15000/config_dump'], { allowFailure: true })).stdout;

  before(() => {
    dir = tempDir('istio-ztunnel');
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(join(dir, 'mesh', 'mesh.yaml'), MESH);
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets ready on our workload API, CA and ZDS (its config_dump lists our workloads and its certificates)', async () => {
    const up = await cli(['up', '-d', join(dir, 'mesh'), '--ztunnel-binary', ZTUNNEL, '--timeout', '300s'], dir);
    assert.equal(up.code, 0, `${up.stderr}\n${ztunnelLog().slice(-3000)}`);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    for (const ns of ['ambient', 'legacy']) {
      const list = JSON.parse((await cli(['get', 'pods', '-n', ns, '-o', 'json'], dir)).stdout) as { items: { metadata: { name: string; labels: Record<string, string> } }[] };
      for (const p of list.items) pods[p.metadata.labels.app!] = p.metadata.name;
    }
    const dump = await waitFor("Istio's ztunnel config_dump with our workloads and certificates", async () => {
      const d = await configDump();
      return d.includes(`Kubernetes//Pod/ambient/${pods.server}`) && d.includes('spiffe://cluster.local/ns/ambient/sa/server') ? d : undefined;
    }, 120_000);
    assert.match(dump, /server\.ambient\.svc\.cluster\.local/);
  });

  it('carries ambient → ambient over HBONE between its own pods (STRICT)', async () => {
    await waitFor('200 from the ambient server', async () => (await curl('ambient', 'client', 'http://server.ambient/')) === '200', 90_000);
    await waitFor("Istio's ztunnel logs the client's identity", () => /src\.identity="?spiffe:\/\/cluster\.local\/ns\/ambient\/sa\/client/.test(ztunnelLog()));
  });

  it('reaches a mizzen sidecar over HBONE (its connect_terminate on 15008), with the client identity (STRICT)', async () => {
    await waitFor('200 from the sidecar server', async () => (await curl('ambient', 'client', 'http://web.legacy/')) === '200', 90_000);
  });

  it('accepts HBONE from a mizzen sidecar (STRICT)', async () => {
    await waitFor('200 from the ambient server to the sidecar client', async () => (await curl('legacy', 'sleep', 'http://server.ambient/')) === '200', 90_000);
    await waitFor("Istio's ztunnel logs the sidecar's identity", () => /src\.identity="?spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/sleep/.test(ztunnelLog()));
  });
});
