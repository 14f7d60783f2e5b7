import { X509Certificate } from 'node:crypto';
import { formatTable } from './text-table.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** istioctl proxy-config's filters (`--port`, `--fqdn`, `--subset`, `--direction`, `--name`, `--address`, `--cluster`, `--status`). */
export interface ProxyConfigFilters {
  port?: number;
  fqdn?: string;
  subset?: string;
  direction?: string;
  name?: string;
  address?: string;
  cluster?: string;
  status?: string;
  type?: string;
}

export const DUMP_TYPE = {
  bootstrap: 'BootstrapConfigDump',
  clusters: 'ClustersConfigDump',
  listeners: 'ListenersConfigDump',
  routes: 'RoutesConfigDump',
  endpoints: 'EndpointsConfigDump',
  secret: 'SecretsConfigDump',
} as const;

export type TableKind = 'clusters' | 'listeners' | 'routes' | 'endpoints' | 'secret';

/** One config kind rendered: the Envoy-shaped objects (for -o json) and istioctl's table. */
export interface Rendered {
  json: unknown;
  header: string[];
  rows: string[][];
}

export function section(dump: Obj, kind: keyof typeof DUMP_TYPE): Obj {
  return ((dump.configs ?? []) as Obj[]).find((c) => String(c['@type']).endsWith(DUMP_TYPE[kind])) ?? {};
}

/** istioctl's FQDN match: the exact host, or a short name that is its first label(s). */
function fqdnMatches(host: string, fqdn: string): boolean {
  return host === fqdn || host.startsWith(`${fqdn}.`);
}

export function renderKind(kind: TableKind, s: Obj, f: ProxyConfigFilters = {}): Rendered {
  switch (kind) {
    case 'clusters':
      return clusters(s, f);
    case 'listeners':
      return listeners(s, f);
    case 'routes':
      return routes(s, f);
    case 'endpoints':
      return endpoints(s, f);
    case 'secret':
      return secrets(s);
  }
}

function clusters(s: Obj, f: ProxyConfigFilters): Rendered {
  const all: Obj[] = (s.dynamicActiveClusters ?? []).map((c: Obj) => c.cluster);
  const list = all.filter((c) => {
    const [dir, port, subset, fqdn] = String(c.name).split('|');
    const named = fqdn !== undefined;
    if (f.fqdn && !(named && fqdnMatches(fqdn, f.fqdn))) return false;
    if (f.port !== undefined && !(named && Number(port) === f.port)) return false;
    if (f.subset && !(named && subset === f.subset)) return false;
    if (f.direction && !(named && dir === f.direction)) return false;
    return true;
  });
  const rows = list.map((c) => {
    const [dir, port, subset, fqdn] = String(c.name).split('|');
    const named = fqdn !== undefined;
    return [named ? fqdn || '' : String(c.name), named ? port : '-', named ? subset || '-' : '-', named ? dir : '-', c.type ?? (c.clusterType ? c.clusterType.name ?? 'CUSTOM' : 'EDS'), istioConfig(c.metadata, 'destination-rule')];
  });
  return { json: list, header: ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows };
}

