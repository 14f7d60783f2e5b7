import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConfigResource } from '../api/config-resource.ts';

/**
 * The control plane of a local mesh reads its config from a directory (`mizzen discovery
 * --config DIR`, watched): this writes one YAML file per resource there, atomically (a temporary
 * name the watcher ignores, then rename), and removes it on delete.
 */
export class ConfigDirWriter {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  fileFor(r: Pick<ConfigResource, 'kind' | 'group' | 'metadata'>): string {
    const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');
    const group = r.group === '' ? 'core' : r.group;
    return join(this.dir, `${safe(group)}.${safe(r.kind)}.${safe(r.metadata.namespace ?? '_')}.${safe(r.metadata.name)}.yaml`);
  }

  write(r: ConfigResource): void {
    mkdirSync(this.dir, { recursive: true });
    const file = this.fileFor(r);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, stringify(r.raw, { lineWidth: 0 }));
    renameSync(tmp, file);
  }

  remove(r: Pick<ConfigResource, 'kind' | 'group' | 'metadata'>): void {
    rmSync(this.fileFor(r), { force: true });
  }

  /** Remove every file (a fresh start). */
  clear(): void {
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { force: true, recursive: true });
  }
}
