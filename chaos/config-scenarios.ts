/**
 * Config storms while 1,000 rps cross a sidecar pair: 50 VirtualServices applied at once (the
 * "thundering herd": discovery's debounce must merge them into one push, as istiod's), and a flood
 * of malformed config, both refused by `mizzen apply` and written straight into the directory
 * discovery watches, including an invalid twin of a running VirtualService (nothing running may
 * be lost: the last valid version keeps serving, discovery keeps running, no request fails).
 */
import { writeFileSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mizzen, type ChaosMesh } from './chaos-mesh.ts';
import { meshManifests } from './manifests.ts';
import { row, sleep, startLoad, until, type Scenario } from './scenario.ts';

const TYPES = ['cds', 'lds', 'eds', 'rds'] as const;

/** Discovery's push counters: debounced pushes (pilot_debounce_time count), triggers, and xDS pushes by type. */
async function pushCounters(mesh: ChaosMesh): Promise<{ rounds: number; triggers: number; xds: Record<string, number> }> {
  const xds: Record<string, number> = {};
  for (const t of TYPES) xds[t] = await mesh.discoveryCounter('pilot_xds_pushes', (l) => l.includes(`type="${t}"`));
  return { rounds: await mesh.discoveryCounter('pilot_debounce_time_count'), triggers: await mesh.discoveryCounter('pilot_push_triggers'), xds };
}

/** Waits until discovery's push counters stop moving for `quietMs` and every proxy is SYNCED. */
async function settled(mesh: ChaosMesh, quietMs: number, timeoutMs: number): Promise<number> {
  let last = '';
  let since = Date.now();
  return until('pushes settled', async () => {
    const now = JSON.stringify(await pushCounters(mesh));
    if (now !== last) {
      last = now;
      since = Date.now();
      return undefined;
    }
    const synced = (await mesh.syncz()).every((p) => TYPES.every((t) => p.status[t] === 'SYNCED'));
    return synced && Date.now() - since >= quietMs ? since : undefined;
  }, timeoutMs);
}

/** The route config discovery sent the client's sidecar (`mizzen proxy-config routes POD -o json`). */
async function clientRoutes(mesh: ChaosMesh): Promise<{ stdout: string }> {
  const pod = mesh.sidecars('client-')[0]?.pod;
  if (!pod) throw new Error('no client pod');
  const r = await mizzen(['proxy-config', 'routes', pod, '-o', 'json'], mesh.dir);
  if (r.code !== 0) throw new Error(`mizzen proxy-config routes ${pod}: ${r.stderr}`);
  return r;
}

const virtualService = (name: string, host: string, extra = ''): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  http:
  - route:
    - destination: {host: server.default.svc.cluster.local, port: {number: 8080}}${extra}
`;

/** 50 hosts on port 8080 (a ServiceEntry), so each VirtualService changes the sidecars' routes for 8080. */
const HERD_HOSTS = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: herd, namespace: default}
spec:
  hosts: [${Array.from({ length: 50 }, (_, i) => `herd-${i}.chaos.example`).join(', ')}]
  location: MESH_INTERNAL
  resolution: NONE
  ports: [{number: 8080, name: http, protocol: HTTP}]
`;

export const fiftyVirtualServices: Scenario = {
  name: 'vs-herd',
  title: '50 VirtualServices applied at once: one push, not fifty',
  manifests: () => meshManifests({ extra: [HERD_HOSTS] }),
  async run(ctx) {
    const total = ctx.quick ? 20 : 40;
    await settled(ctx.mesh, 2000, 60_000);
    const before = await pushCounters(ctx.mesh);
    const load = startLoad(ctx, total);
    await sleep(ctx.quick ? 3000 : 10_000);
    const file = join(ctx.mesh.dir, 'herd.yaml');
    writeFileSync(file, Array.from({ length: 50 }, (_, i) => virtualService(`herd-${i}`, `herd-${i}.chaos.example`)).join('---\n'));
    const appliedAt = Date.now();
    const applied = await mizzen(['apply', '-f', file], ctx.mesh.dir);
    if (applied.code !== 0) throw new Error(`mizzen apply failed: ${applied.stderr}`);
    const quietFrom = await settled(ctx.mesh, 3000, 60_000);
    const after = await pushCounters(ctx.mesh);
    const routes = await clientRoutes(ctx.mesh);
    const delivered = Array.from({ length: 50 }, (_, i) => routes.stdout.includes(`herd-${i}.chaos.example`)).filter(Boolean).length;
    const r = await load.result();
    const rounds = after.rounds - before.rounds;
    const perType = TYPES.map((t) => `${t.toUpperCase()} ${after.xds[t]! - before.xds[t]!}`).join(', ');
    const res = row(ctx, {
      scenario: '50 VirtualServices applied at once (one `mizzen apply`)',
      seconds: total,
      r,
      recovery: `${rounds} debounced push${rounds === 1 ? '' : 'es'} for ${after.triggers - before.triggers} config events; xDS pushes to the 2 proxies: ${perType}; all 50 in the client's routes (${delivered}/50) ${((quietFrom - appliedAt) / 1000).toFixed(1)} s after the apply`,
      recoveryMs: quietFrom - appliedAt,
      nothingLost: r.failed === 0 && delivered === 50,
      expectZero: true,
      notes: [],
    });
    // one push, not fifty: at most 2 debounce rounds (an event arriving while the first push is built starts a second)
    if (rounds > 2) res.passed = false;
    return res;
  },
};

