import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { ConfigChange } from './config-store-reader.ts';
import type { ConfigStore } from './config-store.ts';
import { applyMeshConfig, defaultMeshConfig, type MeshConfig, type MeshConfigIssue } from './mesh-config.ts';
import type { ConfigError } from './sources/config-error.ts';

export const MESH_CONFIG_MAP = 'istio';
export const MESH_CONFIG_MAP_KEY = 'mesh';

export interface MeshConfigWatcherOptions {
  store: ConfigStore;
  log?: Logger;
}

interface Layer {
  /** Last valid user fields of this layer (undefined: layer absent). */
  value: Record<string, unknown> | undefined;
  text: string | undefined;
  errors: ConfigError[];
}

/**
 * The MeshConfig in force: Istio's defaults, overlaid by a `meshconfig.yaml` file (handed in by
 * the file source), overlaid by ConfigMap `istio` key `mesh` in the root namespace (from the
 * store). A layer that becomes invalid keeps its last valid content and reports the error.
 */
export class MeshConfigWatcher {
  private readonly store: ConfigStore;
  private readonly log: Logger;
  private readonly file: Layer = { value: undefined, text: undefined, errors: [] };
  private readonly configMap: Layer = { value: undefined, text: undefined, errors: [] };
  private readonly listeners = new Set<(mesh: MeshConfig) => void>();
  private readonly unsubscribe: () => void;
  private mesh: MeshConfig = defaultMeshConfig();

  constructor(options: MeshConfigWatcherOptions) {
    this.store = options.store;
    this.log = options.log ?? silentLogger();
    this.unsubscribe = this.store.subscribe((changes) => this.onStoreChanges(changes));
    this.readConfigMap();
    this.recompute();
  }

  current(): MeshConfig {
    return this.mesh;
  }

  /** Errors of the layers (each keeps its last valid content meanwhile). */
  problems(): ConfigError[] {
    return [...this.file.errors, ...this.configMap.errors];
  }

  /** Listen to changes of the effective MeshConfig; returns the unsubscribe function. */
  onChange(listener: (mesh: MeshConfig) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The `meshconfig.yaml` layer: its text, or undefined when the file is gone. */
  setFile(text: string | undefined, file: string): void {
    this.updateLayer(this.file, text, file, undefined);
    this.readConfigMap(); // the root namespace may have moved
    this.recompute();
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private onStoreChanges(changes: readonly ConfigChange[]): void {
    if (!changes.some((c) => c.kind === 'ConfigMap' && c.name === MESH_CONFIG_MAP)) return;
    this.readConfigMap();
    this.recompute();
  }

  private readConfigMap(): void {
    const rootNamespace = this.layerRootNamespace();
    const cm = this.store.get('ConfigMap', rootNamespace, MESH_CONFIG_MAP);
    const data = (cm?.spec as { data?: Record<string, unknown> } | undefined)?.data;
    const text = typeof data?.[MESH_CONFIG_MAP_KEY] === 'string' ? (data[MESH_CONFIG_MAP_KEY] as string) : undefined;
    const where = cm?.origin?.file ?? `ConfigMap ${rootNamespace}/${MESH_CONFIG_MAP}`;
    this.updateLayer(this.configMap, text, where, cm ? `ConfigMap ${rootNamespace}/${MESH_CONFIG_MAP}` : undefined, cm?.origin?.line);
  }

  private layerRootNamespace(): string {
    const fromFile = this.file.value?.rootNamespace;
    return typeof fromFile === 'string' && fromFile !== '' ? fromFile : defaultMeshConfig().rootNamespace;
  }

  private updateLayer(layer: Layer, text: string | undefined, file: string, resource: string | undefined, line?: number): void {
    if (text === layer.text && layer.errors.length === 0) return;
    layer.text = text;
    if (text === undefined) {
      layer.value = undefined;
      layer.errors = [];
      return;
    }
    const issues = parseLayer(text);
    if (issues.errors.length > 0) {
      layer.errors = issues.errors.map((e) => ({
        file,
        ...(line !== undefined ? { line } : {}),
        ...(resource ? { resource } : {}),
        ...(e.path ? { path: e.path } : {}),
        message: `${e.message} (previous mesh config kept)`,
        level: 'error' as const,
      }));
      for (const e of layer.errors) this.log.error({ file, path: e.path }, `invalid mesh config: ${e.message}`);
      return;
    }
    layer.value = issues.value;
    layer.errors = [];
  }

  private recompute(): void {
    let mesh = defaultMeshConfig();
    for (const layer of [this.file, this.configMap]) {
      const r = applyMeshConfig(mesh, layer.value);
      if (r.ok) mesh = r.config;
    }
    if (isDeepStrictEqual(mesh, this.mesh)) return;
    this.mesh = mesh;
    this.log.info({ rootNamespace: mesh.rootNamespace, trustDomain: mesh.trustDomain }, 'mesh config updated');
    for (const l of [...this.listeners]) {
      try {
        l(mesh);
      } catch (err) {
        this.log.error({ err }, 'mesh config listener failed');
      }
    }
  }
}

function parseLayer(text: string): { value: Record<string, unknown> | undefined; errors: MeshConfigIssue[] } {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    return { value: undefined, errors: [{ path: '', message: `invalid YAML: ${(err as Error).message.split('\n')[0]}` }] };
  }
  const checked = applyMeshConfig(defaultMeshConfig(), value);
  if (!checked.ok) return { value: undefined, errors: checked.errors };
  return { value: (value ?? {}) as Record<string, unknown>, errors: [] };
}
