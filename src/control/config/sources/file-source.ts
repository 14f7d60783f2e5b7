import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { resourceRef, type ConfigResource } from '../../../api/config-resource.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../lib/clock.ts';
import { silentLogger, type Logger } from '../../../lib/log.ts';
import type { ConfigChange } from '../config-store-reader.ts';
import type { ConfigStore } from '../config-store.ts';
import { listConfigFiles } from '../read-config-files.ts';
import { formatConfigError, type ConfigError } from './config-error.ts';
import { evaluateFile, type FileState } from './file-state.ts';
import type { ResourceValidator } from './resource-validator.ts';

export interface FileSourceOptions {
  /** Directories (watched recursively) and files. */
  paths: readonly string[];
  store: ConfigStore;
  validate: ResourceValidator;
  /** Source id inside the store; default `file`. */
  sourceId?: string;
  clock?: Clock;
  /**
   * Quiet period after a file event before rescanning; default 10 ms (see DEFAULT_DEBOUNCE_MS).
   */
  debounceMs?: number;
  /** Periodic rescan, the fallback when file events are lost; default 5000 ms, 0 = off. */
  rescanIntervalMs?: number;
  /** Use fs.watch (default true); without it only the periodic rescan notices changes. */
  watch?: boolean;
  /** Called with the text of a `meshconfig.yaml|yml` file found in the paths (undefined when removed). */
  onMeshConfig?: (text: string | undefined, file: string) => void;
  signal?: AbortSignal;
  log?: Logger;
}

export interface ScanResult {
  /** Changes applied to the store by this scan. */
  changes: readonly ConfigChange[];
  /** Files (re)read because they were new or changed. */
  filesRead: readonly string[];
  filesRemoved: readonly string[];
  /** All current problems (errors and warnings) across files after the scan. */
  problems: readonly ConfigError[];
}

export interface FileStatus {
  file: string;
  resources: readonly string[];
  errors: readonly ConfigError[];
  warnings: readonly ConfigError[];
}

const MESH_CONFIG_FILES = new Set(['meshconfig.yaml', 'meshconfig.yml']);

/**
 * The file source's own debounce (Istio's PILOT_DEBOUNCE_AFTER, 100 ms, still follows in the push
 * debouncer). Its only job is to fold the inotify events of one write into one scan: a writer's
 * events (truncate, write(2) calls, rename) arrive within microseconds to a few milliseconds of
 * each other, so 10 ms of quiet is enough; continuous events postpone the scan by at most 10
 * quiet periods. A slower writer may be caught half-way: a partial file that does not parse or
 * validate keeps the last valid version serving, and its next event rescans it (tested).
 */
const DEFAULT_DEBOUNCE_MS = 10;

/**
 * Serves the config files under some paths: an initial scan, then fs.watch (recursive) with a
 * debounce, plus a periodic rescan in case an event is lost. Each scan re-reads only files whose
 * stat changed and replaces this source's set in the store, so only real changes produce events.
 * Invalid resources keep their last valid version serving; errors are kept per file.
 */
export class FileSource {
  private readonly opts: FileSourceOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sourceId: string;
  private readonly debounceMs: number;
  private readonly rescanMs: number;
  private readonly files = new Map<string, FileState>();
  private readonly meshFiles = new Map<string, string>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly listeners = new Set<(r: ScanResult) => void>();
  private pathProblems: ConfigError[] = [];
  /** Resources defined in more than one file, per file using the later definition. */
  private duplicates = new Map<string, ConfigError[]>();
  private debounce: TimerHandle | undefined;
  private firstEventAt: number | undefined;
  private periodic: TimerHandle | undefined;
  private running: Promise<ScanResult> | undefined;
  private rerun = false;
  private closed = false;
  private readonly onAbort = (): void => this.close();

  constructor(options: FileSourceOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger();
    this.sourceId = options.sourceId ?? 'file';
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.rescanMs = options.rescanIntervalMs ?? 5000;
  }

