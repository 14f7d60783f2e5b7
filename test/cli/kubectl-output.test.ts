import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { kindByName } from '../../src/api/kinds.ts';
import { hoistGlobalFlags } from '../../src/cli/main.ts';
import { humanDuration, podStatusReason } from '../../src/cli/kube-printers.ts';
import { renderObjects } from '../../src/cli/object-output.ts';
import { parseResourceArgs, resolveKind } from '../../src/cli/resource-args.ts';
import { parseLabelArgs } from '../../src/cli/label-command.ts';
import { parsePortPair } from '../../src/cli/port-forward-command.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const at = (secondsAgo: number): string => new Date(NOW - secondsAgo * 1000).toISOString();

const vs = (name: string, gateways?: string[]): Record<string, unknown> => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default', creationTimestamp: at(75) },
  spec: { hosts: [name], ...(gateways ? { gateways } : {}) },
});

describe('kubectl output', () => {
  it("prints Istio kinds with their CRD's printer columns", () => {
    const table = renderObjects(kindByName('vs')!, [vs('bookinfo', ['bookinfo-gateway']), vs('reviews')], true, { output: undefined, withNamespace: false, now: NOW });
    assert.equal(table, 'NAME       GATEWAYS               HOSTS          AGE\nbookinfo   ["bookinfo-gateway"]   ["bookinfo"]   75s\nreviews                           ["reviews"]    75s\n');
    const pa = { metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: at(700) }, spec: { mtls: { mode: 'STRICT' } } };
    assert.equal(renderObjects(kindByName('pa')!, [pa], true, { output: undefined, withNamespace: true, now: NOW }), 'NAMESPACE      NAME      MODE     AGE\nistio-system   default   STRICT   11m\n');
    // No printer columns in the CRD: NAME and AGE, as kubectl prints any custom resource.
    assert.equal(renderObjects(kindByName('gw')!, [{ metadata: { name: 'g', creationTimestamp: at(5) } }], true, { output: undefined, withNamespace: false, now: NOW }), 'NAME   AGE\ng      5s\n');
  });

  it('prints lists as kind: List (json with 4-space indent, yaml), one object alone, and -o name', () => {
    const json = JSON.parse(renderObjects(kindByName('vs')!, [vs('a')], true, { output: 'json', withNamespace: false }));
    assert.equal(json.kind, 'List');
    assert.equal(json.apiVersion, 'v1');
    assert.equal(json.items[0].metadata.name, 'a');
    assert.match(renderObjects(kindByName('vs')!, [vs('a')], true, { output: 'json', withNamespace: false }), /^\{\n {4}"apiVersion": "v1",/);
    assert.equal((parse(renderObjects(kindByName('vs')!, [vs('a')], false, { output: 'yaml', withNamespace: false })) as { kind: string }).kind, 'VirtualService');
    assert.equal(renderObjects(kindByName('deploy')!, [{ metadata: { name: 'x' } }], true, { output: 'name', withNamespace: false }), 'deployment.apps/x\n');
    assert.equal(renderObjects(kindByName('vs')!, [vs('a')], true, { output: 'custom-columns=N:.metadata.name,H:.spec.hosts[0]', withNamespace: false }), 'N   H\na   a\n');
    assert.throws(() => renderObjects(kindByName('vs')!, [], true, { output: 'toml', withNamespace: false }), /unable to match a printer/);
  });

  it('shows pods with READY, STATUS, RESTARTS as kubectl computes them, and PIDs with -o wide', () => {
    const pod = {
      metadata: { name: 'reviews-v1-abc-xyz', creationTimestamp: at(200) },
      spec: { nodeName: 'mizzen-node', containers: [{ name: 'reviews' }, { name: 'istio-proxy' }] },
      status: {
        phase: 'Running',
        podIP: '10.244.0.5',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [
          { name: 'reviews', ready: false, restartCount: 1, state: { terminated: { reason: 'Error', exitCode: 1 } }, lastState: { terminated: { finishedAt: at(30) } }, containerID: 'pid://4242' },
          { name: 'istio-proxy', ready: true, restartCount: 0, state: { running: {} }, containerID: 'pid://4141' },
        ],
      },
    };
    const wide = renderObjects(kindByName('pods')!, [pod], true, { output: 'wide', withNamespace: false, now: NOW });
    assert.equal(wide.split('\n')[0], 'NAME                 READY   STATUS   RESTARTS      AGE     IP           NODE          NOMINATED NODE   READINESS GATES   PID');
    assert.equal(wide.split('\n')[1], 'reviews-v1-abc-xyz   1/2     Error    1 (30s ago)   3m20s   10.244.0.5   mizzen-node   <none>           <none>            4242,4141');
    const backoff = { ...pod, status: { ...pod.status, containerStatuses: [{ name: 'reviews', state: { waiting: { reason: 'CrashLoopBackOff' } } }] } };
    assert.equal(podStatusReason(backoff), 'CrashLoopBackOff');
    assert.equal(podStatusReason({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: at(0) } }), 'Terminating');
  });

  it("shows a LoadBalancer Service's address and node ports", () => {
    const svc = { metadata: { name: 'istio-ingressgateway', creationTimestamp: at(10) }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.10', ports: [{ port: 80, nodePort: 8080, protocol: 'TCP' }, { port: 443 }] }, status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } } };
    assert.equal(renderObjects(kindByName('svc')!, [svc], true, { output: undefined, withNamespace: false, now: NOW }).split('\n')[1], 'istio-ingressgateway   LoadBalancer   10.96.0.10   127.0.0.1     80:8080/TCP,443/TCP   10s');
  });

  it("formats ages as kubectl's HumanDuration", () => {
    assert.deepEqual([5, 119, 120, 190, 600, 3 * 3600 - 1, 5 * 3600 + 180, 30 * 3600, 3 * 86400 + 3600, 20 * 86400].map((s) => humanDuration(s * 1000)), ['5s', '119s', '2m', '3m10s', '10m', '179m', '5h3m', '30h', '3d1h', '20d']);
  });
});

