import { FilterFactoryRegistry, type FilterFactory } from '../xds-client/filter-factory-registry.ts';
import type { StreamInfo } from '../l7/stream-info.ts';

/**
 * A network (L4) filter ahead of the terminal one (tcp_proxy / http_connection_manager):
 * `onConnection` returns false to close the connection (RBAC deny), or a promise of that verdict
 * (ext_authz: the connection waits, unread, until it settles). The hook for L4 policy.
 */
export interface NetworkFilter {
  readonly name: string;
  onConnection(info: StreamInfo): boolean | Promise<boolean>;
}

/**
 * Run a chain's network filters in order; `next` runs when all let the connection through, a
 * refusal (or a failed check) closes it. Synchronous verdicts add no tick.
 */
export function runNetworkFilters(filters: readonly NetworkFilter[], info: StreamInfo, socket: { destroy(): void; pause(): unknown; destroyed: boolean }, next: () => void, from = 0): void {
  for (let i = from; i < filters.length; i++) {
    const v = filters[i].onConnection(info);
    if (v === true) continue;
    if (v === false) {
      socket.destroy();
      return;
    }
    socket.pause();
    v.then(
      (ok) => {
        if (socket.destroyed) return;
        if (ok) runNetworkFilters(filters, info, socket, next, i + 1);
        else socket.destroy();
      },
      () => socket.destroy(),
    );
    return;
  }
  next();
}

export type NetworkFilterFactory = FilterFactory<NetworkFilter>;

/** Network filter factories by config type; `ignored` ones are accepted and skipped. */
export class NetworkFilterRegistry extends FilterFactoryRegistry<NetworkFilter> {}
