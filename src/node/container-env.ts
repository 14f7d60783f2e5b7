import { divideQuantity, parseQuantity } from '../lib/kube/quantity.ts';
import type { KubeObject } from '../lib/kube/reflector.ts';

type Obj = Record<string, any>;

/** What a container's environment is made of besides its own spec. */
export interface EnvContext {
  pod: KubeObject;
  nodeName: string;
  hostIp: string;
  podIp: string;
  /** The environment every process starts from (PATH, HOME, LANG). */
  base: Record<string, string>;
  /** Services of the pod's namespace (service links) and `default/kubernetes`. */
  services: readonly KubeObject[];
  /** The node's capacity, for resourceFieldRef without a limit. */
  nodeCpu: number;
  nodeMemory: number;
  /** ConfigMap / Secret data by name in the pod's namespace (undefined: absent). */
  configMap: (name: string) => Promise<Record<string, string> | undefined>;
  secret: (name: string) => Promise<Record<string, string> | undefined>;
}

/** A value the environment needs that does not exist: the kubelet's CreateContainerConfigError. */
export class EnvConfigError extends Error {}

const envName = (service: string): string => service.toUpperCase().replace(/-/g, '_');

/** Docker-link style variables of Services, as the kubelet sets them (enableServiceLinks). */
export function serviceLinkEnv(services: readonly KubeObject[], namespace: string, links: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of services) {
    const md = s.metadata ?? {};
    const spec = (s as Obj).spec ?? {};
    const master = md.namespace === 'default' && md.name === 'kubernetes';
    if (!master && (!links || md.namespace !== namespace)) continue;
    const ip = spec.clusterIP;
    if (!ip || ip === 'None') continue;
    const ports = (spec.ports ?? []) as Obj[];
    if (ports.length === 0) continue;
    const n = envName(String(md.name));
    out[`${n}_SERVICE_HOST`] = ip;
    out[`${n}_SERVICE_PORT`] = String(ports[0].port);
    for (const p of ports) if (p.name) out[`${n}_SERVICE_PORT_${envName(String(p.name))}`] = String(p.port);
    const proto = (p: Obj): string => String(p.protocol ?? 'TCP');
    out[`${n}_PORT`] = `${proto(ports[0]).toLowerCase()}://${ip}:${ports[0].port}`;
    for (const p of ports) {
      const prefix = `${n}_PORT_${p.port}_${proto(p)}`;
      out[prefix] = `${proto(p).toLowerCase()}://${ip}:${p.port}`;
      out[`${prefix}_PROTO`] = proto(p).toLowerCase();
      out[`${prefix}_PORT`] = String(p.port);
      out[`${prefix}_ADDR`] = ip;
    }
  }
  return out;
}

/** A downward API field (env fieldRef and downwardAPI volumes share these). */
export function fieldValue(path: string, ctx: Pick<EnvContext, 'pod' | 'nodeName' | 'hostIp' | 'podIp'>): string | undefined {
  const pod = ctx.pod as Obj;
  const md = pod.metadata ?? {};
  const mapLine = (m: Record<string, string> | undefined): string =>
    Object.keys(m ?? {})
      .sort()
      .map((k) => `${k}=${JSON.stringify(m![k])}`)
      .join('\n');
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) return (md[keyed[1]] ?? {})[keyed[2]] ?? '';
  switch (path) {
    case 'metadata.name':
      return md.name;
    case 'metadata.namespace':
      return md.namespace;
    case 'metadata.uid':
      return md.uid;
    case 'metadata.labels':
      return mapLine(md.labels);
    case 'metadata.annotations':
      return mapLine(md.annotations);
    case 'spec.nodeName':
      return ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIp;
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIp;
    default:
      return undefined;
  }
}

/** A resourceFieldRef: the container's limit or request, or the node's capacity when no limit is set. */
export function resourceValue(ref: Obj, containers: readonly Obj[], fallback: { cpu: number; memory: number }, containerName: string): string | undefined {
  const c = containers.find((x) => x.name === (ref.containerName ?? containerName));
  const [kind, resource] = String(ref.resource ?? '').split('.');
  if ((kind !== 'limits' && kind !== 'requests') || !resource) return undefined;
  const limit = parseQuantity(c?.resources?.limits?.[resource]);
  const request = parseQuantity(c?.resources?.requests?.[resource]);
  const node = resource === 'cpu' ? fallback.cpu : resource === 'memory' ? fallback.memory : undefined;
  const value = kind === 'limits' ? (limit ?? node) : (request ?? (resource === 'cpu' ? 0 : 0));
  if (value === undefined) return undefined;
  return divideQuantity(value, ref.divisor);
}

/** `$(VAR)` expansion as Kubernetes does it (`$$` escapes). */
export function expandEnv(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? m)));
}

/** The environment of one container: base, service links, envFrom, then env in order. */
export async function containerEnv(container: Obj, ctx: EnvContext): Promise<Record<string, string>> {
  const pod = ctx.pod as Obj;
  const md = pod.metadata ?? {};
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])] as Obj[];
  const env: Record<string, string> = { ...ctx.base, HOSTNAME: pod.spec?.hostname ?? md.name };
  Object.assign(env, serviceLinkEnv(ctx.services, md.namespace, pod.spec?.enableServiceLinks !== false));
  for (const from of (container.envFrom ?? []) as Obj[]) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref?.name) continue;
    const data = from.configMapRef ? await ctx.configMap(ref.name) : await ctx.secret(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new EnvConfigError(`${from.configMapRef ? 'configmap' : 'secret'} "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of (container.env ?? []) as Obj[]) {
    if (e.value !== undefined) {
      env[e.name] = expandEnv(String(e.value), env);
      continue;
    }
    const from = e.valueFrom ?? {};
    let v: string | undefined;
    if (from.fieldRef) v = fieldValue(String(from.fieldRef.fieldPath), ctx);
    else if (from.resourceFieldRef) v = resourceValue(from.resourceFieldRef, containers, { cpu: ctx.nodeCpu, memory: ctx.nodeMemory }, container.name);
    else if (from.configMapKeyRef || from.secretKeyRef) {
      const ref = from.configMapKeyRef ?? from.secretKeyRef;
      const data = from.configMapKeyRef ? await ctx.configMap(ref.name) : await ctx.secret(ref.name);
      v = data?.[ref.key];
      if (v === undefined && !ref.optional) {
        const what = from.configMapKeyRef ? 'configmap' : 'secret';
        throw new EnvConfigError(data ? `couldn't find key ${ref.key} in ${what} ${md.namespace}/${ref.name}` : `${what} "${ref.name}" not found`);
      }
    }
    if (v !== undefined) env[e.name] = v;
    else if (e.value === undefined && !from.configMapKeyRef && !from.secretKeyRef) env[e.name] = '';
  }
  return env;
}