function listeners(s: Obj, f: ProxyConfigFilters): Rendered {
  const all: Obj[] = (s.dynamicListeners ?? []).map((l: Obj) => l.activeState?.listener).filter(Boolean);
  const list = all.filter((l) => {
    const sa = l.address?.socketAddress ?? {};
    if (f.port !== undefined && Number(sa.portValue) !== f.port) return false;
    if (f.address && sa.address !== f.address) return false;
    if (f.name && l.name !== f.name) return false;
    return true;
  });
  const rows: string[][] = [];
  for (const l of list) {
    const sa = l.address?.socketAddress ?? {};
    const address = sa.address ?? (l.apiListener ? '' : '-');
    const port = sa.portValue !== undefined ? String(sa.portValue) : l.apiListener ? '-' : '0';
    if (l.apiListener) {
      rows.push([address, port, 'ALL', apiListenerDestination(l.apiListener)]);
      continue;
    }
    const chains: Obj[] = [...(l.filterChains ?? []), ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])];
    if (chains.length === 0) rows.push([address, port, 'ALL', '-']);
    for (const fc of chains) {
      const dest = chainDestination(fc);
      if (f.type && !((f.type.toUpperCase() === 'HTTP' && dest.startsWith('Route')) || (f.type.toUpperCase() === 'TCP' && !dest.startsWith('Route')))) continue;
      rows.push([address, port, chainMatch(fc.filterChainMatch), dest]);
    }
  }
  return { json: list, header: ['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows };
}

function routes(s: Obj, f: ProxyConfigFilters): Rendered {
  const list: Obj[] = (s.dynamicRouteConfigs ?? []).map((r: Obj) => r.routeConfig).filter((rc: Obj) => !f.name || rc.name === f.name);
  const rows: string[][] = [];
  for (const rc of list) {
    for (const vh of rc.virtualHosts ?? []) {
      const domains = (vh.domains ?? []) as string[];
      const dom = domains.length > 2 ? `${domains[0]} + ${domains.length - 1} more...` : domains.join(', ');
      for (const r of vh.routes ?? []) rows.push([rc.name ?? '', vh.name ?? '', dom, routeMatch(r.match ?? {}), istioConfig(r.metadata, 'virtual-service') || '404']);
      if ((vh.routes ?? []).length === 0) rows.push([rc.name ?? '', vh.name ?? '', dom, '-', '-']);
    }
  }
  return { json: list, header: ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows };
}

function endpoints(s: Obj, f: ProxyConfigFilters): Rendered {
  const all: Obj[] = (s.dynamicEndpointConfigs ?? []).map((e: Obj) => e.endpointConfig);
  const list = all.filter((a) => !f.cluster || a.clusterName === f.cluster);
  const rows: string[][] = [];
  for (const a of list) {
    for (const le of a.endpoints ?? []) {
      for (const lb of le.lbEndpoints ?? []) {
        const sa = lb.endpoint?.address?.socketAddress ?? {};
        const status = lb.healthStatus && lb.healthStatus !== 'UNKNOWN' && lb.healthStatus !== 'HEALTHY' ? 'UNHEALTHY' : 'HEALTHY';
        if (f.address && sa.address !== f.address) continue;
        if (f.port !== undefined && Number(sa.portValue) !== f.port) continue;
        if (f.status && status.toLowerCase() !== f.status.toLowerCase()) continue;
        rows.push([`${sa.address ?? '?'}:${sa.portValue ?? '?'}`, status, 'OK', a.clusterName ?? '']);
      }
    }
  }
  return { json: list, header: ['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows };
}

/** istioctl's time format for certificates: RFC 3339 in UTC, seconds precision. */
function rfc3339(text: string): string {
  const t = Date.parse(text);
  return Number.isNaN(t) ? text : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Each secret (`default`, `ROOTCA`) with its certificate's validity and serial, as istioctl shows them. */
function secrets(s: Obj, now = Date.now()): Rendered {
  const list: Obj[] = (s.dynamicActiveSecrets ?? []).map((x: Obj) => x.secret);
  const rows = list.map((x) => {
    const pem = x.tlsCertificate?.certificateChain?.inlineBytes ?? x.tlsCertificate?.certificateChain?.inlineString ?? x.validationContext?.trustedCa?.inlineBytes ?? x.validationContext?.trustedCa?.inlineString;
    const type = x.tlsCertificate ? 'Cert Chain' : x.validationContext ? 'CA' : '-';
    const cert = parseCert(pem);
    if (!cert) return [x.name ?? '', type, 'ACTIVE', 'false', '-', '-', '-'];
    const valid = Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo);
    return [x.name ?? '', type, 'ACTIVE', String(valid), cert.serialNumber.toLowerCase(), rfc3339(cert.validTo), rfc3339(cert.validFrom)];
  });
  return { json: list, header: ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'], rows };
}

function parseCert(data: unknown): X509Certificate | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const text = data.includes('BEGIN') ? data : Buffer.from(data, 'base64').toString('utf8');
    return new X509Certificate(text);
  } catch {
    return undefined;
  }
}

/** `reviews.default` from Istio's config metadata (`/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews`). */
function istioConfig(metadata: Obj | undefined, kind: string): string {
  const cfg = metadata?.filterMetadata?.istio?.config;
  if (typeof cfg !== 'string') return '';
  const m = /namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(cfg);
  return m && cfg.includes(kind) ? `${m[2]}.${m[1]}` : cfg;
}

function chainMatch(m: Obj | undefined): string {
  if (!m) return 'ALL';
  const parts: string[] = [];
  if (m.destinationPort !== undefined) parts.push(`Port: ${m.destinationPort}`);
  if (m.transportProtocol) parts.push(`Trans: ${m.transportProtocol}`);
  if (m.applicationProtocols?.length) parts.push(`App: ${m.applicationProtocols.join(',')}`);
  if (m.serverNames?.length) parts.push(`SNI: ${m.serverNames.join(',')}`);
  if (m.prefixRanges?.length) parts.push(`Addr: ${m.prefixRanges.map((p: Obj) => `${p.addressPrefix}/${p.prefixLen ?? 32}`).join(',')}`);
  return parts.length ? parts.join('; ') : 'ALL';
}

function chainDestination(fc: Obj): string {
  for (const f of fc.filters ?? []) {
    const tc: Obj = f.typedConfig ?? {};
    if (tc.rds?.routeConfigName) return `Route: ${tc.rds.routeConfigName}`;
    if (tc.routeConfig) return 'Inline Route';
    if (tc.cluster) return `Cluster: ${tc.cluster}`;
    if (tc.weightedClusters) return 'Weighted Clusters';
  }
  return 'Non-HTTP/Non-TCP';
}

function apiListenerDestination(api: Obj): string {
  const hcm: Obj = api.apiListener ?? {};
  if (hcm.rds?.routeConfigName) return `Route: ${hcm.rds.routeConfigName}`;
  if (hcm.routeConfig) return 'Inline Route';
  return '-';
}

function routeMatch(m: Obj): string {
  if (m.prefix !== undefined) return `${m.prefix}*`;
  if (m.path !== undefined) return m.path;
  if (m.safeRegex?.regex !== undefined) return m.safeRegex.regex;
  if (m.pathSeparatedPrefix !== undefined) return `${m.pathSeparatedPrefix}/*`;
  return '/*';
}

/** `proxy-config all`: every table, as istioctl prints them one after the other. */
export function renderAll(dump: Obj, f: ProxyConfigFilters): string {
  const parts: string[] = [];
  for (const kind of ['clusters', 'listeners', 'routes', 'endpoints', 'secret'] as const) {
    const key = kind === 'secret' ? 'secret' : kind;
    const s = section(dump, key);
    if (Object.keys(s).length === 0) continue;
    const r = renderKind(kind, s, f);
    parts.push(formatTable(r.header, r.rows));
  }
  return parts.join('\n');
}
