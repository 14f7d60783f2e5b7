import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KindInfo } from '../../src/api/kinds.ts';
import type { ClusterAccess, KubeObject } from '../../src/cli/cluster-access.ts';
import { chooseContainer, resolvePod } from '../../src/cli/pod-target.ts';

const pod = (name: string, containers: string[], o: { annotations?: Record<string, string>; init?: string[]; labels?: Record<string, string>; ready?: boolean } = {}): KubeObject => ({
  metadata: { name, namespace: 'default', labels: o.labels ?? {}, annotations: o.annotations ?? {} },
  spec: { containers: containers.map((n) => ({ name: n })), initContainers: (o.init ?? []).map((n) => ({ name: n })) },
  status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});

describe("logs/exec pick the container as kubectl does (podcmd.FindOrDefaultContainerByName)", () => {
  it('the only container, with no note', () => {
    const notes: string[] = [];
    assert.equal(chooseContainer(pod('gw', ['istio-proxy']), undefined, (l) => notes.push(l)), 'istio-proxy');
    assert.deepEqual(notes, []);
  });

  it("the kubectl.kubernetes.io/default-container annotation (Istio's injector sets it to the app), with no note", () => {
    const notes: string[] = [];
    const p = pod('reviews-v1-x', ['istio-proxy', 'reviews'], { annotations: { 'kubectl.kubernetes.io/default-container': 'reviews' }, init: ['istio-init'] });
    assert.equal(chooseContainer(p, undefined, (l) => notes.push(l)), 'reviews');
    assert.deepEqual(notes, []);
  });

  it("else the first container, with kubectl's note listing every container", () => {
    const notes: string[] = [];
    assert.equal(chooseContainer(pod('x', ['app', 'istio-proxy'], { init: ['istio-init'] }), undefined, (l) => notes.push(l)), 'app');
    assert.deepEqual(notes, ['Defaulted container "app" out of: app, istio-proxy, istio-init (init)']);
  });

  it('an annotation naming no container is reported, then the first is taken', () => {
    const notes: string[] = [];
    assert.equal(chooseContainer(pod('x', ['a', 'b'], { annotations: { 'kubectl.kubernetes.io/default-container': 'gone' } }), undefined, (l) => notes.push(l)), 'a');
    assert.deepEqual(notes, ['Default container name "gone" not found in pod x', 'Defaulted container "a" out of: a, b']);
  });

  it('-c names any container (init ones too); an unknown one is an error listing them', () => {
    const p = pod('x', ['app', 'istio-proxy'], { init: ['istio-init'] });
    assert.equal(chooseContainer(p, 'istio-proxy', () => {}), 'istio-proxy');
    assert.equal(chooseContainer(p, 'istio-init', () => {}), 'istio-init');
    assert.throws(() => chooseContainer(p, 'nope', () => {}), /container nope not found in pod x/);
  });
});

describe('logs/exec targets: POD, pod/POD, deploy/NAME', () => {
  const pods = [pod('web-1', ['web'], { labels: { app: 'web' }, ready: false }), pod('web-2', ['web'], { labels: { app: 'web' } }), pod('db-1', ['db'], { labels: { app: 'db' } })];
  const deployments = [{ metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } } } }];
  // Only list() is used: objects as an API server lists them.
  const access = { list: async (kind: KindInfo) => (kind.kind === 'Pod' ? pods : kind.kind === 'Deployment' ? deployments : []) } as unknown as ClusterAccess;

  it('a pod by name', async () => {
    assert.equal((await resolvePod(access, 'default', 'db-1', () => {})).metadata.name, 'db-1');
    assert.equal((await resolvePod(access, 'default', 'pod/db-1', () => {})).metadata.name, 'db-1');
    await assert.rejects(resolvePod(access, 'default', 'nope', () => {}), /pods "nope" not found/);
  });

  it("a Deployment's ready pod first, with kubectl's note when it has several", async () => {
    const notes: string[] = [];
    assert.equal((await resolvePod(access, 'default', 'deploy/web', (l) => notes.push(l))).metadata.name, 'web-2');
    assert.deepEqual(notes, ['Found 2 pods, using pod/web-2']);
    await assert.rejects(resolvePod(access, 'default', 'deployment/nope', () => {}), /deployments.apps "nope" not found/);
  });
});
