import { X509Certificate } from 'node:crypto';
import { PlainHttpServer, type PlainRequest, type PlainResponse } from '../admin/plain-http-server.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../telemetry/prometheus-text.ts';
import type { ZAuthorization, ZService, ZWorkload } from './workload-model.ts';
import type { WorkloadStore } from './workload-store.ts';

/**
 * ztunnel's own endpoints: admin on 127.0.0.1:15000 (`/config_dump` with workloads, services,
 * policies and certificates, as ztunnel's; `/quitquitquit`), readiness on 15021
 * (`/healthz/ready`: 200 once the workload API and the node agent are synced), Prometheus on
 * 15020 (`/metrics`, `/stats/prometheus`).
 */
export interface ZtunnelAdminSource {
  store: WorkloadStore;
  certificates(): { identity: string; state: string; notBefore?: string; notAfter?: string; certChainPem?: string }[];
  pods(): unknown[];
  xdsStatus(): unknown;
  config(): Record<string, unknown>;
  ready(): { ready: boolean; waitingFor: string[] };
  metrics(): string;
  quit(): void;
}

function json(body: unknown, status = 200): PlainResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(body, null, 2) };
}

function workloadDump(w: ZWorkload): Record<string, unknown> {
  return {
    uid: w.uid,
    workloadIps: w.ips,
    ...(w.hostname ? { hostname: w.hostname } : {}),
    protocol: w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'TCP',
    ...(w.waypoint ? { waypoint: w.waypoint } : {}),
    networkMode: w.raw.networkMode ?? 'Standard',
    name: w.name,
    namespace: w.namespace,
    trustDomain: w.trustDomain,
    serviceAccount: w.serviceAccount,
    network: w.network,
    workloadName: w.workloadName,
    workloadType: w.workloadType,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    clusterId: w.clusterId,
    status: w.healthy ? 'Healthy' : 'Unhealthy',
    node: w.node,
    nativeTunnel: w.nativeTunnel,
    authorizationPolicies: w.authorizationPolicies,
    services: [...w.services.keys()],
    ...(w.locality ? { locality: w.locality } : {}),
    capacity: w.capacity,
  };
}

function serviceDump(s: ZService, store: WorkloadStore): Record<string, unknown> {
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.vips.map((v) => `${v.network}/${v.ip}`),
    ports: Object.fromEntries(s.ports.map((p) => [String(p.servicePort), p.targetPort])),
    endpoints: Object.fromEntries(store.serviceEndpoints(s.key).map((w) => [w.uid, { workloadUid: w.uid, service: '', port: Object.fromEntries((w.services.get(s.key) ?? []).map((p) => [String(p.servicePort), p.targetPort])) }])),
    subjectAltNames: s.subjectAltNames,
    ...(s.waypoint ? { waypoint: s.waypoint } : {}),
    ...(s.loadBalancing ? { loadBalancer: s.loadBalancing } : {}),
  };
}

function policyDump(p: ZAuthorization): Record<string, unknown> {
  return { name: p.name, namespace: p.namespace, scope: p.scope, action: p.action, rules: p.raw.groups ?? [], dryRun: p.dryRun };
}

export function certificateDetails(pem: string | undefined): { serialNumber: string; validFrom: string; expirationTime: string }[] {
  if (!pem) return [];
  const out = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    const c = new X509Certificate(block);
    out.push({ serialNumber: c.serialNumber, validFrom: new Date(c.validFrom).toISOString(), expirationTime: new Date(c.validTo).toISOString() });
  }
  return out;
}

export function configDump(src: ZtunnelAdminSource): Record<string, unknown> {
  const sortBy = <T>(list: T[], key: (t: T) => string): T[] => list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    workloads: sortBy([...src.store.allWorkloads()], (w) => w.uid).map(workloadDump),
    services: sortBy([...src.store.allServices()], (s) => s.hostname).map((s) => serviceDump(s, src.store)),
    policies: sortBy([...src.store.allPolicies()], (p) => p.key).map(policyDump),
    certificates: src.certificates().map((c) => ({ identity: c.identity, state: c.state, certChain: certificateDetails(c.certChainPem) })),
    workloadState: src.pods(),
    xds: src.xdsStatus(),
    config: src.config(),
    version: { version: '0.1.0-mizzen', istioVersion: '1.24-mizzen' },
  };
}

export function adminHandler(src: ZtunnelAdminSource): (req: PlainRequest) => PlainResponse {
  return (req) => {
    const path = req.url.split('?')[0];
    switch (path) {
      case '/config_dump':
        return json(configDump(src));
      case '/quitquitquit':
        if (req.method !== 'POST') return { status: 405, contentType: 'text/plain', body: 'use POST\n' };
        src.quit();
        return { status: 200, contentType: 'text/plain', body: 'OK\n' };
      case '/healthz/ready':
        return readyResponse(src);
      case '/metrics':
      case '/stats/prometheus':
        return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: src.metrics() };
      case '/':
        return { status: 200, contentType: 'text/plain', body: 'ztunnel admin: /config_dump /quitquitquit /healthz/ready /metrics\n' };
      default:
        return { status: 404, contentType: 'text/plain', body: 'not found\n' };
    }
  };
}

function readyResponse(src: ZtunnelAdminSource): PlainResponse {
  const r = src.ready();
  return r.ready ? { status: 200, contentType: 'text/plain', body: 'ready\n' } : { status: 503, contentType: 'text/plain', body: `not ready: ${r.waitingFor.join(', ')}\n` };
}

/** A server restricted to readiness or metrics (15021, 15020). */
export function limitedHandler(src: ZtunnelAdminSource, paths: readonly string[]): (req: PlainRequest) => PlainResponse {
  const all = adminHandler(src);
  return (req) => (paths.includes(req.url.split('?')[0]!) ? all(req) : { status: 404, contentType: 'text/plain', body: 'not found\n' });
}

export { PlainHttpServer };
