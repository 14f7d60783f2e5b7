type Obj = Record<string, any>;

/** One rewritten probe as the agent reads it from ISTIO_KUBE_APP_PROBERS (Istio's shape). */
export interface AppProber {
  httpGet?: { path?: string; port: number; scheme?: string; host?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number; host?: string };
  timeoutSeconds?: number;
}

function containerPort(c: Obj, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  const named = ((c.ports ?? []) as Obj[]).find((p) => p.name === port);
  return typeof named?.containerPort === 'number' ? named.containerPort : undefined;
}

/**
 * Istio's probe rewrite: each app container's httpGet/tcpSocket readiness, liveness and startup
 * probe is sent to the agent's status port (`/app-health/CONTAINER/readyz|livez|startupz`),
 * which probes the app from inside the pod: the kubelet's probe then passes under STRICT mTLS.
 * Mutates `spec`; returns the probers map for ISTIO_KUBE_APP_PROBERS.
 */
export function rewriteAppProbes(spec: Obj, statusPort: number): Record<string, AppProber> {
  const probers: Record<string, AppProber> = {};
  for (const c of (spec.containers ?? []) as Obj[]) {
    if (c.name === 'istio-proxy') continue;
    for (const [field, suffix] of [['readinessProbe', 'readyz'], ['livenessProbe', 'livez'], ['startupProbe', 'startupz']] as const) {
      const probe = c[field] as Obj | undefined;
      if (!probe) continue;
      const path = `/app-health/${c.name}/${suffix}`;
      if (probe.httpGet) {
        const port = containerPort(c, probe.httpGet.port);
        if (port === undefined) continue;
        probers[path] = { httpGet: { ...probe.httpGet, port }, ...(probe.timeoutSeconds ? { timeoutSeconds: probe.timeoutSeconds } : {}) };
        c[field] = { ...probe, httpGet: { path, port: statusPort, scheme: 'HTTP' } };
      } else if (probe.tcpSocket) {
        const port = containerPort(c, probe.tcpSocket.port);
        if (port === undefined) continue;
        probers[path] = { tcpSocket: { ...probe.tcpSocket, port }, ...(probe.timeoutSeconds ? { timeoutSeconds: probe.timeoutSeconds } : {}) };
        const { tcpSocket: _t, ...rest } = probe;
        c[field] = { ...rest, httpGet: { path, port: statusPort, scheme: 'HTTP' } };
      }
    }
  }
  return probers;
}
