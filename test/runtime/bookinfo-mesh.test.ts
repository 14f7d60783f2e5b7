import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalMesh } from '../../src/runtime/local-mesh.ts';
import { leftovers, REPO, rootSkipReason, tempDir, testMesh, waitFor, freePort } from './netns-test-support.ts';

const skip = await rootSkipReason();

/** examples/bookinfo under `mizzen up` (pods without sidecars: Service DNAT only). */
describe('Bookinfo on a local mesh', { skip }, () => {
  let dir: string;
  let mesh: LocalMesh;
  let port: number;
  const pids: number[] = [];

  before(async () => {
    dir = tempDir('bookinfo');
    port = await freePort();
    mesh = testMesh(dir, join(REPO, 'examples/bookinfo'), { exposes: [{ namespace: 'default', service: 'productpage', port: 9080, localPort: port }] });
    await mesh.start();
    await waitFor('bookinfo ready', () => mesh.runtime.readiness().ready);
    for (const p of mesh.runtime.views.podViews()) for (const c of p.containers) if (c.status.pid) pids.push(c.status.pid);
  });

  after(async () => {
    if (!mesh) return;
    await mesh.close();
    const left = await leftovers(mesh.prefix, pids);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, []);
  });

  it('runs every Bookinfo workload as Istio\'s bookinfo.yaml declares them', () => {
    const deployments = mesh.runtime.views.deploymentViews('default').map((d) => `${d.name} ${d.ready}/${d.replicas}`);
    assert.deepEqual(deployments, ['details-v1 1/1', 'productpage-v1 1/1', 'ratings-v1 1/1', 'reviews-v1 1/1', 'reviews-v2 1/1', 'reviews-v3 1/1']);
    assert.deepEqual(mesh.runtime.views.serviceStatusViews('default').map((s) => `${s.name} ${s.endpoints}`), ['details 1', 'productpage 1', 'ratings 1', 'reviews 3']);
  });

  it('answers /productpage through --expose, with reviews v1, v2 and v3 all answering', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/productpage`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /The Comedy of Errors/);
    const seen = new Set<string>();
    await waitFor('reviews v1, v2 and v3', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${port}/api/v1/products/0/reviews`)).json()) as { podname: string };
      seen.add(r.podname.split('-')[1]);
      return seen.size === 3;
    }, 20_000);
    assert.deepEqual([...seen].sort(), ['v1', 'v2', 'v3']);
  });
});
