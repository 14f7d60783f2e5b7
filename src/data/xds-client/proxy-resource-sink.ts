import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { ProxyStats } from '../admin/proxy-stats.ts';
import type { NameTableEntry } from '../dns/name-table.ts';
import type { SidecarDns } from '../dns/sidecar-dns.ts';
import type { XdsResourceSink } from './ads-client.ts';
import type { XdsConfigApplier } from './config-applier.ts';

/**
 * Where the proxy's ADS stream delivers: Envoy's types to the config applier (ACKs and NACKs
 * counted), Istio's NDS name table (asked for only with the sidecar DNS proxy) to the DNS proxy.
 */
export function proxyResourceSink(applier: XdsConfigApplier, stats: ProxyStats, dns: SidecarDns | undefined): XdsResourceSink {
  return {
    apply(u) {
      if (u.typeUrl === TYPE_URL.nameTable) {
        if (!dns) return `${TYPE_URL.nameTable} was not asked for`;
        const table = u.resources[0]?.resource.table as Record<string, NameTableEntry> | undefined;
        if (u.resources.length > 0 || u.stateOfTheWorld) dns.table.replace(table);
        return undefined;
      }
      const r = applier.apply(u);
      if (r === undefined) stats.xdsAcks++;
      else stats.xdsNacks++;
      return r;
    },
    subscriptions: (t) => applier.subscriptions(t),
  };
}
