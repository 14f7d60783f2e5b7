import { isValidCIDR, isValidIP } from './ip-addresses.ts';

/** AuthorizationPolicy values: IP blocks, ports, condition keys (`source.ip`, `request.headers[x]`, ...). */
export function validateIPs(values: string[] | undefined): string | undefined {
  for (const v of values ?? []) {
    if (v.includes('/')) {
      if (!isValidCIDR(v)) return `invalid CIDR range: ${v}`;
    } else if (!isValidIP(v)) return `invalid IP address: ${v}`;
  }
  return undefined;
}

export function validatePorts(values: string[] | undefined): string | undefined {
  for (const v of values ?? []) {
    if (!/^\d+$/.test(v) || Number(v) > 65535) return `invalid port: ${v}`;
  }
  return undefined;
}

export function checkEmptyValues(field: string, values: string[] | undefined): string | undefined {
  return (values ?? []).some((v) => v === '') ? `empty value not allowed, found in ${field}` : undefined;
}

function validateMapKey(key: string): string | undefined {
  const open = key.indexOf('[');
  if (open < 0 || !key.endsWith(']') || key.length - open <= 2) return `invalid key: ${key}`;
  return undefined;
}

const PLAIN_KEYS = new Set(['source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'connection.sni', 'source.serviceAccount', 'source.trustDomain']);

export function validateAttribute(key: string, values: string[] | undefined): string | undefined {
  if (key === '') return 'attribute key is empty';
  if (key.startsWith('request.headers')) return validateMapKey(key);
  if (key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') return validateIPs(values);
  if (key.startsWith('request.auth.claims')) return validateMapKey(key);
  if (key === 'destination.port') return validatePorts(values);
  if (PLAIN_KEYS.has(key) || key.startsWith('experimental.envoy.filters.')) return undefined;
  return `unknown attribute: ${key}`;
}

/** Paths may use `{*}` (one segment) and `{**}` (any number of segments, at most once) templates. */
export function checkValidPathTemplate(field: string, paths: string[] | undefined): string | undefined {
  for (const p of paths ?? []) {
    if (!p.includes('{') && !p.includes('}')) continue;
    // as Istio's CheckValidPathTemplate: no operator after {**} (literals are fine)
    let any = 0;
    for (const s of p.replace(/^\/+|\/+$/g, '').split('/')) {
      if (s === '{*}' && any === 0) continue;
      if (s === '{**}' && any++ === 0) continue;
      if (s.includes('{') || s.includes('}') || s === '{**}') {
        return `invalid or unsupported path ${p}, found in ${field}. Contains segment ${s} with at least one of '{' or '}' or is not the last operator`;
      }
    }
  }
  return undefined;
}
