import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh, appManifest, ECHO_SERVER, namespaceManifest, strictManifest } from './support/ambient-mesh.ts';

/**
 * Ambient clients to a sidecar server, as Istio's ambient profile runs sidecars
 * (`ISTIO_META_ENABLE_HBONE=true`): the injected pod is labelled `networking.istio.io/tunnel: http`,
 * discovery tells ztunnel it takes HBONE, and the sidecar terminates HBONE on 15008 into its
 * inbound chains (`main_internal`). So under PeerAuthentication STRICT an ambient client reaches
 * the sidecar with its own SPIFFE identity (plaintext from ztunnel would be refused), an
 * AuthorizationPolicy on the sidecar tells two ambient clients apart by that identity, and a
 * client outside the mesh is still refused.
 */
const skip = await rootSkipReason();
const sleeper = (ns: string, name: string): string => appManifest(ns, name, 'sleep');

const MESH = `${namespaceManifest('ambient', 'ambient')}---
${namespaceManifest('legacy', 'injected')}---
${namespaceManifest('plain')}---
${strictManifest('legacy')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-client, namespace: legacy}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules: [{from: [{source: {principals: ["cluster.local/ns/ambient/sa/client"]}}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: legacy}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: legacy}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: echo, command: ["node", "${ECHO_SERVER}"], ports: [{containerPort: 8080}]}]
---
${sleeper('ambient', 'client')}---
${sleeper('ambient', 'other')}---
${sleeper('plain', 'outsider')}`;

describe('ambient clients to a sidecar server over HBONE (STRICT)', { skip, timeout: 300_000 }, () => {
  const mesh = new AmbientMesh('sidecar-hbone');
  let pods: Record<string, string> = {};

  const accessLog = (): string[] => mesh.accessLog();
  const curl = async (ns: string, app: string): Promise<{ code: string; body: string }> => {
    const r = await mesh.curl({ namespace: ns, pod: pods[app]!, container: 'main' }, ['http://web.legacy/hello']);
    return { code: r.status, body: r.body };
  };

  before(() => mesh.create(MESH));
  after(() => mesh.down());

  it('labels the injected pod networking.istio.io/tunnel=http', async () => {
    await mesh.up();
    pods = await mesh.podsByApp(['ambient', 'legacy', 'plain']);
    const web = JSON.parse((await mesh.cli(['get', 'pod', pods.web!, '-n', 'legacy', '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string> } };
    assert.equal(web.metadata.labels['networking.istio.io/tunnel'], 'http');
  });

  it('lets an ambient client reach the sidecar under STRICT, over HBONE to 15008 with its own identity', async () => {
    const r = await waitFor('200 from the sidecar server', async () => {
      const c = await curl('ambient', 'client');
      return c.code === '200' ? c : undefined;
    }, 90_000);
    assert.match(r.body, /"path":"\/hello"/);
    const line = await waitFor('ztunnel logs the HBONE connection to the sidecar', () => accessLog().find((l) => l.includes('direction="outbound"') && l.includes('src.identity="spiffe://cluster.local/ns/ambient/sa/client"') && /dst\.addr=[0-9.]+:15008 dst\.hbone_addr=[0-9.]+:8080 /.test(l) && l.includes('dst.workload="web-'))).catch((err: Error) => {
      throw new Error(`${err.message}; ztunnel's lines: ${accessLog().filter((l) => l.includes('direction="outbound"')).join('\n')}`);
    });
    assert.match(line, /dst\.identity="spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/default"/);
  });

  it('lets the sidecar\'s AuthorizationPolicy tell ambient clients apart by identity', async () => {
    const denied = await curl('ambient', 'other');
    assert.equal(denied.code, '403', denied.body);
    assert.match(denied.body, /RBAC: access denied/);
    assert.equal((await curl('ambient', 'client')).code, '200');
  });

  it('still refuses a client outside the mesh (STRICT)', async () => {
    const r = await curl('plain', 'outsider');
    assert.equal(r.code, '000', r.body);
  });
});
