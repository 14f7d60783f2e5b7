import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { MizzenError, errorMessage } from '../lib/errors.ts';
import type { ProxySyncStatus } from '../control/debug/sync-status.ts';
import type { CliContext } from './cli-context.ts';
import { fetchDiscoveryJson } from './discovery-debug-client.ts';
import { addKubeDiscoveryOptions, openDiscoveryTarget, type DiscoveryTargetFlags } from './discovery-target.ts';
import { formatTable } from './text-table.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Flags extends DiscoveryTargetFlags {
  output?: string;
  namespace?: string;
}

const KINDS = ['listeners', 'routes', 'clusters', 'endpoints', 'secret'] as const;
type Kind = (typeof KINDS)[number];
const ALIASES: Record<string, Kind> = { listener: 'listeners', listeners: 'listeners', l: 'listeners', route: 'routes', routes: 'routes', r: 'routes', cluster: 'clusters', clusters: 'clusters', c: 'clusters', endpoint: 'endpoints', endpoints: 'endpoints', ep: 'endpoints', secret: 'secret', secrets: 'secret', s: 'secret' };

const DUMP_TYPE: Record<Kind, string> = {
  clusters: 'ClustersConfigDump',
  listeners: 'ListenersConfigDump',
  routes: 'RoutesConfigDump',
  endpoints: 'EndpointsConfigDump',
  secret: 'SecretsConfigDump',
};

/** `mizzen proxy-config KIND POD[.NS]`: what discovery sent a proxy, as istioctl shows it. */
export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('proxy-config')
    .alias('pc')
    .description("show the xDS config discovery sent a proxy (from /debug/config_dump): listeners|routes|clusters|endpoints|secret")
    .argument('<kind>', 'listeners, routes, clusters, endpoints or secret')
    .argument('<pod>', 'POD[.NAMESPACE] (or the full node ID)')
    .option('-n, --namespace <ns>', 'namespace of the pod (default: from POD.NS, else default)')
    .option('--discovery-address <addr>', "discovery's debug/metrics address (HOST:PORT or unix:/path; default: the local mesh's .mizzen/discovery.sock when present, else the discovery pods through the API server of --kubeconfig, $KUBECONFIG or ~/.kube/config when there is one, else 127.0.0.1:15014)")
    .option('-o, --output <format>', 'output format: table (default) or json (Envoy-shaped)');
  addKubeDiscoveryOptions(command)
    .action(async (kindArg: string, pod: string, flags: Flags) => {
      const kind = ALIASES[kindArg];
      if (!kind) {
        ctx.stderr(`error: unknown config kind ${JSON.stringify(kindArg)}: want one of ${KINDS.join(', ')}\n`);
        ctx.exitCode = 2;
        return;
      }
      if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'table') {
        ctx.stderr(`error: -o ${flags.output}: want json or table\n`);
        ctx.exitCode = 2;
        return;
      }
      let dump: Obj;
      try {
        const target = await openDiscoveryTarget(flags, ctx);
        try {
          const proxyId = await resolveProxyId(target.address, pod, flags.namespace ?? 'default');
          dump = (await fetchDiscoveryJson(target.address, `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`)) as Obj;
        } finally {
          await target.close();
        }
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
        return;
      }
      const section: Obj = (dump.configs as Obj[]).find((c) => String(c['@type']).endsWith(DUMP_TYPE[kind])) ?? {};
      const out = render(kind, section);
      if (flags.output === 'json') ctx.stdout(`${JSON.stringify(out.json, null, 2)}\n`);
      else ctx.stdout(formatTable(out.header, out.rows));
    });
}

