import { connect } from 'node:net';

/** One entry of ISTIO_KUBE_APP_PROBERS (Istio's shape): the app's original probe. */
export interface AppProber {
  httpGet?: { path?: string; port: number; scheme?: string; host?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number; host?: string };
  timeoutSeconds?: number;
}

/** Istio's InboundPassthroughBindIpv4: connections from it are never captured again. */
const PASSTHROUGH_SOURCE = '127.0.0.6';

/** Parse ISTIO_KUBE_APP_PROBERS; throws with the reason when it is not a map of probers. */
export function parseAppProbers(json: string): Map<string, AppProber> {
  const v = JSON.parse(json) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object of /app-health/... paths');
  const out = new Map<string, AppProber>();
  for (const [path, p] of Object.entries(v as Record<string, AppProber>)) {
    const port = p?.httpGet?.port ?? p?.tcpSocket?.port;
    if (!Number.isInteger(port)) throw new Error(`${path}: needs httpGet.port or tcpSocket.port as a number`);
    out.set(path, p);
  }
  return out;
}

/**
 * The agent's half of Istio's probe rewrite: the kubelet asks 15020 `/app-health/C/readyz`, the
 * agent runs the app's original probe against the pod IP from 127.0.0.6 (which capture lets
 * through), so plaintext probes work under STRICT mTLS. HTTP: 2xx/3xx is success; TCP: connect.
 */
export async function runAppProbe(p: AppProber, podIp: string): Promise<{ ok: boolean; status: number; detail: string }> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  const local = podIp.includes(':') || podIp.startsWith('127.') ? undefined : PASSTHROUGH_SOURCE;
  if (p.tcpSocket) {
    const host = p.tcpSocket.host ?? podIp;
    return new Promise((resolve) => {
      const s = connect({ host, port: p.tcpSocket!.port, timeout: timeoutMs, ...(local ? { localAddress: local } : {}) });
      s.once('connect', () => {
        s.destroy();
        resolve({ ok: true, status: 200, detail: 'connected' });
      });
      s.once('timeout', () => s.destroy(new Error('timeout')));
      s.once('error', (err) => resolve({ ok: false, status: 500, detail: err.message }));
    });
  }
  const g = p.httpGet!;
  const mod = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.36' };
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const req = mod.request(
      { host: g.host ?? podIp, port: g.port, path: g.path ?? '/', method: 'GET', headers, timeout: timeoutMs, agent: false, rejectUnauthorized: false, ...(local ? { localAddress: local } : {}) },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 400, status: status >= 200 && status < 400 ? 200 : 500, detail: `app answered ${status}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, status: 500, detail: err.message }));
    req.end();
  });
}
