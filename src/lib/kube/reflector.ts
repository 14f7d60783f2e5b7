import { ExponentialBackoff, type BackoffOptions } from '../backoff.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { KubeApiError, type KubeApi, type WatchHandle } from './kube-api.ts';

/** A Kubernetes object as the API server returns it (apiVersion, kind, metadata, ...). */
export type KubeObject = Record<string, unknown> & { metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown } };

export interface ReflectorOptions {
  api: KubeApi;
  /** Collection path: `/api/v1/services`, `/apis/networking.istio.io/v1/virtualservices`, ... */
  path: string;
  /** What the collection is, for messages: `Services`, `VirtualServices (networking.istio.io/v1)`. */
  what: string;
  /** apiVersion and kind to set on listed items (a List's items carry neither). */
  apiVersion: string;
  kind: string;
  fieldSelector?: string;
  labelSelector?: string;
  log: Logger;
  /** Everything the collection holds, after every (re)list. */
  onSync: (items: KubeObject[]) => void;
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject) => void;
  /** A list or watch failed (the reflector retries by itself); for status and metrics. */
  onError?: (err: KubeApiError) => void;
  backoff?: BackoffOptions;
  /** Server-side watch timeout, drawn from [min, 2 min) seconds like client-go; default 300. */
  minWatchTimeoutSeconds?: number;
  /** A watch that carries nothing (no event, no bookmark) this long is dead; default 120 s. */
  inactivityMs?: number;
  pageSize?: number;
}

/**
 * List then watch one collection, as client-go's reflector: the watch resumes from the last
 * resourceVersion seen (events and bookmarks), a 410 Gone means re-list, errors back off
 * exponentially, and a watch with no traffic for `inactivityMs` is ended and re-opened.
 */
export class Reflector {
  private readonly o: ReflectorOptions;
  private readonly backoff: ExponentialBackoff;
  private resourceVersion: string | undefined;
  private closed = false;
  private watch: WatchHandle | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private syncedResolve!: () => void;
  private readonly syncedPromise: Promise<void>;
  private hasSynced = false;
  private lastErr: KubeApiError | undefined;
  private loop: Promise<void> | undefined;
  /** Lists done so far (the first one and every re-list). */
  lists = 0;

  constructor(options: ReflectorOptions) {
    this.o = options;
    this.backoff = new ExponentialBackoff({ initialMs: 500, maxMs: 30_000, ...options.backoff });
    this.syncedPromise = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves after the first successful list has been handed to onSync. */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  /** The last error, cleared by the next successful list or watch event. */
  get lastError(): KubeApiError | undefined {
    return this.lastErr;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.resourceVersion === undefined) await this.list();
        if (this.closed) break;
        await this.watchOnce();
      } catch (err) {
        if (this.closed) break;
        const e = err instanceof KubeApiError ? err : new KubeApiError(0, 'Unknown', errorMessage(err));
        if (e.status === 410) {
          this.o.log.info({ what: this.o.what }, 'watch resourceVersion expired (410 Gone): re-listing');
          this.resourceVersion = undefined;
          continue;
        }
        this.lastErr = e;
        this.o.onError?.(e);
        const delay = this.backoff.next();
        this.o.log.warn({ what: this.o.what, retryInMs: delay }, `${describeFailure(this.o.what, e)}; retrying`);
        await this.sleep(delay);
      }
    }
  }

  private async list(): Promise<void> {
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    let rv = '';
    do {
      const page = await this.o.api.request<{ metadata?: { resourceVersion?: string; continue?: string }; items?: KubeObject[] }>('GET', this.o.path, {
        query: { limit: this.o.pageSize ?? 500, continue: continueToken, fieldSelector: this.o.fieldSelector, labelSelector: this.o.labelSelector },
        timeoutMs: 60_000,
      });
      for (const item of page.items ?? []) items.push({ apiVersion: this.o.apiVersion, kind: this.o.kind, ...item });
      continueToken = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (continueToken && !this.closed);
    if (this.closed) return;
    this.lists++;
    this.resourceVersion = rv;
    this.lastErr = undefined;
    this.backoff.reset();
    this.o.onSync(items);
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.syncedResolve();
    }
  }

  private watchOnce(): Promise<void> {
    const min = this.o.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + Math.random()));
    return new Promise<void>((resolve, reject) => {
      let failed: KubeApiError | undefined;
      const onDone = (err: unknown): void => {
        this.watch = undefined;
        if (failed) return reject(failed);
        if (err && !this.closed) {
          const status = (err as { statusCode?: number }).statusCode ?? 0;
          const name = (err as { name?: string }).name;
          const reason = name === 'TimeoutError' ? 'WatchInactive' : status === 0 ? 'Unreachable' : String(status);
          const message = name === 'TimeoutError' ? `no event or bookmark for ${Math.round((this.o.inactivityMs ?? 120_000) / 1000)} s` : errorMessage(err);
          return reject(new KubeApiError(status, reason, `watch ${this.o.path}: ${message}`));
        }
        resolve();
      };
      const onEvent = (type: string, object: Record<string, unknown>): void => {
        if (type === 'ERROR') {
          const code = typeof object.code === 'number' ? object.code : 0;
          failed = new KubeApiError(code, String(object.reason ?? 'Error'), `watch ${this.o.path}: ${String(object.message ?? 'error event')}`);
          this.watch?.abort();
          return;
        }
        const rv = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        this.lastErr = undefined;
        this.backoff.reset();
        this.o.onEvent(type as 'ADDED' | 'MODIFIED' | 'DELETED', { apiVersion: this.o.apiVersion, kind: this.o.kind, ...object });
      };
      const query: Record<string, string | number | boolean> = { resourceVersion: this.resourceVersion ?? '', allowWatchBookmarks: true, timeoutSeconds };
      if (this.o.fieldSelector) query.fieldSelector = this.o.fieldSelector;
      if (this.o.labelSelector) query.labelSelector = this.o.labelSelector;
      this.o.api
        .watch(this.o.path, query, onEvent, onDone, this.o.inactivityMs ?? 120_000, () => {
          this.lastErr = undefined;
          this.backoff.reset();
        })
        .then((h) => {
          if (this.closed) h.abort();
          else this.watch = h;
        })
        .catch(reject);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}

/** An operator-facing sentence for a failed list or watch: what is missing and what to check. */
export function describeFailure(what: string, e: KubeApiError): string {
  if (e.status === 0) return `cannot reach the API server to list/watch ${what}: ${e.message} (hint: is the API server up and the kubeconfig right?)`;
  if (e.status === 401) return `the API server refused our credentials for ${what}: ${e.message} (hint: the kubeconfig's user or the service-account token)`;
  if (e.status === 403) return `RBAC forbids listing/watching ${what}: ${e.message} (hint: the ClusterRole of mizzen's service account needs get, list and watch on it)`;
  if (e.status === 404) return `the API server does not serve ${what}: ${e.message} (hint: is its CRD installed?)`;
  return `list/watch of ${what} failed: ${e.message}`;
}
