import { isDeepStrictEqual } from 'node:util';
import type { Endpoint, RegistrySnapshot } from './service.ts';
import { ServiceRegistry } from './service-registry.ts';

/**
 * Hostnames whose endpoints differ between two registry snapshots (Istio's EDSUpdate names one
 * service per change), or undefined when the services themselves differ (added, removed or
 * converted again: not an endpoint-only change) or the snapshots cannot be compared. The
 * builder hands out the same Service objects and endpoint maps for what did not change, so
 * unchanged services cost one identity check each; maps built again are compared by content.
 */
export function hostsWithChangedEndpoints(before: RegistrySnapshot, after: RegistrySnapshot): Set<string> | undefined {
  const out = new Set<string>();
  if (before === after) return out;
  if (!(before instanceof ServiceRegistry) || !(after instanceof ServiceRegistry)) return undefined;
  if (before.services.length !== after.services.length) return undefined;
  for (let i = 0; i < after.services.length; i++) {
    const service = after.services[i]!;
    if (service !== before.services[i]) return undefined;
    const a = before.endpointsByPort(service);
    const b = after.endpointsByPort(service);
    if (a !== b && !sameEndpoints(a, b)) out.add(service.hostname);
  }
  return out;
}

function sameEndpoints(a: ReadonlyMap<number, readonly Endpoint[]> | undefined, b: ReadonlyMap<number, readonly Endpoint[]> | undefined): boolean {
  if (!a || !b || a.size !== b.size) return false;
  for (const [port, listA] of a) {
    const listB = b.get(port);
    if (!listB || listB.length !== listA.length) return false;
    for (let i = 0; i < listA.length; i++) if (listA[i] !== listB[i] && !isDeepStrictEqual(listA[i], listB[i])) return false;
  }
  return true;
}
