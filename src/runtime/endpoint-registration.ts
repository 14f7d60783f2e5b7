import { discoveryServesEndpoint } from './endpoint-drain.ts';

/**
 * Before a pod's sidecar connects: wait until discovery lists the pod's address as an endpoint of
 * the services that select it (not ready yet). In Kubernetes the Pod object exists before its
 * containers start, so istiod's first answer to a sidecar already has the pod's inbound listeners
 * and clusters. A sidecar that connected first would start without them, and a connection
 * accepted meanwhile would stay on the inbound passthrough chain for as long as it is kept alive
 * (a filter chain added later does not move open connections, in Envoy as here). False when
 * `timeoutMs` passed first.
 */
export async function waitForEndpointRegistration(socketPath: string, ip: string, options: { timeoutMs: number; pollMs?: number }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await discoveryServesEndpoint(socketPath, ip, true).catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
  }
}
