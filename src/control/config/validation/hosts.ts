import { isValidIP } from './ip-addresses.ts';

/**
 * Host names as Istio validates them: DNS-1123 labels, FQDNs, wildcard domains (`*.example.com`,
 * `*`), `namespace/host` entries of Sidecar egress and Gateway servers, and the overlap /
 * subset relations between (wildcard) host names.
 */
const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isDNS1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Kubernetes object names of Istio kinds: DNS-1123 subdomain. */
export function isDNS1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/.test(s);
}

function isWildcardLabel(s: string): boolean {
  return s.length <= 63 && WILDCARD_LABEL.test(s);
}

function dnsPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

export function validateDNS1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1];
  if (/^[+-]?\d+$/.test(tld)) return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === '') return undefined; // trailing dot
    if (!isDNS1123Label(parts[i])) return `domain name "${domain}" invalid (label "${parts[i]}" invalid)`;
  }
  return undefined;
}

export function validateFQDN(fqdn: string): string | undefined {
  return dnsPreconditions(fqdn) ?? validateDNS1123Labels(fqdn);
}

/** A valid FQDN that may start with a wildcard label (`*`, `*.foo.com`, `*foo.com`). */
export function validateWildcardDomain(domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardLabel(first)) return `domain name "${domain}" invalid (label "${first}" invalid)`;
  return dot < 0 ? undefined : validateDNS1123Labels(domain.slice(dot + 1));
}

/** Like validateWildcardDomain, plus the auto-generated SNI form `outbound_.PORT_._.HOST` for gateway-bound TLS routes. */
export function validateWildcardDomainForGateway(sni: boolean, domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  if (sni && domain.startsWith('outbound_')) {
    const parts = domain.split('_');
    const format = 'outbound_.<PORT>_._.<HOSTNAME>';
    if (parts.length < 4) return `domain name ${domain} invalid, should follow '${format}' format`;
    const port = parts[1].replace(/^\.+|\.+$/g, '');
    const host = parts[3].replace(/^\.+|\.+$/g, '');
    if (!/[0-9]/.test(port)) return `domain name "${domain}" invalid (label "${port}" invalid). should follow ${format} format`;
    if (!/[a-zA-Z]/.test(host)) return `domain name "${domain}" invalid (label "${host}" invalid). should follow ${format} format`;
    return undefined;
  }
  return validateWildcardDomain(domain);
}

export function validatePartialWildcard(host: string): string | undefined {
  if (host.includes('*') && host.length !== 1 && !host.startsWith('*.')) return `partial wildcard "${host}" not allowed`;
  return undefined;
}

function validateHostnamePart(hostname: string, isGateway: boolean): string[] {
  const errs: string[] = [];
  if (hostname !== '*' && !hostname.includes('.')) errs.push('short names (non FQDN) are not allowed');
  const e = validateWildcardDomain(hostname);
  if (e) {
    if (!isGateway) errs.push(e);
    else if (!isValidIP(hostname)) errs.push(e);
  }
  const p = validatePartialWildcard(hostname);
  if (p) errs.push(p);
  return errs;
}

/** Sidecar egress hosts (`ns/host`, required) and Gateway server hosts (`ns/host` or `host`). */
/** `gatewaySemantics`: a Gateway generated from a Gateway API resource, where `~/host` means "no routes attached". */
export function validateNamespaceSlashWildcardHostname(hostname: string, isGateway: boolean, gatewaySemantics = false): string[] {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    if (isGateway) return validateHostnamePart(hostname, true);
    return ['host must be of form namespace/dnsName'];
  }
  const ns = hostname.slice(0, slash);
  const dns = hostname.slice(slash + 1);
  const errs: string[] = [];
  if (ns === '' || dns === '') errs.push('config namespace and dnsName in host entry cannot be empty');
  const special = isGateway && !gatewaySemantics ? ['*', '.'] : ['*', '.', '~'];
  if (!special.includes(ns) && !isDNS1123Label(ns)) errs.push(`invalid namespace value "${ns}" in ${isGateway ? 'gateway' : 'sidecar'}`);
  errs.push(...validateHostnamePart(dns, isGateway));
  return errs;
}

function isWildcarded(h: string): boolean {
  return h.startsWith('*');
}

/** Whether two (possibly wildcard) host names overlap. */
export function hostMatches(a: string, b: string): boolean {
  if (isWildcarded(a)) {
    if (isWildcarded(b)) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
    return b.endsWith(a.slice(1));
  }
  if (isWildcarded(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** Whether every name matched by `a` is matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (isWildcarded(a)) {
    if (isWildcarded(b)) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
    return false;
  }
  if (isWildcarded(b)) return a.endsWith(b.slice(1));
  return a === b;
}
