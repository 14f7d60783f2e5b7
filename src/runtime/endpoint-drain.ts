import { discoveryJson } from './discovery-json.ts';

interface RegistryEntry {
  ports?: { endpoints?: { address?: string; healthy?: boolean }[] }[];
}

interface SyncEntry {
  types?: { typeUrl: string; nonceSent?: string; nonceAcked?: string }[];
}

/** Whether `ip` is an endpoint of some service in discovery's registry (healthy only, unless `anyHealth`). */
export async function discoveryServesEndpoint(socketPath: string, ip: string, anyHealth = false): Promise<boolean> {
  const services = (await discoveryJson(socketPath, '/debug/registryz', 2000)) as RegistryEntry[];
  return services.some((s) => (s.ports ?? []).some((p) => (p.endpoints ?? []).some((e) => e.address === ip && (anyHealth || e.healthy !== false))));
}

/** Every connected proxy has acknowledged the last endpoints (EDS) response it was sent. */
export async function endpointsAcknowledged(socketPath: string): Promise<boolean> {
  const proxies = (await discoveryJson(socketPath, '/debug/syncz', 2000)) as SyncEntry[];
  return proxies.every((p) => (p.types ?? []).filter((t) => t.typeUrl.endsWith('.ClusterLoadAssignment')).every((t) => t.nonceSent === undefined || t.nonceSent === t.nonceAcked));
}

/**
 * Before a terminating pod's processes are stopped: wait until discovery no longer lists its
 * address as a healthy endpoint and every proxy has acknowledged the endpoints it was sent (the
 * pod is out of every load balancer), then a short grace for requests already in flight. Bounded
 * by `timeoutMs` (a control plane that does not answer does not hold a pod forever); false when
 * the deadline came first.
 */
export async function waitForEndpointDrain(socketPath: string, ip: string, options: { timeoutMs: number; graceMs: number; pollMs?: number }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  const poll = options.pollMs ?? 100;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  let removed = false;
  while (Date.now() < deadline) {
    const served = await discoveryServesEndpoint(socketPath, ip).catch(() => undefined);
    if (served === false) {
      removed = true;
      break;
    }
    await sleep(poll);
  }
  let acked = false;
  while (removed && Date.now() < deadline) {
    const a = await endpointsAcknowledged(socketPath).catch(() => undefined);
    if (a !== false) {
      acked = true;
      break;
    }
    await sleep(poll);
  }
  await sleep(Math.max(0, Math.min(options.graceMs, deadline - Date.now())));
  return acked;
}
