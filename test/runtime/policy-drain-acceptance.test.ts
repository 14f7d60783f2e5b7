import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor, cli, freePort } from './netns-test-support.ts';

/**
 * Issue 12, item 1, end to end through `mizzen up`: Istio's authorization task (allow-nothing →
 * productpage-viewer → details/reviews viewers → ratings viewer → delete) and its mTLS migration
 * task (PERMISSIVE → STRICT with a client outside the mesh), on a mesh already carrying traffic
 * over warm keep-alive connections (gateway → productpage, productpage → details/reviews,
 * reviews → ratings, a plaintext curl keep-alive from a pod without sidecar). Each step must give
 * the answers Istio's docs show within the drain period (3 s here, from MeshConfig
 * defaultConfig.drainDuration) plus the time the push takes; before listener drain, warm
 * connections kept their old filter chain for good.
 */
const SAMPLES = join(REPO, '../shared/istio/istio/samples');
const NETWORKING = join(SAMPLES, 'bookinfo/networking');
const skip = (await rootSkipReason()) || (!existsSync(NETWORKING) ? `Istio's samples are missing (${NETWORKING})` : false);
const DRAIN_S = 3;
/**
 * A step's answers must settle within this after `apply` returns: push + drain period, with room
 * for a loaded machine (each check of the mTLS steps runs `mizzen exec`); without drain a warm
 * connection keeps its old filter chain for good and the step never settles.
 */
const STEP_BOUND_MS = 60_000;

