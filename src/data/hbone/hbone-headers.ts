/**
 * HBONE's request and response headers, as ztunnel writes them: `Forwarded: for="SRC_IP:PORT"`
 * (plus `;host=SERVICE` when a service was targeted), `baggage` with the source workload's
 * telemetry attributes, `traceparent` (a fresh W3C trace context per connection).
 */
import { randomBytes } from 'node:crypto';

export interface BaggageFields {
  clusterId?: string;
  namespace?: string;
  /** Workload kind as baggage names it (`deployment`, `pod`, `job`, `cronjob`). */
  workloadType?: string;
  workloadName?: string;
  serviceName?: string;
  revision?: string;
  region?: string;
  zone?: string;
}

export function baggageValue(b: BaggageFields): string {
  const parts: string[] = [];
  if (b.clusterId) parts.push(`k8s.cluster.name=${b.clusterId}`);
  if (b.namespace) parts.push(`k8s.namespace.name=${b.namespace}`);
  if (b.workloadName) parts.push(`k8s.${b.workloadType ?? 'deployment'}.name=${b.workloadName}`);
  if (b.serviceName) parts.push(`service.name=${b.serviceName}`);
  if (b.revision) parts.push(`service.version=${b.revision}`);
  if (b.region) parts.push(`cloud.region=${b.region}`);
  if (b.zone) parts.push(`cloud.availability_zone=${b.zone}`);
  return parts.join(',');
}

export function parseBaggage(value: string | string[] | undefined): BaggageFields {
  const out: BaggageFields = {};
  const values = Array.isArray(value) ? value : value ? [value] : [];
  for (const v of values) {
    for (const item of v.split(',')) {
      const eq = item.indexOf('=');
      if (eq < 0) continue;
      const k = item.slice(0, eq).trim();
      const val = item.slice(eq + 1).trim();
      if (!val) continue;
      if (k === 'k8s.cluster.name') out.clusterId = val;
      else if (k === 'k8s.namespace.name') out.namespace = val;
      else if (/^k8s\.(deployment|cronjob|pod|job)\.name$/.test(k)) {
        out.workloadName = val;
        out.workloadType = k.split('.')[1];
      } else if (k === 'service.name') out.serviceName = val;
      else if (k === 'service.version') out.revision = val;
      else if (k === 'cloud.region') out.region = val;
      else if (k === 'cloud.availability_zone') out.zone = val;
    }
  }
  return out;
}

/** `for="IP:PORT"` (IPv6 in brackets), with `;host=HOST` when a service was the target. */
export function forwardedValue(srcAddress: string, srcPort: number, serviceHost?: string): string {
  const addr = srcAddress.includes(':') ? `[${srcAddress}]:${srcPort}` : `${srcAddress}:${srcPort}`;
  return serviceHost ? `for="${addr}";host=${serviceHost}` : `for="${addr}"`;
}

/** The `host=` of a Forwarded header, if any. */
export function forwardedHost(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  for (const part of v.split(';')) {
    const [k, val] = part.split('=', 2) as [string, string | undefined];
    if (k.trim().toLowerCase() === 'host' && val) return val.trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

/** A new W3C traceparent (version 00, random trace and span ids, sampled flag off). */
export function newTraceparent(): string {
  const b = randomBytes(24);
  return `00-${b.subarray(0, 16).toString('hex')}-${b.subarray(16).toString('hex')}-00`;
}

/** Split `IP:PORT` / `[IPv6]:PORT` (an HBONE :authority). */
export function parseHostPort(authority: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(authority) ?? /^([^:]+):(\d+)$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { host: m[1]!, port };
}
