/**
 * istio-init's traffic capture as one nft table per injected pod (the rules Istio writes with
 * iptables, in the same order): inbound TCP → 15006 except the proxy's own ports; outbound TCP
 * → 15001 except traffic of the proxy's uid/gid 1337 and loopback traffic that is not the app
 * calling itself. Supported pod annotations: traffic.sidecar.istio.io/excludeInboundPorts,
 * excludeOutboundPorts, excludeOutboundIPRanges (comma-separated, as in Istio). With DNS capture,
 * the app's DNS (port 53) → 15053.
 */
export const CAPTURE_TABLE = 'mizzen_capture';
export const PROXY_UID = 1337;
export const PROXY_GID = 1337;
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
/** Ports of the proxy that inbound capture leaves alone (HBONE, merged/own metrics, health). */
export const INBOUND_EXCLUDED_PORTS: readonly number[] = [15008, 15090, 15021, 15020];

export interface CaptureOptions {
  proxyUid?: number;
  proxyGid?: number;
  excludeInboundPorts?: readonly number[];
  excludeOutboundPorts?: readonly number[];
  excludeOutboundIpv4Ranges?: readonly string[];
  /**
   * Sources whose inbound connections are not captured. `mizzen up` passes the node address:
   * only its port forwards (`--expose`, like `kubectl port-forward`, which enters the pod and
   * bypasses the sidecar) connect from there.
   */
  excludeInboundSources?: readonly string[];
  /**
   * istio-iptables `--redirect-dns` (the pod's ProxyConfig has ISTIO_META_DNS_CAPTURE): DNS the
   * app sends (UDP and TCP port 53, IPv4) goes to the sidecar's DNS proxy on 127.0.0.1:15053;
   * the proxy's own queries (uid/gid 1337) go out as they are.
   */
  redirectDns?: boolean;
}

export const DNS_CAPTURE_PORT = 15053;

function parsePorts(value: string | undefined): number[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n < 65536);
}

/** Capture options from a pod's `traffic.sidecar.istio.io/*` annotations. */
export function captureOptionsFromAnnotations(annotations: Readonly<Record<string, string>>): CaptureOptions {
  const ranges = (annotations['traffic.sidecar.istio.io/excludeOutboundIPRanges'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(s));
  return {
    excludeInboundPorts: parsePorts(annotations['traffic.sidecar.istio.io/excludeInboundPorts']),
    excludeOutboundPorts: parsePorts(annotations['traffic.sidecar.istio.io/excludeOutboundPorts']),
    excludeOutboundIpv4Ranges: ranges,
  };
}

const set = (items: readonly (string | number)[]): string => (items.length === 1 ? String(items[0]) : `{ ${items.join(', ')} }`);

/** The nft script that (re)creates the capture table; run it inside the pod's namespace. */
export function renderCaptureRules(options: CaptureOptions = {}): string {
  const uid = options.proxyUid ?? PROXY_UID;
  const gid = options.proxyGid ?? PROXY_GID;
  const inboundExcluded = [...new Set([...INBOUND_EXCLUDED_PORTS, ...(options.excludeInboundPorts ?? [])])];
  const outboundExcluded = options.excludeOutboundPorts ?? [];
  const ranges = options.excludeOutboundIpv4Ranges ?? [];
  const lines = [
    `table inet ${CAPTURE_TABLE}`,
    `delete table inet ${CAPTURE_TABLE}`,
    `table inet ${CAPTURE_TABLE} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    meta l4proto tcp jump istio_inbound',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...(options.redirectDns
      ? [
        `    meta nfproto ipv4 udp dport 53 meta skuid != ${uid} meta skgid != ${gid} redirect to :${DNS_CAPTURE_PORT}`,
        `    meta nfproto ipv4 tcp dport 53 meta skuid != ${uid} meta skgid != ${gid} redirect to :${DNS_CAPTURE_PORT}`,
      ]
      : []),
    '    meta l4proto tcp jump istio_output',
    '  }',
    '  chain istio_inbound {',
    `    tcp dport ${set(inboundExcluded)} return`,
    ...((options.excludeInboundSources ?? []).length > 0 ? [`    ip saddr ${set(options.excludeInboundSources ?? [])} return`] : []),
    '    jump istio_in_redirect',
    '  }',
    '  chain istio_in_redirect {',
    `    meta l4proto tcp redirect to :${INBOUND_CAPTURE_PORT}`,
    '  }',
    '  chain istio_redirect {',
    `    meta l4proto tcp redirect to :${OUTBOUND_CAPTURE_PORT}`,
    '  }',
    '  chain istio_output {',
    // The proxy's inbound connections to the app come from 127.0.0.6 (Istio's InboundPassthroughBindIpv4).
    '    oifname "lo" ip saddr 127.0.0.6 return',
    '    oifname "lo" ip6 saddr ::6 return',
    // App → its own pod IP through the proxy: send the proxy's own such traffic to inbound.
    `    oifname "lo" ip daddr != 127.0.0.1 meta skuid ${uid} jump istio_in_redirect`,
    `    oifname "lo" ip6 daddr != ::1 meta skuid ${uid} jump istio_in_redirect`,
    `    oifname "lo" meta skuid != ${uid} return`,
    `    meta skuid ${uid} return`,
    `    oifname "lo" ip daddr != 127.0.0.1 meta skgid ${gid} jump istio_in_redirect`,
    `    oifname "lo" ip6 daddr != ::1 meta skgid ${gid} jump istio_in_redirect`,
    `    oifname "lo" meta skgid != ${gid} return`,
    `    meta skgid ${gid} return`,
    '    ip daddr 127.0.0.1 return',
    '    ip6 daddr ::1 return',
  ];
  if (outboundExcluded.length > 0) lines.push(`    tcp dport ${set(outboundExcluded)} return`);
  if (ranges.length > 0) lines.push(`    ip daddr ${set(ranges)} return`);
  lines.push('    jump istio_redirect', '  }', '}', '');
  return lines.join('\n');
}

/** The nft script that removes the capture table (ignore failure when it is absent). */
export function renderCaptureRemoval(): string {
  return `table inet ${CAPTURE_TABLE}\ndelete table inet ${CAPTURE_TABLE}\n`;
}