const policy = (name: string, spec: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: default
spec:
${spec}`;

/** The policies of Istio's "Authorization for HTTP traffic" task, as its docs give them. */
const TASK = {
  'allow-nothing': policy('allow-nothing', '  {}\n'),
  'productpage-viewer': policy('productpage-viewer', '  selector:\n    matchLabels:\n      app: productpage\n  action: ALLOW\n  rules:\n  - to:\n    - operation:\n        methods: ["GET"]\n'),
  'details-viewer': policy('details-viewer', '  selector:\n    matchLabels:\n      app: details\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]\n    to:\n    - operation:\n        methods: ["GET"]\n'),
  'reviews-viewer': policy('reviews-viewer', '  selector:\n    matchLabels:\n      app: reviews\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]\n    to:\n    - operation:\n        methods: ["GET"]\n'),
  'ratings-viewer': policy('ratings-viewer', '  selector:\n    matchLabels:\n      app: ratings\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]\n    to:\n    - operation:\n        methods: ["GET"]\n'),
};

interface Reviews {
  podname?: string;
  reviews?: { rating?: { stars?: number; error?: string } }[];
}

describe("Istio's authorization and mTLS migration tasks on a mesh carrying traffic (listener drain)", { skip, timeout: 900_000 }, () => {
  let dir: string;
  let port: number;
  let gatewayPort: number;
  let prefix = '';
  let traffic: { stop: boolean; done: Promise<void>; requests: number } | undefined;
  let keepAliveCurl: ChildProcess | undefined;

  const file = (name: string, text: string): string => {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(f, text);
    return f;
  };
  const apply = async (...files: string[]): Promise<void> => {
    const r = await cli(['apply', ...files.flatMap((f) => ['-f', f])], dir);
    assert.equal(r.code, 0, r.stderr);
  };
  const remove = async (...files: string[]): Promise<void> => {
    const r = await cli(['delete', ...files.flatMap((f) => ['-f', f])], dir);
    assert.equal(r.code, 0, r.stderr);
  };
  const gateway = async (): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${gatewayPort}/productpage`);
    return { status: res.status, body: await res.text() };
  };
  const api = async (path: string): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/products/0${path}`);
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // a local reply
    }
    return { status: res.status, json };
  };
  /**
   * Time from now until `check` holds five times in a row (answers settle: no warm connection
   * still answers from an old filter chain); fails after STEP_BOUND_MS.
   */
  const settles = async (what: string, check: () => Promise<boolean>): Promise<number> => {
    const started = Date.now();
    let streak = 0;
    await waitFor(what, async () => {
      streak = (await check().catch(() => false)) ? streak + 1 : 0;
      return streak >= 5;
    }, STEP_BOUND_MS);
    const took = Date.now() - started;
    process.stderr.write(`${what}: settled after ${took} ms\n`);
    return took;
  };
  /** Reviews from v2/v3 (the ones that call ratings), any of several tries. */
  const ratedReviews = async (want: (r: { stars?: number; error?: string }) => boolean): Promise<boolean> => {
    for (let i = 0; i < 6; i++) {
      const r = await api('/reviews');
      const body = r.json as Reviews;
      if (r.status !== 200) return false;
      if (body.podname?.includes('-v1-')) continue;
      const rating = body.reviews?.[0]?.rating;
      return rating !== undefined && want(rating);
    }
    return false;
  };

  before(async () => {
    dir = tempDir('policy-drain');
    port = await freePort();
    gatewayPort = await freePort();
    const manifests = join(dir, 'manifests');
    mkdirSync(manifests);
    cpSync(join(REPO, 'examples/bookinfo'), manifests, { recursive: true });
    // MeshConfig: the drain period proxies use for listener updates (Istio's ProxyConfig drainDuration).
    writeFileSync(join(manifests, 'mesh.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\ndata:\n  mesh: |\n    defaultConfig:\n      drainDuration: ${DRAIN_S}s\n`);
  });

  after(async () => {
    if (traffic) {
      traffic.stop = true;
      await traffic.done;
    }
    if (keepAliveCurl?.pid) {
      try {
        process.kill(-keepAliveCurl.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs Bookinfo with the gateway, proxies drain in 3 s (defaultConfig.drainDuration), and traffic flows', async () => {
    const up = await cli(['up', '-d', join(dir, 'manifests'), '--expose', `default/productpage:9080=${port}`, '--ingress-gateway', '--expose', `istio-system/istio-ingressgateway:80=${gatewayPort}`], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    const info = await cli(['exec', 'deploy/productpage-v1', '--', 'curl', '-s', 'http://127.0.0.1:15000/server_info'], dir);
    assert.equal((JSON.parse(info.stdout) as { command_line_options: { drain_time: string } }).command_line_options.drain_time, `${DRAIN_S}s`);
    await apply(join(NETWORKING, 'bookinfo-gateway.yaml'));
    await settles('gateway serves /productpage', async () => (await gateway()).status === 200);
    // Traffic on warm keep-alive connections all along (fetch keeps them): gateway → productpage,
    // productpage → details/reviews (its sidecar's upstream pool), reviews → ratings.
    const t = { stop: false, requests: 0, done: Promise.resolve() };
    t.done = (async () => {
      while (!t.stop) {
        await Promise.all([gateway(), api(''), api('/reviews')]).catch(() => undefined);
        t.requests++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    traffic = t;
    await settles('details and reviews answer', async () => (await api('')).status === 200 && (await api('/reviews')).status === 200);
  });

  it('applies what Mizzen does not implement outside security policy with a warning naming file, resource and field', async () => {
    const sidecar = file('sidecar', 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: ingress\n  namespace: default\nspec:\n  workloadSelector:\n    labels:\n      app: nothing-runs-this\n  ingress:\n  - port:\n      number: 9080\n      protocol: HTTP\n      name: http\n    defaultEndpoint: unix:///var/run/app.sock\n');
    const w = await cli(['apply', '-f', sidecar], dir);
    assert.equal(w.code, 0, w.stderr);
    // kubectl's `Warning:` and the field's own line (`defaultEndpoint:` is line 15)
    assert.match(w.stderr, /^Warning: .*sidecar\.yaml:15: Sidecar default\/ingress: spec\.ingress\[0\]\.defaultEndpoint: not supported by Mizzen: Sidecar ingress defaultEndpoint on a Unix domain socket/m);
    await remove(sidecar);
  });

  it('allow-nothing: the page and every service behind it answer "RBAC: access denied"', async () => {
    await apply(file('allow-nothing', TASK['allow-nothing']));
    await settles('allow-nothing denies everything', async () => {
      const g = await gateway();
      return g.status === 403 && g.body === 'RBAC: access denied' && (await api('')).status === 403 && (await api('/reviews')).status === 403;
    });
  });

  it('productpage-viewer: the page loads, with errors fetching details and reviews', async () => {
    await apply(file('productpage-viewer', TASK['productpage-viewer']));
    await settles('productpage-viewer', async () => {
      const g = await gateway();
      return g.status === 200 && g.body.includes('Error fetching product details') && g.body.includes('Error fetching product reviews');
    });
  });

  it('details-viewer and reviews-viewer: details and reviews show, ratings are unavailable', async () => {
    await apply(file('details-viewer', TASK['details-viewer']), file('reviews-viewer', TASK['reviews-viewer']));
    await settles('details and reviews viewers', async () => {
      const g = await gateway();
      return g.status === 200 && !g.body.includes('Error fetching') && (await ratedReviews((r) => r.error === 'Ratings service is currently unavailable'));
    });
  });

  it('ratings-viewer: the stars come back', async () => {
    await apply(file('ratings-viewer', TASK['ratings-viewer']));
    await settles('ratings viewer', async () => (await gateway()).status === 200 && (await ratedReviews((r) => typeof r.stars === 'number')));
  });

  it('deleting the viewers brings back "RBAC: access denied"; deleting allow-nothing restores everything (the gateway does not stay at 403)', async () => {
    await remove(...['productpage-viewer', 'details-viewer', 'reviews-viewer', 'ratings-viewer'].map((n) => join(dir, `${n}.yaml`)));
    await settles('only allow-nothing left', async () => (await gateway()).status === 403 && (await api('')).status === 403);
    await remove(join(dir, 'allow-nothing.yaml'));
    await settles('no policies: everything answers', async () => {
      const g = await gateway();
      return g.status === 200 && !g.body.includes('Error fetching') && (await ratedReviews((r) => typeof r.stars === 'number'));
    });
  });

  it('mTLS migration: STRICT cuts a plaintext keep-alive opened before it (after its next response), mesh traffic keeps flowing', async () => {
    const sleepYaml = existsSync(join(SAMPLES, 'sleep/sleep.yaml')) ? join(SAMPLES, 'sleep/sleep.yaml') : join(SAMPLES, 'curl/curl.yaml');
    const app = sleepYaml.includes('sleep') ? 'sleep' : 'curl';
    const applied = await cli(['apply', '-n', 'legacy', '-f', sleepYaml], dir);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor(`${app} ready`, async () => new RegExp(`${app}-\\w+-\\w+\\s+1/1\\s+Running`).test((await cli(['get', 'pods', '-n', 'legacy'], dir)).stdout));
    const fresh = async (): Promise<string> => (await cli(['exec', '-n', 'legacy', `deploy/${app}`, '--', 'curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://productpage.default:9080/health'], dir)).stdout;
    assert.equal(await fresh(), '200', 'PERMISSIVE: plaintext from outside the mesh is accepted');
    // One curl, many requests on one kept-alive connection (4 per second): a client outside the mesh with a warm connection.
    const lines: string[] = [];
    // -w to stderr: curl buffers stdout when it is a pipe, stderr it does not.
    keepAliveCurl = spawn(process.execPath, [CLI_ENTRY, 'exec', '-n', 'legacy', `deploy/${app}`, '--', 'curl', '-s', '--rate', '4/s', '-m', '3', '-o', '/dev/null', '-w', '%{stderr}%{http_code} %{num_connects} %header{connection}\\n', 'http://productpage.default:9080/health?[1-2000]'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let pending = '';
    keepAliveCurl.stderr!.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
    });
    await waitFor('the keep-alive curl to reuse its connection', () => lines.filter((l) => l.startsWith('200 0')).length >= 3);
    const strict = file('strict', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: default\nspec:\n  mtls:\n    mode: STRICT\n');
    const mark = lines.length;
    await apply(strict);
    await settles('STRICT refuses plaintext, the warm connection included', async () => !lines.slice(-1)[0]?.startsWith('200') && (await fresh()) !== '200' && (await gateway()).status === 200);
    const after = lines.slice(mark);
    const closing = after.findIndex((l) => / close$/.test(l));
    const firstFailure = after.findIndex((l) => !l.startsWith('200'));
    assert.ok(firstFailure >= 0, `the warm plaintext connection stops getting answers: ${after.join(' | ')}`);
    assert.ok(closing >= 0 && closing < firstFailure, `its last answer carried connection: close (Envoy's drain) before the failures: ${after.join(' | ')}`);
    await remove(strict);
    await settles('PERMISSIVE again: plaintext accepted', async () => (await fresh()) === '200');
  });

  it('leaves nothing behind after down', async () => {
    if (traffic) {
      traffic.stop = true;
      await traffic.done;
      process.stderr.write(`background traffic: ${traffic.requests} rounds\n`);
      traffic = undefined;
    }
    if (keepAliveCurl?.pid) process.kill(-keepAliveCurl.pid, 'SIGTERM');
    keepAliveCurl = undefined;
    const down = await cli(['down'], dir);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(prefix, []), []);
  });
});
