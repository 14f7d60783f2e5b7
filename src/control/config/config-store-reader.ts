import type { ConfigResource } from '../../api/config-resource.ts';

/** One change to the store, delivered to listeners after it is applied. */
export interface ConfigChange {
  /** The store kind (the resource's kind; `KubernetesGateway` for the Gateway API's Gateway). */
  kind: string;
  group: string;
  namespace: string | undefined;
  name: string;
  /** undefined when the resource was created. */
  old: ConfigResource | undefined;
  /** undefined when the resource was deleted. */
  new: ConfigResource | undefined;
}

/**
 * Read side of the ConfigStore: the validated resources currently in force. Implemented by the
 * store (control/config/config-store.ts); consumers (registry, push context, analyzers) depend
 * only on this.
 */
export interface ConfigStoreReader {
  /**
   * Every resource of a kind, optionally in one namespace; stable order (namespace, name). Kinds
   * are store kinds (api/kinds.ts storeKindOf): `KubernetesGateway` lists the Gateway API's Gateways.
   */
  list(kind: string, namespace?: string): readonly ConfigResource[];
  get(kind: string, namespace: string | undefined, name: string): ConfigResource | undefined;
  /** Every resource of every kind. */
  all(): readonly ConfigResource[];
  /** Monotonic revision, bumped on every applied change. */
  revision(): number;
}
