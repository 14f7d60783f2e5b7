import { FilterFactoryRegistry, type FilterFactory } from '../xds-client/filter-factory-registry.ts';
import type { StreamInfo } from '../l7/stream-info.ts';

/**
 * A network (L4) filter ahead of the terminal one (tcp_proxy / http_connection_manager):
 * `onConnection` returns false to close the connection (RBAC deny). The hook for L4 policy.
 */
export interface NetworkFilter {
  readonly name: string;
  onConnection(info: StreamInfo): boolean;
}

export type NetworkFilterFactory = FilterFactory<NetworkFilter>;

/** Network filter factories by config type; `ignored` ones are accepted and skipped. */
export class NetworkFilterRegistry extends FilterFactoryRegistry<NetworkFilter> {}
