import type { ConfigResource } from '../../api/config-resource.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import { translateGatewayApi, type GatewayApiTranslation } from './gateway-api-translation.ts';

/**
 * The config a push sees: the store's resources plus the Istio Gateways and VirtualServices the
 * Gateway API translates to (istiod feeds its converted config to the same push context). Built
 * once per push from one store revision; reads of other kinds go straight to the store.
 */
export class GatewayApiConfigView implements ConfigStoreReader {
  readonly translation: GatewayApiTranslation;
  private readonly store: ConfigStoreReader;
  private readonly extra = new Map<string, ConfigResource[]>();
  private allCache: readonly ConfigResource[] | undefined;

  constructor(store: ConfigStoreReader, domainSuffix: string) {
    this.store = store;
    this.translation = translateGatewayApi(store, domainSuffix);
    if (this.translation.gateways.length > 0) this.extra.set('Gateway', this.translation.gateways as unknown as ConfigResource[]);
    if (this.translation.virtualServices.length > 0) this.extra.set('VirtualService', this.translation.virtualServices as unknown as ConfigResource[]);
  }

  list(kind: string, namespace?: string): readonly ConfigResource[] {
    const own = this.store.list(kind, namespace);
    const derived = this.extra.get(kind);
    if (!derived) return own;
    const more = namespace === undefined ? derived : derived.filter((r) => (r.metadata.namespace ?? 'default') === namespace);
    return more.length === 0 ? own : [...own, ...more];
  }

  get(kind: string, namespace: string | undefined, name: string): ConfigResource | undefined {
    return this.store.get(kind, namespace, name) ?? this.extra.get(kind)?.find((r) => r.metadata.name === name && (r.metadata.namespace ?? 'default') === (namespace ?? 'default'));
  }

  all(): readonly ConfigResource[] {
    if (!this.allCache) this.allCache = this.extra.size === 0 ? this.store.all() : [...this.store.all(), ...[...this.extra.values()].flat()];
    return this.allCache;
  }

  revision(): number {
    return this.store.revision();
  }
}
