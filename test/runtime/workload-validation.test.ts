import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { ingressGatewayManifests } from '../../src/runtime/ingress-gateway.ts';
import { validateWorkloadResource } from '../../src/runtime/workload-validation.ts';

const deployment = (container: string, annotations = ''): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      ${annotations}
    spec:
      containers:
      - ${container}
`;

describe('validateWorkloadResource', () => {
  it('requires a command (images are not run) and names the field', () => {
    const [r] = parseDocuments(deployment('{name: web, image: nginx}'), 'web.yaml').resources;
    assert.deepEqual(validateWorkloadResource(r), [{ path: 'spec.template.spec.containers[0].command', message: 'required by mizzen up: images are not run (except the Istio sample images of src/runtime/sample-images.ts), give command/args of a local process' }]);
  });

  it("runs Istio's sample images it knows without a command (httpbin, ext-authz, fortio)", () => {
    for (const image of ['docker.io/mccutchen/go-httpbin:v2.15.0', 'registry.istio.io/testing/ext-authz:latest', 'docker.io/fortio/fortio:latest_release', 'docker.io/kennethreitz/httpbin']) {
      const [r] = parseDocuments(deployment(`{name: app, image: "${image}"}`), 'sample.yaml').resources;
      assert.deepEqual(validateWorkloadResource(r), [], image);
    }
  });

  it("accepts Istio's gateway injection (the istio-proxy container is the proxy)", () => {
    const [r] = parseDocuments(deployment('{name: istio-proxy, image: auto}', 'annotations: {inject.istio.io/templates: gateway}'), 'gw.yaml').resources;
    assert.deepEqual(validateWorkloadResource(r), []);
    for (const res of parseDocuments(ingressGatewayManifests().text, 'builtin').resources) assert.deepEqual(validateWorkloadResource(res), [], res.kind);
  });

  it('checks selectors against template labels and port numbers', () => {
    const [r] = parseDocuments(deployment('{name: web, command: [x], ports: [{containerPort: 0}]}').replace('matchLabels: {app: web}', 'matchLabels: {app: other}'), 'web.yaml').resources;
    assert.deepEqual(validateWorkloadResource(r).map((i) => i.path), ['spec.selector.matchLabels.app', 'spec.template.spec.containers[0].ports[0].containerPort']);
  });
});