describe('kubectl arguments', () => {
  it('resolves kinds by short name, plural and KIND.GROUP, and kubectl-style resource lists', () => {
    assert.equal(resolveKind('vs').kind, 'VirtualService');
    assert.equal(resolveKind('authorizationpolicy.security.istio.io').kind, 'AuthorizationPolicy');
    assert.equal(resolveKind('deployments.apps').kind, 'Deployment');
    assert.equal(resolveKind('ns').kind, 'Namespace');
    assert.equal(resolveKind('telemetry').kind, 'Telemetry');
    // the Gateway API's Gateway is apart from Istio's (both known now that the mesh serves it)
    assert.equal(resolveKind('gateway.gateway.networking.k8s.io').group, 'gateway.networking.k8s.io');
    assert.equal(resolveKind('gateway').group, 'networking.istio.io');
    assert.throws(() => resolveKind('frobnicators'), /doesn't have a resource type/);
    assert.deepEqual(parseResourceArgs(['vs,dr']).map((s) => s.kind.kind), ['VirtualService', 'DestinationRule']);
    assert.deepEqual(parseResourceArgs(['deploy/a', 'deploy/b', 'svc/c']).map((s) => [s.kind.kind, s.names]), [['Deployment', ['a', 'b']], ['Service', ['c']]]);
    assert.deepEqual(parseResourceArgs(['pods', 'a', 'b'])[0].names, ['a', 'b']);
  });

  it('moves flags given before the verb behind it, as kubectl -n NS get ...', () => {
    assert.deepEqual(hoistGlobalFlags(['node', 'mizzen', '-n', 'istio-system', 'get', 'svc', 'x']), ['node', 'mizzen', 'get', '-n', 'istio-system', 'svc', 'x']);
    assert.deepEqual(hoistGlobalFlags(['node', 'mizzen', '--namespace=foo', 'exec', 'p']), ['node', 'mizzen', 'exec', '--namespace=foo', 'p']);
    assert.deepEqual(hoistGlobalFlags(['node', 'mizzen', '-n', 'foo', 'rollout', 'restart', 'deploy/x']), ['node', 'mizzen', 'rollout', 'restart', '-n', 'foo', 'deploy/x']);
    assert.deepEqual(hoistGlobalFlags(['node', 'mizzen', 'get', 'pods', '-n', 'x']), ['node', 'mizzen', 'get', 'pods', '-n', 'x']);
    assert.deepEqual(hoistGlobalFlags(['node', 'mizzen', '--version']), ['node', 'mizzen', '--version']);
  });

  it('parses label updates and port pairs', () => {
    assert.deepEqual(parseLabelArgs(['istio-injection=enabled', 'old-']), { 'istio-injection': 'enabled', old: null });
    assert.throws(() => parseLabelArgs(['=x']), /invalid label spec/);
    assert.deepEqual(parsePortPair('8080:80'), { local: 8080, remote: '80' });
    assert.deepEqual(parsePortPair(':80'), { local: 0, remote: '80' });
    assert.deepEqual(parsePortPair('9080'), { local: 9080, remote: '9080' });
    assert.deepEqual(parsePortPair('8000:http'), { local: 8000, remote: 'http' });
  });
});