  /** Initial scan (resolves when its resources are in the store), then watching. */
  async start(): Promise<ScanResult> {
    if (this.opts.signal?.aborted) this.closed = true;
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    const result = await this.rescan();
    if (!this.closed) {
      this.ensureWatchers();
      this.schedulePeriodic();
    }
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.debounce?.cancel();
    this.periodic?.cancel();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.listeners.clear();
  }

  /** Listen to finished scans (tests wait on these instead of sleeping). */
  onScan(listener: (r: ScanResult) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Scan now; concurrent calls share one scan and a further one runs after it if asked. */
  rescan(): Promise<ScanResult> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = this.scanLoop().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Current problems across all files (errors and warnings). */
  problems(): ConfigError[] {
    return [...this.pathProblems, ...[...this.files.values()].flatMap((f) => [...f.errors, ...f.warnings, ...(this.duplicates.get(f.file) ?? [])])];
  }

  /** Per-file view for `/debug/configz`. */
  status(): FileStatus[] {
    return [...this.files.values()]
      .sort((a, b) => (a.file < b.file ? -1 : 1))
      .map((f) => ({ file: f.file, resources: [...f.served.values()].map(resourceRef), errors: f.errors, warnings: [...f.warnings, ...(this.duplicates.get(f.file) ?? [])] }));
  }

  // ---- scanning --------------------------------------------------------------------------

  private async scanLoop(): Promise<ScanResult> {
    let result = await this.scanOnce();
    while (this.rerun && !this.closed) {
      this.rerun = false;
      const next = await this.scanOnce();
      result = { ...next, changes: [...result.changes, ...next.changes], filesRead: [...result.filesRead, ...next.filesRead], filesRemoved: [...result.filesRemoved, ...next.filesRemoved] };
    }
    return result;
  }

  private async scanOnce(): Promise<ScanResult> {
    let listing: ReturnType<typeof listConfigFiles>;
    try {
      listing = listConfigFiles(this.opts.paths);
    } catch (err) {
      // A directory vanished mid-walk: keep everything and try again on the next event/rescan.
      const problems = [{ file: String(this.opts.paths.join(', ')), message: `cannot list config files: ${(err as Error).message}`, level: 'error' as const }];
      return { changes: [], filesRead: [], filesRemoved: [], problems };
    }
    const { files, problems } = listing;
    this.pathProblems = problems.map((p): ConfigError => ({ file: p.file, message: `${p.message} (watched config path)`, level: 'error' }));
    const present = new Set(files);
    const filesRead: string[] = [];
    const filesRemoved: string[] = [];
    for (const file of files) {
      if (MESH_CONFIG_FILES.has(basename(file))) await this.readMeshConfig(file);
      else if (await this.refreshFile(file)) filesRead.push(file);
    }
    for (const file of [...this.files.keys()]) {
      if (!present.has(file)) {
        this.files.delete(file);
        filesRemoved.push(file);
      }
    }
    for (const file of [...this.meshFiles.keys()]) {
      if (!present.has(file)) {
        this.meshFiles.delete(file);
        this.opts.onMeshConfig?.(undefined, file);
      }
    }
    const changes = this.closed ? [] : this.opts.store.replaceSource(this.sourceId, this.desired());
    if (changes.length > 0) this.log.info({ changes: changes.length, revision: this.opts.store.revision() }, 'config files applied');
    const result: ScanResult = { changes, filesRead, filesRemoved, problems: this.problems() };
    for (const l of [...this.listeners]) {
      try {
        l(result);
      } catch (err) {
        this.log.error({ err }, 'config scan listener failed');
      }
    }
    if (!this.closed) this.ensureWatchers();
    return result;
  }

  /** Re-evaluate a file when its stat changed; true when it was read. */
  private async refreshFile(file: string): Promise<boolean> {
    const previous = this.files.get(file);
    const signature = await signatureOf(file);
    if (signature === undefined) return false; // vanished since listing; dropped as absent next scan
    if (previous && previous.signature === signature) return false;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const error: ConfigError = { file, message: `cannot read: ${(err as Error).message} (previous resources keep serving)`, level: 'error' };
      this.files.set(file, { file, signature: '', text: previous?.text ?? '', served: previous?.served ?? new Map(), errors: [error], warnings: [] });
      return true;
    }
    if (previous && previous.text === text) {
      this.files.set(file, { ...previous, signature });
      return false;
    }
    const state = evaluateFile(file, text, signature, previous, this.opts.validate);
    this.files.set(file, state);
    for (const e of state.errors) this.log.warn(`config error: ${formatConfigError(e)}`);
    return true;
  }

