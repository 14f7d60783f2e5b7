/**
 * `node bench/registry-bench.ts [SERVICES]`: the ingestion side of the control plane.
 * - registry: a fresh `buildRegistry` and a `RegistryBuilder` rebuild (nothing changed, one Pod
 *   or ServiceEntry changed) for SERVICES services × 10 endpoints, as ServiceEntries with inline
 *   endpoints and as Kubernetes Services selecting Pods;
 * - file source: initial scan (parse + validate) of the control-plane benchmark mesh and the
 *   rescan after a VirtualService edit.
 * Prints one JSON object. Medians of 9 runs.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigResource } from '../src/api/config-resource.ts';
import { ConfigStore } from '../src/control/config/config-store.ts';
import { FileSource } from '../src/control/config/sources/file-source.ts';
import { validateResource } from '../src/control/config/validation/validate-resource.ts';
import { buildRegistry } from '../src/control/registry/build-registry.ts';
import { RegistryBuilder } from '../src/control/registry/registry-builder.ts';
import { virtualService, writeMesh } from './controlplane/mesh-config-files.ts';

const SERVICES = Number(process.argv[2] ?? 1000);
const ENDPOINTS = 10;

function resource(kind: string, apiVersion: string, name: string, namespace: string, body: Record<string, unknown>, labels?: Record<string, string>): ConfigResource {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const metadata = { name, namespace, ...(labels ? { labels } : {}) };
  const spec = (body.spec ?? body) as Record<string, unknown>;
  return { apiVersion, kind, group, version, metadata, spec, raw: { apiVersion, kind, metadata, ...body } };
}

function serviceEntries(): ConfigResource[] {
  return Array.from({ length: SERVICES }, (_, i) =>
    resource('ServiceEntry', 'networking.istio.io/v1', `svc-${i}`, 'bench', {
      spec: {
        hosts: [`svc-${i}.bench.mesh`],
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }],
        endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({ address: `10.${(i >> 8) & 255}.${i & 255}.${e}` })),
      },
    }),
  );
}

function kubernetes(): ConfigResource[] {
  const out: ConfigResource[] = [];
  for (let i = 0; i < SERVICES; i++) {
    out.push(resource('Service', 'v1', `svc-${i}`, 'bench', { spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }));
    for (let e = 0; e < ENDPOINTS; e++) {
      const n = i * ENDPOINTS + e;
      out.push(resource('Pod', 'v1', `svc-${i}-${e}`, 'bench', { spec: { containers: [{ name: 'app' }] }, status: { podIP: `10.244.${n >> 8}.${n & 255}` } }, { app: `svc-${i}` }));
    }
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (ms: number): number => Math.round(ms * 10) / 10;

function timeRegistry(input: ConfigResource[]): Record<string, number> {
  const store = new ConfigStore();
  store.replaceSource('bench', input);
  const builder = new RegistryBuilder();
  builder.build(store);
  const fresh: number[] = [];
  const unchanged: number[] = [];
  const oneChanged: number[] = [];
  for (let k = 0; k < 9; k++) {
    let t = performance.now();
    buildRegistry(store);
    fresh.push(performance.now() - t);
    t = performance.now();
    builder.build(store);
    unchanged.push(performance.now() - t);
    const victim = input[input.length - 1 - k];
    const moved = victim.kind === 'Pod' ? { ...victim, raw: { ...victim.raw, status: { podIP: `10.250.0.${k}` } } } : { ...victim, spec: { ...victim.spec, addresses: [`240.0.0.${k}`] } };
    store.apply('bench', [moved]);
    t = performance.now();
    builder.build(store);
    oneChanged.push(performance.now() - t);
  }
  return { resources: input.length, fresh_build_ms: round(median(fresh)), rebuild_unchanged_ms: round(median(unchanged)), rebuild_one_changed_ms: round(median(oneChanged)) };
}

async function timeFileSource(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-registry-bench-'));
  try {
    const shape = { services: SERVICES, endpointsPerService: ENDPOINTS, namespace: 'bench' };
    writeMesh(dir, shape);
    const store = new ConfigStore();
    const source = new FileSource({ paths: [dir], store, validate: validateResource, rescanIntervalMs: 0, watch: false });
    let t = performance.now();
    await source.start();
    const initial = performance.now() - t;
    const rescans: number[] = [];
    for (let k = 0; k < 9; k++) {
      writeFileSync(join(dir, '.vs.tmp'), virtualService(shape, 10 + k));
      renameSync(join(dir, '.vs.tmp'), join(dir, 'virtual-service.yaml'));
      t = performance.now();
      await source.rescan();
      rescans.push(performance.now() - t);
    }
    source.close();
    return { resources: store.all().length, initial_scan_ms: Math.round(initial), rescan_after_vs_edit_ms: round(median(rescans)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const result = {
  services: SERVICES,
  endpoints_per_service: ENDPOINTS,
  load_average: loadavg().map((l) => Math.round(l * 10) / 10),
  registry_service_entries: timeRegistry(serviceEntries()),
  registry_kubernetes: timeRegistry(kubernetes()),
  file_source: await timeFileSource(),
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
