import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason } from './netns-test-support.ts';
import { TaskMesh } from './task-mesh.ts';

/**
 * Istio's gateway injection (`inject.istio.io/templates: gateway`, `image: auto`) through
 * `mizzen up`: the user's placeholder `istio-proxy` container is merged over the injected proxy
 * as Istio's injector merges it (user's values win), so its env reaches the gateway proxy's
 * environment (ISTIO_META_* become node metadata; a fieldRef is resolved; a template variable is
 * overridden) and its ports show on the pod's istio-proxy container beside the proxy's own.
 */
const skip = await rootSkipReason();

const GATEWAY = `apiVersion: v1
kind: Namespace
metadata: {name: gw}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: placeholder-gw, namespace: gw}
spec:
  selector: {matchLabels: {app: placeholder-gw}}
  template:
    metadata:
      labels: {app: placeholder-gw, sidecar.istio.io/inject: "true"}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers:
      - name: istio-proxy
        image: auto
        env:
        - {name: ISTIO_META_PLACEHOLDER_NOTE, value: from-the-deployment}
        - name: ISTIO_META_PLACEHOLDER_POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: ISTIO_META_INTERCEPTION_MODE, value: NONE}
        ports:
        - {containerPort: 8080, name: http2}
`;

type Obj = Record<string, any>;

describe("gateway injection through mizzen up: the placeholder istio-proxy container's fields reach the proxy", { skip, timeout: 300_000 }, () => {
  let mesh: TaskMesh;

  before(async () => {
    mesh = await TaskMesh.up('gateway-placeholder', { 'gateway.yaml': GATEWAY });
    await mesh.ready('gw', 'placeholder-gw');
  });

  after(async () => {
    await mesh?.down();
  });

  it("passes the placeholder's env to the gateway proxy (its node metadata), the user's values winning", async () => {
    const pods = JSON.parse((await mesh.cli(['get', 'pods', '-n', 'gw', '-o', 'json'])).stdout) as { items: Obj[] };
    const name = pods.items[0]!.metadata.name as string;
    const r = await mesh.cli(['proxy-config', 'bootstrap', 'deploy/placeholder-gw', '-n', 'gw', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.stringify(JSON.parse(r.stdout));
    assert.match(meta, /"PLACEHOLDER_NOTE":"from-the-deployment"/);
    assert.match(meta, new RegExp(`"PLACEHOLDER_POD":"${name}"`));
    assert.match(meta, /"INTERCEPTION_MODE":"NONE"/, 'the placeholder overrides the template');
    assert.doesNotMatch(meta, /"INTERCEPTION_MODE":"REDIRECT"/);
  });

  it("shows the pod's istio-proxy container as injected: the placeholder's ports beside the proxy's, its env", async () => {
    const pods = JSON.parse((await mesh.cli(['get', 'pods', '-n', 'gw', '-o', 'json'])).stdout) as { items: Obj[] };
    const proxy = (pods.items[0]!.spec.containers as Obj[]).find((c) => c.name === 'istio-proxy')!;
    assert.deepEqual((proxy.ports as Obj[]).map((p) => p.containerPort).sort(), [15090, 8080].sort());
    assert.ok((proxy.env as Obj[]).some((e) => e.name === 'ISTIO_META_PLACEHOLDER_NOTE' && e.value === 'from-the-deployment'));
    assert.equal(proxy.image, 'mizzen/proxy');
  });
});