  private async readMeshConfig(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return;
    }
    if (this.meshFiles.get(file) === text) return;
    this.meshFiles.set(file, text);
    this.opts.onMeshConfig?.(text, file);
  }

  /** This source's full set: files in sorted order, a later file winning a duplicate key. */
  private desired(): ConfigResource[] {
    const out = new Map<string, { r: ConfigResource; file: string }>();
    const duplicates = new Map<string, ConfigError[]>();
    const sorted = [...this.files.values()].sort((a, b) => (a.file < b.file ? -1 : 1));
    for (const f of sorted) {
      for (const [key, r] of f.served) {
        const before = out.get(key);
        if (before) {
          const warning: ConfigError = { file: f.file, line: r.origin?.line, resource: resourceRef(r), message: `also defined in ${before.file}; the definition in this file is used`, level: 'warning' };
          duplicates.set(f.file, [...(duplicates.get(f.file) ?? []), warning]);
        }
        out.set(key, { r, file: f.file });
      }
    }
    this.duplicates = duplicates;
    return [...out.values()].map((v) => v.r);
  }

  // ---- watching --------------------------------------------------------------------------

  /**
   * One non-recursive watcher per directory (inotify on Linux reports creates, writes, renames
   * and deletes of its entries), refreshed after every scan so new subdirectories are covered.
   * Node's own recursive mode is avoided: on Linux it misses replaced files.
   */
  private ensureWatchers(): void {
    if (this.opts.watch === false || this.closed) return;
    const wanted = new Set<string>();
    for (const p of this.opts.paths) {
      const abs = resolve(p);
      const isDir = statIsDir(abs);
      if (isDir === undefined) continue; // missing: the periodic rescan retries
      if (isDir) collectDirs(abs, wanted);
      else wanted.add(dirname(abs));
    }
    for (const [dir, w] of this.watchers) {
      if (!wanted.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: true }, () => this.onFileEvent());
        w.on('error', () => {
          // Typically the directory went away; the rescan drops its files and re-lists watchers.
          w.close();
          if (this.watchers.get(dir) === w) this.watchers.delete(dir);
          this.onFileEvent();
        });
        this.watchers.set(dir, w);
      } catch (err) {
        this.log.warn({ err, path: dir }, 'cannot watch config directory; relying on periodic rescan');
      }
    }
  }

  private onFileEvent(): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.firstEventAt ??= now;
    this.debounce?.cancel();
    // Debounce, but never postpone a scan by more than 10 quiet periods of continuous events.
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstEventAt + this.debounceMs * 10 - now));
    this.debounce = this.clock.setTimer(() => {
      this.debounce = undefined;
      this.firstEventAt = undefined;
      void this.rescan().catch((err: unknown) => this.log.error({ err }, 'config rescan failed'));
    }, wait);
  }

  private schedulePeriodic(): void {
    if (this.rescanMs <= 0 || this.closed) return;
    this.periodic = this.clock.setTimer(() => {
      void this.rescan()
        .catch((err: unknown) => this.log.error({ err }, 'config rescan failed'))
        .finally(() => this.schedulePeriodic());
    }, this.rescanMs);
  }
}

async function signatureOf(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

function collectDirs(dir: string, out: Set<string>): void {
  out.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statIsDir(p)) collectDirs(p, out);
  }
}

function statIsDir(p: string): boolean | undefined {
  try {
    const st = statSync(p, { throwIfNoEntry: false });
    return st ? st.isDirectory() : undefined;
  } catch {
    return undefined;
  }
}
