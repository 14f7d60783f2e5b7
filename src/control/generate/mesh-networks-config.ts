import { parse } from 'yaml';
import type { PushContext } from '../push/push-context.ts';

/** One network of Istio's MeshNetworks (`meshNetworks` of the `istio` ConfigMap). */
export interface MeshNetworkSpec {
  /** `endpoints[].fromCidr`: endpoints in these IPv4 ranges are on the network. */
  fromCidr: string[];
  /** `endpoints[].fromRegistry`: every endpoint of these registries (cluster IDs) is on the network. */
  fromRegistry: string[];
  /** `gateways[]`: an `address` or a `registryServiceName` (its external addresses), and a port. */
  gateways: { address?: string; registryServiceName?: string; port: number }[];
}

/**
 * Istio's MeshNetworks as istiod reads it (the `meshNetworks` key of the `istio` ConfigMap in its
 * namespace, the root namespace here): networks by name. Empty when absent or not valid YAML
 * (`mizzen analyze`'s MeshNetworks analyzer reports what is wrong in it).
 */
export function meshNetworks(push: PushContext): ReadonlyMap<string, MeshNetworkSpec> {
  return push.cached('mesh-networks', () => {
    const out = new Map<string, MeshNetworkSpec>();
    const cm = push.config.get('ConfigMap', push.mesh.rootNamespace, 'istio');
    const text = (cm?.raw.data as Record<string, unknown> | undefined)?.meshNetworks;
    if (typeof text !== 'string') return out;
    let doc: unknown;
    try {
      doc = parse(text);
    } catch {
      return out;
    }
    const networks = (doc as { networks?: Record<string, unknown> } | null)?.networks;
    if (!networks || typeof networks !== 'object') return out;
    for (const [name, value] of Object.entries(networks)) {
      const n = (value ?? {}) as { endpoints?: { fromCidr?: unknown; fromRegistry?: unknown }[]; gateways?: { address?: unknown; registryServiceName?: unknown; port?: unknown }[] };
      const spec: MeshNetworkSpec = { fromCidr: [], fromRegistry: [], gateways: [] };
      for (const e of Array.isArray(n.endpoints) ? n.endpoints : []) {
        if (typeof e?.fromCidr === 'string') spec.fromCidr.push(e.fromCidr);
        if (typeof e?.fromRegistry === 'string') spec.fromRegistry.push(e.fromRegistry);
      }
      for (const g of Array.isArray(n.gateways) ? n.gateways : []) {
        const port = Number(g?.port);
        if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
        if (typeof g?.address === 'string') spec.gateways.push({ address: g.address, port });
        else if (typeof g?.registryServiceName === 'string') spec.gateways.push({ registryServiceName: g.registryServiceName, port });
      }
      out.set(name, spec);
    }
    return out;
  });
}

/** Is an IPv4 address inside an IPv4 CIDR (`10.0.0.0/8`)? False for anything else. */
export function inIpv4Cidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(address);
  const b = ipv4(base ?? '');
  const n = Number(bits);
  if (a === undefined || b === undefined || !Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = v * 256 + Number(p);
  }
  return v >>> 0;
}
