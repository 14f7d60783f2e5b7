import type { KindInfo } from '../api/kinds.ts';
import { CrdSchemaCatalog } from '../control/config/schema/crd-schema-catalog.ts';
import { jsonPathValues } from './jsonpath.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One column of a `kubectl get` table: its header, its cell, and whether only `-o wide` shows it. */
export interface Column {
  header: string;
  cell: (o: Obj, now: number) => string;
  wide?: boolean;
}

/** kubectl's age (apimachinery's HumanDuration): `45s`, `3m12s`, `25m`, `5h3m`, `3d4h`, `400d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

const since = (ts: unknown, now: number): string => (typeof ts === 'string' ? humanDuration(now - Date.parse(ts)) : '<unknown>');
const age: Column = { header: 'AGE', cell: (o, now) => since(o.metadata?.creationTimestamp, now) };
const name: Column = { header: 'NAME', cell: (o) => String(o.metadata?.name ?? '') };
const selectorText = (sel: Obj | undefined): string => (sel && Object.keys(sel).length > 0 ? Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',') : '<none>');

/** kubectl's STATUS of a pod (printPod): a container's waiting/terminated reason, Terminating, else the phase. */
export function podStatusReason(pod: Obj): string {
  let reason = String(pod.status?.reason ?? pod.status?.phase ?? 'Unknown');
  let hasRunning = false;
  const statuses: Obj[] = pod.status?.containerStatuses ?? [];
  for (let i = statuses.length - 1; i >= 0; i--) {
    const c = statuses[i];
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
    else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
    else if (c.ready && c.state?.running) hasRunning = true;
  }
  if (reason === 'Completed' && hasRunning) {
    const ready = (pod.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
    reason = ready ? 'Running' : 'NotReady';
  }
  if (pod.metadata?.deletionTimestamp) reason = 'Terminating';
  return reason;
}

/**
 * Containers that are down after a failed run, with what they said when they stopped (the
 * termination message): `pod default/x container istio-proxy: CrashLoopBackOff, exit code 1: CAUSE`.
 */
export function podWarnings(pods: readonly Obj[]): string[] {
  const out: string[] = [];
  for (const pod of pods) {
    for (const c of (pod.status?.containerStatuses ?? []) as Obj[]) {
      if (c.ready) continue;
      const term: Obj | undefined = c.state?.terminated ?? c.lastState?.terminated;
      if (!term || term.exitCode === 0 || !term.message) continue;
      const phase = c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? 'Error';
      out.push(`pod ${pod.metadata?.namespace}/${pod.metadata?.name} container ${c.name}: ${phase}, exit code ${term.exitCode}: ${term.message}`);
    }
  }
  return out;
}

function podRestarts(pod: Obj, now: number): string {
  const statuses: Obj[] = pod.status?.containerStatuses ?? [];
  const restarts = statuses.reduce((n, c) => n + Number(c.restartCount ?? 0), 0);
  const last = Math.max(0, ...statuses.map((c) => Date.parse(c.lastState?.terminated?.finishedAt ?? '') || 0));
  return last > 0 && restarts > 0 ? `${restarts} (${humanDuration(now - last)} ago)` : String(restarts);
}

const POD_COLUMNS: Column[] = [
  name,
  { header: 'READY', cell: (o) => `${(o.status?.containerStatuses ?? []).filter((c: Obj) => c.ready).length}/${(o.spec?.containers ?? []).length}` },
  { header: 'STATUS', cell: (o) => podStatusReason(o) },
  { header: 'RESTARTS', cell: (o, now) => podRestarts(o, now) },
  age,
  { header: 'IP', cell: (o) => o.status?.podIP ?? '<none>', wide: true },
  { header: 'NODE', cell: (o) => o.spec?.nodeName ?? '<none>', wide: true },
  { header: 'NOMINATED NODE', cell: () => '<none>', wide: true },
  { header: 'READINESS GATES', cell: () => '<none>', wide: true },
  // Mizzen's pods are processes: their PIDs (app containers first, the sidecar last).
  {
    header: 'PID',
    cell: (o) => {
      const pids = (o.status?.containerStatuses ?? []).map((c: Obj) => /^pid:\/\/(\d+)$/.exec(String(c.containerID ?? ''))?.[1]).filter(Boolean);
      return pids.length > 0 ? pids.join(',') : '<none>';
    },
    wide: true,
  },
];

function servicePorts(o: Obj): string {
  const ports: Obj[] = o.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function externalIp(o: Obj): string {
  const type = o.spec?.type ?? 'ClusterIP';
  const external: string[] = o.spec?.externalIPs ?? [];
  if (type === 'ExternalName') return o.spec?.externalName ?? '<none>';
  if (type === 'LoadBalancer') {
    const lb: string[] = (o.status?.loadBalancer?.ingress ?? []).map((i: Obj) => i.ip ?? i.hostname).filter(Boolean);
    const all = [...lb, ...external];
    return all.length > 0 ? all.join(',') : '<pending>';
  }
  return external.length > 0 ? external.join(',') : '<none>';
}

const SERVICE_COLUMNS: Column[] = [
  name,
  { header: 'TYPE', cell: (o) => o.spec?.type ?? 'ClusterIP' },
  { header: 'CLUSTER-IP', cell: (o) => o.spec?.clusterIP ?? '<none>' },
  { header: 'EXTERNAL-IP', cell: externalIp },
  { header: 'PORT(S)', cell: servicePorts },
  age,
  { header: 'SELECTOR', cell: (o) => selectorText(o.spec?.selector), wide: true },
];

const DEPLOYMENT_COLUMNS: Column[] = [
  name,
  { header: 'READY', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}` },
  { header: 'UP-TO-DATE', cell: (o) => String(o.status?.updatedReplicas ?? 0) },
  { header: 'AVAILABLE', cell: (o) => String(o.status?.availableReplicas ?? 0) },
  age,
  { header: 'CONTAINERS', cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.name).join(','), wide: true },
  { header: 'IMAGES', cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image ?? '<none>').join(','), wide: true },
  { header: 'SELECTOR', cell: (o) => selectorText(o.spec?.selector?.matchLabels), wide: true },
];

const BUILT_IN: Record<string, Column[]> = {
  Pod: POD_COLUMNS,
  Service: SERVICE_COLUMNS,
  Deployment: DEPLOYMENT_COLUMNS,
  Namespace: [name, { header: 'STATUS', cell: (o) => o.status?.phase ?? 'Active' }, age],
  ServiceAccount: [name, { header: 'SECRETS', cell: (o) => String((o.secrets ?? []).length) }, age],
  ConfigMap: [name, { header: 'DATA', cell: (o) => String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length) }, age],
  Endpoints: [
    name,
    {
      header: 'ENDPOINTS',
      cell: (o) => {
        const eps = (o.subsets ?? []).flatMap((s: Obj) => (s.addresses ?? []).flatMap((a: Obj) => (s.ports ?? [{}]).map((p: Obj) => (p.port ? `${a.ip}:${p.port}` : a.ip))));
        return eps.length === 0 ? '<none>' : eps.length > 3 ? `${eps.slice(0, 3).join(',')} + ${eps.length - 3} more...` : eps.join(',');
      },
    },
    age,
  ],
};

/** A CRD printer column's cell: arrays as JSON (`["reviews"]`), scalars as text, missing as empty. */
function printerCell(jsonPath: string, type: string, o: Obj, now: number): string {
  const values = jsonPathValues(jsonPath, o);
  if (values.length === 0) return '';
  const v = values[0];
  if (type === 'date') return since(v, now);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** The columns `kubectl get` shows for a kind (built-in printers, or the CRD's printer columns). */
export function columnsFor(kind: KindInfo, catalog: CrdSchemaCatalog = new CrdSchemaCatalog()): Column[] {
  const builtIn = BUILT_IN[kind.kind];
  if (builtIn) return builtIn;
  const printer = kind.istio ? catalog.printerColumns(kind.group, kind.kind) : [];
  if (printer.length === 0) return [name, age];
  return [name, ...printer.map((c) => ({ header: c.name.toUpperCase(), cell: (o: Obj, now: number) => printerCell(c.jsonPath, c.type, o, now), wide: c.priority > 0 }))];
}
