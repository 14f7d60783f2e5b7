import type { Logger } from '../log.ts';
import type { KubeApi } from './kube-api.ts';
import { Reflector, type KubeObject, type ReflectorOptions } from './reflector.ts';

/** `namespace/name` (or `name` for cluster-scoped objects). */
export function objectKey(o: KubeObject): string {
  const md = o.metadata ?? {};
  return md.namespace ? `${md.namespace}/${md.name ?? ''}` : String(md.name ?? '');
}

export interface WatchedCollectionOptions {
  api: KubeApi;
  path: string;
  what: string;
  apiVersion: string;
  kind: string;
  fieldSelector?: string;
  labelSelector?: string;
  log: Logger;
  /** After every re-list and event: what changed (the keys), for the owner to react. */
  onChange: (keys: string[], deleted: KubeObject[]) => void;
  reflector?: Pick<ReflectorOptions, 'minWatchTimeoutSeconds' | 'inactivityMs' | 'backoff'>;
}

/**
 * A local cache of one collection kept by list+watch (client-go's informer store): the objects
 * by key, and a callback after each change. A re-list reports the keys that appeared, changed
 * or went away.
 */
export class WatchedCollection {
  private readonly objects = new Map<string, KubeObject>();
  private readonly reflector: Reflector;

  constructor(o: WatchedCollectionOptions) {
    this.reflector = new Reflector({
      api: o.api,
      path: o.path,
      what: o.what,
      apiVersion: o.apiVersion,
      kind: o.kind,
      fieldSelector: o.fieldSelector,
      labelSelector: o.labelSelector,
      log: o.log,
      ...o.reflector,
      onSync: (items) => {
        const next = new Map(items.map((i) => [objectKey(i), i]));
        const changed: string[] = [];
        const deleted: KubeObject[] = [];
        for (const [k, v] of this.objects) {
          if (!next.has(k)) {
            deleted.push(v);
            changed.push(k);
          }
        }
        for (const [k, v] of next) {
          const prev = this.objects.get(k);
          if (prev?.metadata?.resourceVersion !== v.metadata?.resourceVersion) changed.push(k);
        }
        this.objects.clear();
        for (const [k, v] of next) this.objects.set(k, v);
        if (changed.length > 0 || !this.reflector.isSynced) o.onChange(changed, deleted);
      },
      onEvent: (type, obj) => {
        const key = objectKey(obj);
        if (type === 'DELETED') {
          this.objects.delete(key);
          o.onChange([key], [obj]);
        } else {
          this.objects.set(key, obj);
          o.onChange([key], []);
        }
      },
    });
  }

  start(): void {
    this.reflector.start();
  }

  synced(): Promise<void> {
    return this.reflector.synced();
  }

  get isSynced(): boolean {
    return this.reflector.isSynced;
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  close(): Promise<void> {
    return this.reflector.close();
  }
}
