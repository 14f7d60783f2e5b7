/**
 * Istio's in-pod redirection for ambient pods (istio-cni's nftables rules, cni/pkg/nftables:
 * tables `istio-ambient-nat`, `istio-ambient-mangle`, `istio-ambient-raw`), written into the
 * pod's own namespace, plus the policy route that sends marked replies to ztunnel:
 * `ip rule add fwmark 0x111/0xfff pref 32764 lookup 100` and `ip route add local 0.0.0.0/0 dev
 * lo table 100`.
 * - inbound TCP except 15008 → 15006 (ztunnel's plaintext inbound); 15008 is ztunnel's own
 *   listener in the pod;
 * - outbound TCP (not to 127.0.0.1, not ztunnel's, i.e. not marked 0x539) → 15001;
 * - DNS (UDP/TCP 53) → 15053 when DNS capture is on, with a separate conntrack zone;
 * - packets ztunnel sends (mark 0x539) that loop back into the pod get connmark 0x111, and the
 *   application's replies on those connections carry it, so table 100 hands them to ztunnel's
 *   transparent socket (source-IP preservation);
 * - `exemptSources` (Istio: the kubelet's probes SNATed to 169.254.7.127; here the node address,
 *   from which `mizzen up` probes pods and forwards ports) are not captured.
 */
export const INPOD_MARK = 0x539;
export const INPOD_TPROXY_MARK = 0x111;
export const INPOD_MASK = 0xfff;
export const INBOUND_ROUTE_TABLE = 100;
export const INPOD_RULE_PREF = 32764;
export const INPOD_TABLES = ['istio-ambient-nat', 'istio-ambient-mangle', 'istio-ambient-raw'] as const;

export interface InpodRuleOptions {
  /** Redirect DNS to ztunnel's 15053 (ambient.istio.io/dns-capture; default off until DNS is served). */
  dnsCapture?: boolean;
  /** `ambient.istio.io/bypass-inbound-capture`: leave inbound alone (gateways). */
  bypassInbound?: boolean;
  /** Sources whose inbound TCP is not captured (probes, port forwards). */
  exemptSources?: readonly string[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The nft script (run with `nft -f -` inside the pod). Re-running replaces the tables. */
export function renderInpodRules(o: InpodRuleOptions = {}): string {
  const mark = hex(INPOD_MARK);
  const tproxy = hex(INPOD_TPROXY_MARK);
  const mask = hex(INPOD_MASK);
  const nat = 'inet istio-ambient-nat';
  const mangle = 'inet istio-ambient-mangle';
  const raw = 'inet istio-ambient-raw';
  const lines: string[] = [
    `add table ${nat}`,
    `flush table ${nat}`,
    `add chain ${nat} prerouting { type nat hook prerouting priority -100 ; }`,
    `add chain ${nat} output { type nat hook output priority -100 ; }`,
    `add chain ${nat} istio-prerouting`,
    `add chain ${nat} istio-output`,
    `add rule ${nat} output jump istio-output`,
    `add rule ${nat} prerouting jump istio-prerouting`,
  ];
  for (const src of o.exemptSources ?? []) {
    lines.push(`add rule ${nat} istio-prerouting meta l4proto tcp ip saddr ${src} counter accept`);
    lines.push(`add rule ${nat} istio-output meta l4proto tcp ip daddr ${src} counter accept`);
  }
  if (!o.bypassInbound) lines.push(`add rule ${nat} istio-prerouting ip daddr != 127.0.0.1/32 tcp dport != 15008 mark and ${mask} != ${mark} counter redirect to :15006`);
  if (o.dnsCapture) {
    lines.push(`add rule ${nat} istio-output oifname != lo mark and ${mask} != ${mark} udp dport 53 counter redirect to :15053`);
    lines.push(`add rule ${nat} istio-output ip daddr != 127.0.0.1/32 tcp dport 53 mark and ${mask} != ${mark} counter redirect to :15053`);
  }
  lines.push(
    `add rule ${nat} istio-output meta l4proto tcp mark and ${mask} == ${tproxy} counter accept`,
    `add rule ${nat} istio-output oifname lo ip daddr != 127.0.0.1/32 counter accept`,
    `add rule ${nat} istio-output meta l4proto tcp ip daddr != 127.0.0.1/32 mark and ${mask} != ${mark} counter redirect to :15001`,
    `add table ${mangle}`,
    `flush table ${mangle}`,
    `add chain ${mangle} prerouting { type filter hook prerouting priority -150 ; }`,
    `add chain ${mangle} output { type route hook output priority -150 ; }`,
    `add chain ${mangle} istio-prerouting`,
    `add chain ${mangle} istio-output`,
    `add rule ${mangle} prerouting jump istio-prerouting`,
    `add rule ${mangle} output jump istio-output`,
    `add rule ${mangle} istio-prerouting meta mark & ${mask} == ${mark} counter ct mark set ct mark & 0xfffff000 | ${tproxy}`,
    `add rule ${mangle} istio-output ct mark and ${mask} == ${tproxy} counter meta mark set ct mark`,
    `add table ${raw}`,
    `flush table ${raw}`,
    `add chain ${raw} prerouting { type filter hook prerouting priority -300 ; }`,
    `add chain ${raw} output { type filter hook output priority -300 ; }`,
    `add chain ${raw} istio-prerouting`,
    `add chain ${raw} istio-output`,
    `add rule ${raw} prerouting jump istio-prerouting`,
    `add rule ${raw} output jump istio-output`,
  );
  if (o.dnsCapture) {
    lines.push(`add rule ${raw} istio-output udp dport 53 meta mark and ${mask} == ${mark} counter ct zone set 1`);
    lines.push(`add rule ${raw} istio-prerouting udp sport 53 meta mark and ${mask} != ${mark} counter ct zone set 1`);
  }
  return `${lines.join('\n')}\n`;
}

/** The nft script that removes the in-pod tables (un-enrollment). */
export function renderInpodRemoval(): string {
  return INPOD_TABLES.map((t) => `add table inet ${t}\ndelete table inet ${t}`).join('\n') + '\n';
}

/** `ip` commands (run inside the pod) for the policy route of marked replies. */
export function inpodRouteCommands(): string[][] {
  return [
    ['rule', 'add', 'fwmark', `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_MASK)}`, 'pref', String(INPOD_RULE_PREF), 'lookup', String(INBOUND_ROUTE_TABLE)],
    ['route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(INBOUND_ROUTE_TABLE)],
  ];
}

export function inpodRouteRemovalCommands(): string[][] {
  return [
    ['rule', 'del', 'fwmark', `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_MASK)}`, 'pref', String(INPOD_RULE_PREF), 'lookup', String(INBOUND_ROUTE_TABLE)],
    ['route', 'del', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(INBOUND_ROUTE_TABLE)],
  ];
}