/** Malformed documents: YAML that does not parse, schema violations, wrong types, unknown kinds, garbage. */
function malformed(i: number): string {
  const kinds = [
    () => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad-${i}, namespace: default\nspec: [`,
    () => virtualService(`bad-${i}`, 'server', `\n    timeout: not-a-duration`),
    () => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad-${i}, namespace: default}\nspec:\n  hosts: 42\n  http: "x"\n`,
    () => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: bad-${i}, namespace: default}\nspec:\n  host: server\n  trafficPolicy: {loadBalancer: {simple: SIDEWAYS}, connectionPool: {http: {maxRequestsPerConnection: -5}}}\n`,
    () => `apiVersion: chaos.example/v1\nkind: Gremlin\nmetadata: {name: bad-${i}}\n`,
    () => `\u0000\u0001binary\u00ff garbage ${'{'.repeat(i % 7)}\n`,
    () => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad-${i}, namespace: default}\nspec:\n  action: MAYBE\n  rules: [{from: [{source: {principals: [7]}}]}]\n`,
  ];
  return kinds[i % kinds.length]!();
}

export const malformedFlood: Scenario = {
  name: 'config-flood',
  title: 'malformed config flood: nothing running lost',
  manifests: () => meshManifests({ extra: [virtualService('server', 'server', '\n    headers: {response: {set: {x-chaos-kept: "yes"}}}')] }),
  async run(ctx) {
    const total = ctx.quick ? 25 : 60;
    await settled(ctx.mesh, 2000, 60_000);
    const pid = ctx.mesh.discoveryPid();
    const load = startLoad(ctx, total);
    await sleep(ctx.quick ? 3000 : 10_000);
    const startedAt = Date.now();
    // 1. through `mizzen apply` (as kubectl through the validating webhook): every file refused
    const viaApply = ctx.quick ? 7 : 21;
    const applyDir = join(ctx.mesh.dir, 'flood');
    mkdirSync(applyDir);
    let refused = 0;
    let warned = 0;
    let named = 0;
    for (let i = 0; i < viaApply; i++) {
      const f = join(applyDir, `bad-${i}.yaml`);
      writeFileSync(f, malformed(i));
      const r = await mizzen(['apply', '-f', f], ctx.mesh.dir);
      // refused, or (an unknown kind, a document that is no object) skipped with a warning
      if (r.code !== 0) refused++;
      else if (/warning/i.test(r.stdout + r.stderr)) warned++;
      if ((r.stdout + r.stderr).includes(`bad-${i}.yaml`)) named++;
    }
    // 2. straight into the directory discovery watches (a writer that skips validation), 10 rounds
    const configDir = join(ctx.mesh.stateDir, 'config');
    const rounds = ctx.quick ? 3 : 10;
    const perRound = 20;
    const running = readdirSync(configDir).find((n) => n.includes('VirtualService.default.server.yaml'));
    if (!running) throw new Error(`the running VirtualService's file is not in ${configDir}`);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < perRound; i++) writeFileSync(join(configDir, `zz-flood-${round}-${i}.yaml`), malformed(round * perRound + i));
      await sleep(300);
    }
    // 3. an invalid twin of the running VirtualService, then the files go again
    writeFileSync(join(configDir, 'zz-flood-twin.yaml'), virtualService('server', 'server', '\n    timeout: forever'));
    await sleep(2000);
    const configz = await ctx.mesh.discoveryGet('/debug/configz');
    const reported = (configz.body.match(/zz-flood-/g) ?? []).length;
    for (const n of readdirSync(configDir)) if (n.startsWith('zz-flood-')) rmSync(join(configDir, n));
    await settled(ctx.mesh, 2000, 60_000);
    const routes = await clientRoutes(ctx.mesh);
    const kept = routes.stdout.includes('x-chaos-kept');
    const samePid = ctx.mesh.discoveryPid() === pid;
    const r = await load.result();
    const res = row(ctx, {
      scenario: `malformed config flood (${viaApply} via mizzen apply, ${rounds * perRound + 1} into discovery's config directory)`,
      seconds: total,
      r,
      recovery: `apply refused ${refused}/${viaApply}, skipped ${warned} with a warning (file named in ${named}); discovery ${samePid ? 'kept running' : 'RESTARTED'}, reported ${reported} problems in /debug/configz; the running VirtualService ${kept ? 'kept serving' : 'was LOST'} (its invalid twin ignored); ${((Date.now() - startedAt) / 1000).toFixed(0)} s of flood`,
      recoveryMs: undefined,
      nothingLost: r.failed === 0 && kept && samePid && refused + warned === viaApply,
      expectZero: true,
      notes: [],
    });
    return res;
  },
};
