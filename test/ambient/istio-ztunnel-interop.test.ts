import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh, appManifest, namespaceManifest, strictManifest } from './support/ambient-mesh.ts';
import { ISTIO_ZTUNNEL, istioZtunnelSkipReason } from './support/istio-ztunnel-node.ts';

/**
 * Interop with Istio's own ztunnel (the Rust binary, built from its source by scripts/ztunnel.sh
 * into /var/cache/mizzen/ztunnel/ztunnel; CI has no copy of that source, so this skips there):
 * `mizzen up --ztunnel-binary` runs it as the node's ztunnel. It must take its configuration from
 * mizzen discovery's workload API (delta ADS, `istio.workload.Address`), its certificates from
 * mizzen's CA (CreateCertificate with impersonation for the node's pods), and its pods from mizzen's
 * node agent over ZDS; then carry HBONE between ambient pods, to a mizzen sidecar
 * (`connect_terminate` on 15008) and from a mizzen sidecar (`connect_originate`), all under STRICT.
 */
const skip = (await rootSkipReason()) || istioZtunnelSkipReason();
const app = (ns: string, name: string, echo: boolean): string => appManifest(ns, name, echo ? 'echo' : 'sleep');

const MESH = `${namespaceManifest('ambient', 'ambient')}---
${namespaceManifest('legacy', 'injected')}---
${strictManifest('istio-system')}---
${app('ambient', 'client', false)}---
${app('ambient', 'server', true)}---
${app('legacy', 'web', true)}---
${app('legacy', 'sleep', false)}`;

describe("Istio's ztunnel on mizzen's discovery, CA and node agent", { skip, timeout: 400_000 }, () => {
  const mesh = new AmbientMesh('istio-ztunnel');
  let pods: Record<string, string> = {};

  const ztunnelLog = (): string => mesh.log('ztunnel');
  const curl = async (ns: string, from: string, url: string): Promise<string> => (await mesh.curl({ namespace: ns, pod: pods[from]!, container: 'main' }, ['-o', '/dev/null', url])).status;
  const configDump = (): Promise<string> => mesh.nodeCurl('http://127.0.0.1:15000/config_dump');

  before(() => mesh.create(MESH));
  after(() => mesh.down());

  it('gets ready on our workload API, CA and ZDS (its config_dump lists our workloads and its certificates)', async () => {
    await mesh.up(['--ztunnel-binary', ISTIO_ZTUNNEL, '--timeout', '300s'], () => ztunnelLog().slice(-3000));
    pods = await mesh.podsByApp(['ambient', 'legacy']);
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
