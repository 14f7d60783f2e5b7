import type { TlsSpec } from './tls-context-config.ts';

/**
 * Istio's `istio.alpn` filter: HTTP sent over mesh mTLS (a cluster whose TLS offers `istio`)
 * offers `istio-http/1.1` or `istio-h2` first, so the server's filter chain match can tell HTTP
 * from other mesh TCP on a port whose protocol is sniffed. `istio-peer-exchange` is not offered
 * for HTTP (it would select the TCP metadata exchange). `istio` stays listed: Node's TLS servers
 * refuse a handshake with no common ALPN, where Envoy's just select none.
 */
export function istioHttpAlpn(spec: TlsSpec | undefined, protocol: 'istio-http/1.1' | 'istio-h2'): TlsSpec | undefined {
  if (!spec || !spec.alpn.includes('istio')) return spec;
  const rest = spec.alpn.filter((p) => p !== 'istio-peer-exchange' && p !== protocol);
  return { ...spec, alpn: [protocol, ...rest], key: `${spec.key}|${protocol}` };
}
