import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { KubeObject } from '../lib/kube/reflector.ts';
import type { Logger } from '../lib/log.ts';
import { fieldValue, resourceValue } from './container-env.ts';
import type { ContainerMount } from './container-mounts.ts';

type Obj = Record<string, any>;

/** What volumes need from the node. */
export interface VolumeContext {
  api: KubeApi;
  pod: () => KubeObject;
  /** The pod's volume directory (one subdirectory per volume). */
  dir: string;
  nodeName: string;
  hostIp: string;
  podIp: string;
  nodeCpu: number;
  nodeMemory: number;
  configMap: (name: string) => Promise<Record<string, string> | undefined>;
  secret: (name: string) => Promise<Record<string, string> | undefined>;
  log: Logger;
}

interface FileContent {
  path: string;
  data: string | Buffer;
  mode: number;
}

/** A volume of a kind the node cannot provide, or whose source is missing (kubelet: FailedMount). */
export class VolumeError extends Error {}

const safePath = (p: string): boolean => !p.startsWith('/') && !normalize(p).split('/').includes('..');

/**
 * The pod's volumes as directories on this machine, written as the kubelet writes them:
 * emptyDir, configMap, secret, downwardAPI, projected (serviceAccountToken from TokenRequest
 * bound to the pod, configMap, secret, downwardAPI) and hostPath. Contents are rewritten
 * atomically file by file on refresh (a rotated root certificate, a token at 80 % of its life,
 * changed labels). Files belong to root with the pod's fsGroup, as the kubelet sets them.
 */
export class PodVolumes {
  private readonly ctx: VolumeContext;
  /** When each projected token must be renewed (ms since epoch), by volume/path. */
  private readonly tokenDue = new Map<string, number>();

  constructor(ctx: VolumeContext) {
    this.ctx = ctx;
  }

  private get spec(): Obj {
    return (this.ctx.pod() as Obj).spec ?? {};
  }

  /** Write every volume (throws VolumeError naming the first that cannot be made). */
  async prepare(): Promise<void> {
    mkdirSync(this.ctx.dir, { recursive: true, mode: 0o755 });
    for (const v of (this.spec.volumes ?? []) as Obj[]) await this.write(v, true);
  }

  /** Refresh what can change: ConfigMaps, Secrets, tokens due for renewal, downward API fields. */
  async refresh(): Promise<void> {
    for (const v of (this.spec.volumes ?? []) as Obj[]) {
      if (!v.configMap && !v.secret && !v.projected && !v.downwardAPI) continue;
      await this.write(v, false).catch((err: Error) => this.ctx.log.warn({ volume: v.name, err: errorMessage(err) }, 'volume refresh failed'));
    }
  }

  /** The earliest token renewal due (ms since epoch), if any token is projected. */
  nextTokenRenewal(): number | undefined {
    const due = [...this.tokenDue.values()];
    return due.length > 0 ? Math.min(...due) : undefined;
  }

  /** Bind mounts of one container's volumeMounts (throws VolumeError for an unknown volume). */
  mountsFor(container: Obj): ContainerMount[] {
    const out: ContainerMount[] = [];
    for (const m of (container.volumeMounts ?? []) as Obj[]) {
      const v = ((this.spec.volumes ?? []) as Obj[]).find((x) => x.name === m.name);
      if (!v) throw new VolumeError(`volumeMount ${m.name}: the pod has no such volume`);
      let source = v.hostPath ? String(v.hostPath.path) : join(this.ctx.dir, v.name);
      if (m.subPath) {
        if (!safePath(String(m.subPath))) throw new VolumeError(`volumeMount ${m.name}: subPath ${m.subPath} must be relative and stay inside the volume`);
        source = join(source, m.subPath);
        if (!existsSync(source)) mkdirSync(source, { recursive: true });
      }
      out.push({ source, target: String(m.mountPath), readOnly: m.readOnly === true || Boolean(v.configMap || v.secret || v.projected || v.downwardAPI) });
    }
    return out;
  }