function render(kind: Kind, section: Obj): { json: unknown; header: string[]; rows: string[][] } {
  switch (kind) {
    case 'clusters': {
      const clusters: Obj[] = (section.dynamicActiveClusters ?? []).map((c: Obj) => c.cluster);
      const rows = clusters.map((c) => {
        const [dir, port, subset, fqdn] = String(c.name).split('|');
        const named = fqdn !== undefined;
        return [
          named ? fqdn! || '' : String(c.name),
          named ? port! : '-',
          named ? subset || '-' : '-',
          named ? dir! : '-',
          c.type ?? (c.clusterType ? 'CUSTOM' : 'EDS'),
          istioConfig(c.metadata, 'destination-rule'),
        ];
      });
      return { json: clusters, header: ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows };
    }
    case 'listeners': {
      const listeners: Obj[] = (section.dynamicListeners ?? []).map((l: Obj) => l.activeState?.listener).filter(Boolean);
      const rows: string[][] = [];
      for (const l of listeners) {
        const sa = l.address?.socketAddress ?? {};
        const address = sa.address ?? (l.apiListener ? '' : '-');
        const port = sa.portValue !== undefined ? String(sa.portValue) : l.apiListener ? '-' : '0';
        if (l.apiListener) {
          rows.push([l.name, port, 'ALL', apiListenerDestination(l.apiListener)]);
          continue;
        }
        const chains: Obj[] = [...(l.filterChains ?? []), ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])];
        if (chains.length === 0) rows.push([address, port, 'ALL', '-']);
        for (const fc of chains) rows.push([address, port, chainMatch(fc.filterChainMatch), chainDestination(fc)]);
      }
      return { json: listeners, header: ['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows };
    }
    case 'routes': {
      const routes: Obj[] = (section.dynamicRouteConfigs ?? []).map((r: Obj) => r.routeConfig);
      const rows: string[][] = [];
      for (const rc of routes) {
        for (const vh of rc.virtualHosts ?? []) {
          const domains = (vh.domains ?? []) as string[];
          const dom = domains.length > 2 ? `${domains[0]} + ${domains.length - 1} more...` : domains.join(', ');
          for (const r of vh.routes ?? []) rows.push([rc.name ?? '', vh.name ?? '', dom, routeMatch(r.match ?? {}), istioConfig(r.metadata, 'virtual-service') || '404']);
          if ((vh.routes ?? []).length === 0) rows.push([rc.name ?? '', vh.name ?? '', dom, '-', '-']);
        }
      }
      return { json: routes, header: ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows };
    }
    case 'endpoints': {
      const cla: Obj[] = (section.dynamicEndpointConfigs ?? []).map((e: Obj) => e.endpointConfig);
      const rows: string[][] = [];
      for (const a of cla) {
        for (const le of a.endpoints ?? []) {
          for (const lb of le.lbEndpoints ?? []) {
            const sa = lb.endpoint?.address?.socketAddress ?? {};
            const status = lb.healthStatus && lb.healthStatus !== 'UNKNOWN' && lb.healthStatus !== 'HEALTHY' ? 'UNHEALTHY' : 'HEALTHY';
            rows.push([`${sa.address ?? '?'}:${sa.portValue ?? '?'}`, status, 'OK', a.clusterName ?? '']);
          }
        }
      }
      return { json: cla, header: ['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows };
    }
    case 'secret': {
      const secrets: Obj[] = (section.dynamicActiveSecrets ?? []).map((s: Obj) => s.secret);
      const rows = secrets.map((s) => {
        const pem = s.tlsCertificate?.certificateChain?.inlineBytes ?? s.tlsCertificate?.certificateChain?.inlineString ?? s.validationContext?.trustedCa?.inlineBytes ?? s.validationContext?.trustedCa?.inlineString;
        const type = s.tlsCertificate ? 'Cert Chain' : s.validationContext ? 'CA' : '-';
        const cert = parseCert(pem);
        return [s.name ?? '', type, 'ACTIVE', cert ? String(cert.validTo ? Date.parse(cert.validTo) > Date.now() : false) : '-', cert?.serialNumber ?? '-', cert?.validTo ?? '-', cert?.validFrom ?? '-'];
      });
      return { json: secrets, header: ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'], rows };
    }
  }
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

/**
 * `POD[.NS]`, a node ID, or `deploy/NAME` (as istioctl takes it: the first connected proxy of
 * that Deployment, whose pods are named `NAME-HASH-SUFFIX`).
 */
async function resolveProxyId(address: string, pod: string, namespace: string): Promise<string> {
  if (!pod.startsWith('deploy/') && !pod.startsWith('deployment/')) {
    return pod.includes('~') || pod.includes('.') ? pod : `${pod}.${namespace}`;
  }
  const [name, ns = namespace] = pod.slice(pod.indexOf('/') + 1).split('.');
  const proxies = (await fetchDiscoveryJson(address, '/debug/syncz')) as ProxySyncStatus[];
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[a-z0-9]+-[a-z0-9]+$`);
  const match = proxies.filter((p) => p.namespace === ns && pattern.test(p.podName)).sort((a, b) => a.name.localeCompare(b.name))[0];
  if (!match) throw new MizzenError('USAGE', `no connected proxy of deployment ${ns}/${name}`, { hint: 'mizzen proxy-status lists the connected proxies' });
  return match.name;
}
