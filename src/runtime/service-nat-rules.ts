/**
 * What kube-proxy does for ClusterIP Services, as one nft table inside each pod's namespace:
 * a connection to VIP:port is DNATed to a random ready backend; a VIP with no ready backend (or
 * an unknown port) is refused at once. It runs after the capture table (priority 0 > -100), so
 * an injected app's connections are captured to its sidecar with the VIP as original
 * destination, and only non-captured traffic (apps without a sidecar) is load-balanced here.
 */
export const SERVICE_TABLE = 'mizzen_services';

export interface ServiceBackend {
  address: string;
  port: number;
}

export interface ServiceNatEntry {
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  backends: readonly ServiceBackend[];
}

export function renderServiceNatRules(entries: readonly ServiceNatEntry[], serviceCidr: string): string {
  const nat: string[] = [];
  for (const e of [...entries].sort((a, b) => (a.vip === b.vip ? a.port - b.port : a.vip < b.vip ? -1 : 1))) {
    if (e.backends.length === 0) continue;
    const l4 = e.protocol === 'UDP' ? 'udp' : 'tcp';
    if (e.backends.length === 1) {
      const b = e.backends[0];
      nat.push(`    ip daddr ${e.vip} ${l4} dport ${e.port} dnat ip to ${b.address}:${b.port}`);
    } else {
      const map = e.backends.map((b, i) => `${i} : ${b.address} . ${b.port}`).join(', ');
      nat.push(`    ip daddr ${e.vip} ${l4} dport ${e.port} dnat ip to numgen random mod ${e.backends.length} map { ${map} }`);
    }
  }
  return [
    `table ip ${SERVICE_TABLE}`,
    `delete table ip ${SERVICE_TABLE}`,
    `table ip ${SERVICE_TABLE} {`,
    '  chain output {',
    '    type nat hook output priority 0; policy accept;',
    ...nat,
    '  }',
    '  chain reject_unserved {',
    '    type filter hook output priority 10; policy accept;',
    `    ip daddr ${serviceCidr} meta l4proto tcp reject with tcp reset`,
    `    ip daddr ${serviceCidr} reject with icmp type port-unreachable`,
    '  }',
    '}',
    '',
  ].join('\n');
}