  private async write(v: Obj, first: boolean): Promise<void> {
    const dir = join(this.ctx.dir, String(v.name));
    if (v.emptyDir) {
      if (first) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
      }
      return;
    }
    if (v.hostPath) {
      const path = String(v.hostPath.path);
      const type = String(v.hostPath.type ?? '');
      if (type === 'DirectoryOrCreate') mkdirSync(path, { recursive: true });
      else if (type === 'FileOrCreate' && !existsSync(path)) writeFileSync(path, '');
      else if (type !== '' && !existsSync(path)) throw new VolumeError(`hostPath ${path} (${type}) does not exist`);
      return;
    }
    let files: FileContent[];
    if (v.configMap) files = await this.keyedFiles('configmap', v.configMap, v.configMap.defaultMode);
    else if (v.secret) files = await this.keyedFiles('secret', { ...v.secret, name: v.secret.secretName }, v.secret.defaultMode);
    else if (v.downwardAPI) files = this.downwardFiles(v.downwardAPI.items ?? [], v.downwardAPI.defaultMode);
    else if (v.projected) files = await this.projectedFiles(v.name, v.projected);
    else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      throw new VolumeError(`volume ${v.name}: ${kind} volumes are not supported by mizzen node (emptyDir, configMap, secret, downwardAPI, projected and hostPath are)`);
    }
    this.writeFiles(dir, files);
  }

  private async keyedFiles(kind: 'configmap' | 'secret', src: Obj, defaultMode: number | undefined): Promise<FileContent[]> {
    const data = kind === 'configmap' ? await this.ctx.configMap(src.name) : await this.ctx.secret(src.name);
    if (!data) {
      if (src.optional) return [];
      throw new VolumeError(`${kind} "${src.name}" not found`);
    }
    const mode = defaultMode ?? 0o644;
    if (!src.items) return Object.entries(data).map(([k, d]) => ({ path: k, data: d, mode }));
    const out: FileContent[] = [];
    for (const item of src.items as Obj[]) {
      if (data[item.key] === undefined) {
        if (src.optional) continue;
        throw new VolumeError(`${kind} "${src.name}" has no key ${item.key}`);
      }
      out.push({ path: item.path, data: data[item.key], mode: item.mode ?? mode });
    }
    return out;
  }

  private downwardFiles(items: readonly Obj[], defaultMode: number | undefined): FileContent[] {
    const spec = this.spec;
    const out: FileContent[] = [];
    for (const item of items) {
      let value: string | undefined;
      if (item.fieldRef) value = fieldValue(String(item.fieldRef.fieldPath), { pod: this.ctx.pod(), nodeName: this.ctx.nodeName, hostIp: this.ctx.hostIp, podIp: this.ctx.podIp });
      else if (item.resourceFieldRef) value = resourceValue(item.resourceFieldRef, [...(spec.initContainers ?? []), ...(spec.containers ?? [])], { cpu: this.ctx.nodeCpu, memory: this.ctx.nodeMemory }, String(item.resourceFieldRef.containerName ?? ''));
      if (value === undefined) throw new VolumeError(`downwardAPI item ${item.path}: unsupported field`);
      out.push({ path: item.path, data: value, mode: item.mode ?? defaultMode ?? 0o644 });
    }
    return out;
  }

  private async projectedFiles(volume: string, projected: Obj): Promise<FileContent[]> {
    const mode = projected.defaultMode ?? 0o644;
    const out: FileContent[] = [];
    for (const s of (projected.sources ?? []) as Obj[]) {
      if (s.configMap) out.push(...(await this.keyedFiles('configmap', s.configMap, mode)));
      else if (s.secret) out.push(...(await this.keyedFiles('secret', s.secret, mode)));
      else if (s.downwardAPI) out.push(...this.downwardFiles(s.downwardAPI.items ?? [], mode));
      else if (s.serviceAccountToken) out.push(await this.token(volume, s.serviceAccountToken, mode));
      else throw new VolumeError(`projected volume ${volume}: source ${Object.keys(s).join(',')} is not supported`);
    }
    return out;
  }

  /** A TokenRequest for the pod's service account, bound to the pod; reused until 80 % of its life. */
  private async token(volume: string, src: Obj, mode: number): Promise<FileContent> {
    const key = `${volume}/${src.path}`;
    const file = join(this.ctx.dir, volume, String(src.path));
    const due = this.tokenDue.get(key);
    if (due !== undefined && Date.now() < due && existsSync(file)) return { path: src.path, data: '', mode: -1 };
    const pod = this.ctx.pod() as Obj;
    const sa = pod.spec?.serviceAccountName ?? 'default';
    const expirationSeconds = Number(src.expirationSeconds ?? 3600);
    const res = await this.ctx.api.request<{ status?: { token?: string; expirationTimestamp?: string } }>('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: src.audience ? [src.audience] : [], expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
      },
    });
    const token = res.status?.token;
    if (!token) throw new VolumeError(`TokenRequest for service account ${sa} returned no token`);
    const expires = Date.parse(res.status?.expirationTimestamp ?? '') || Date.now() + expirationSeconds * 1000;
    this.tokenDue.set(key, Date.now() + 0.8 * (expires - Date.now()));
    return { path: src.path, data: token, mode };
  }

  /** Write files atomically (temporary file + rename); files a source no longer has are removed. */
  private writeFiles(dir: string, files: readonly FileContent[]): void {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const fsGroup = (this.spec.securityContext ?? {}).fsGroup as number | undefined;
    const keep = new Set<string>();
    for (const f of files) {
      if (!safePath(f.path)) throw new VolumeError(`volume file path ${f.path} must be relative and stay inside the volume`);
      keep.add(f.path.split('/')[0]);
      if (f.mode < 0) continue; // unchanged (a token not yet due)
      const target = join(dir, f.path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      const tmp = join(dirname(target), `..${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
      writeFileSync(tmp, f.data, { mode: f.mode & 0o777 });
      chmodSync(tmp, fsGroup !== undefined ? (f.mode | 0o040) & 0o777 : f.mode & 0o777);
      if (fsGroup !== undefined) chownSync(tmp, 0, fsGroup);
      renameSync(tmp, target);
    }
    for (const name of readdirSync(dir)) if (!keep.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}
