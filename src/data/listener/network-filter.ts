import type { Obj } from '../xds-client/proto-values.ts';
import type { StreamInfo } from '../l7/stream-info.ts';

/**
 * A network (L4) filter ahead of the terminal one (tcp_proxy / http_connection_manager):
 * `onConnection` returns false to close the connection (RBAC deny). The hook for L4 policy.
 */
export interface NetworkFilter {
  readonly name: string;
  onConnection(info: StreamInfo): boolean;
}

export type NetworkFilterFactory = (name: string, config: Obj, path: string) => NetworkFilter;

/** Network filter factories by config type; `ignored` ones are accepted and skipped. */
export class NetworkFilterRegistry {
  private readonly factories = new Map<string, NetworkFilterFactory>();
  private readonly ignoredTypes = new Set<string>();
  private readonly ignoredNames = new Set<string>();

  register(typeName: string, factory: NetworkFilterFactory): this {
    this.factories.set(typeName, factory);
    return this;
  }

  ignoreType(typeName: string): this {
    this.ignoredTypes.add(typeName);
    return this;
  }

  ignoreName(name: string): this {
    this.ignoredNames.add(name);
    return this;
  }

  factory(typeName: string): NetworkFilterFactory | undefined {
    return this.factories.get(typeName);
  }

  isIgnored(typeName: string, name: string): boolean {
    return this.ignoredTypes.has(typeName) || this.ignoredNames.has(name);
  }
}
