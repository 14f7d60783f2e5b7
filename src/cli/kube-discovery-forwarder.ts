import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';

/** Which discovery pods to reach: istioctl's `--istioNamespace` and `--revision`. */
export interface DiscoveryPodSelection {
  namespace: string;
  /** Only pods of this revision (label istio.io/rev); all revisions when absent. */
  revision?: string;
}

interface Pod {
  metadata?: { name?: string; annotations?: Record<string, string> };
}

/** A discovery pod and the port of its debug server (istioctl: `prometheus.io/port`, else 15014). */
export interface DiscoveryPod {
  name: string;
  port: number;
}

export async function listDiscoveryPods(api: KubeApi, s: DiscoveryPodSelection): Promise<DiscoveryPod[]> {
  const labelSelector = s.revision ? `app=istiod,istio.io/rev=${s.revision}` : 'app=istiod';
  let list: { items?: Pod[] };
  try {
    list = await api.request<{ items?: Pod[] }>('GET', `/api/v1/namespaces/${s.namespace}/pods`, { query: { labelSelector, fieldSelector: 'status.phase=Running' } });
  } catch (err) {
    throw new MizzenError('USAGE', `cannot list discovery pods in ${s.namespace} at ${api.server}: ${errorMessage(err)}`, {
      hint: 'check --kubeconfig/--context; your user needs list on pods in that namespace',
      cause: err,
    });
  }
  const pods = (list.items ?? [])
    .map((p) => ({ name: String(p.metadata?.name ?? ''), port: Number(p.metadata?.annotations?.['prometheus.io/port']) || 15014 }))
    .filter((p) => p.name !== '')
    .sort((a, b) => a.name.localeCompare(b.name));
  if (pods.length === 0) {
    throw new MizzenError('USAGE', `no running discovery pod (label ${labelSelector}) in namespace ${s.namespace} of the cluster at ${api.server}`, {
      hint: 'is the control plane installed (`mizzen install`)? use -i/--istio-namespace or --revision if it runs elsewhere',
    });
  }
  return pods;
}

/**
 * istioctl reaches istiod's debug port (15014) through the API server; so does the CLI: a local
 * HTTP port (127.0.0.1, ephemeral, for this command only) whose GETs go to the discovery pods
 * through the API server's pod `proxy` subresource
 * (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`), with the user's own credentials. A
 * port-forward would need a kubelet; the pod proxy needs only the API server and RBAC `get` on
 * `pods/proxy`. `/debug/syncz` goes to every pod and the lists are merged, each row naming the
 * pod that answered (istioctl's ISTIOD column); any other path goes to the pods in turn until
 * one answers 2xx (a proxy's config_dump is only on the replica it is connected to).
 */
export class KubeDiscoveryForwarder {
  private readonly api: KubeApi;
  private readonly namespace: string;
  private readonly pods: readonly DiscoveryPod[];
  private server: Server | undefined;
  address = '';

  constructor(api: KubeApi, namespace: string, pods: readonly DiscoveryPod[]) {
    this.api = api;
    this.namespace = namespace;
    this.pods = pods;
  }

  /** Where the requests go, for messages: `pod istiod-x.istio-system via https://server`. */
  describe(): string {
    return `${this.pods.map((p) => `pod ${p.name}.${this.namespace}:${p.port}`).join(', ')} via ${this.api.server}`;
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    this.address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    return this.address;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: string, contentType = 'application/json'): void => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, JSON.stringify({ error: `${req.method} is not forwarded to discovery pods (GET only)` }));
    const path = req.url ?? '/';
    try {
      if (new URL(path, 'http://x').pathname === '/debug/syncz') {
        const merged: unknown[] = [];
        for (const pod of this.pods) {
          const a = await this.get(pod, path);
          if (a.status >= 400) return reply(502, JSON.stringify({ error: a.error }));
          const rows = JSON.parse(a.body) as Record<string, unknown>[];
          merged.push(...rows.map((r) => ({ ...r, controlPlane: pod.name })));
        }
        return reply(200, JSON.stringify(merged));
      }
      let last: Awaited<ReturnType<KubeDiscoveryForwarder['get']>> | undefined;
      for (const pod of this.pods) {
        last = await this.get(pod, path);
        if (last.status < 400) return reply(last.status, last.body, last.contentType);
      }
      // the discovery's own refusal (e.g. 404 unknown proxy) as it said it; the API server's as ours
      return last!.fromPod ? reply(last!.status, last!.body, last!.contentType) : reply(502, JSON.stringify({ error: last!.error }));
    } catch (err) {
      reply(502, JSON.stringify({ error: errorMessage(err) }));
    }
  }

  /** One GET through the pod proxy; `error` says what went wrong in the user's terms. */
  private async get(pod: DiscoveryPod, path: string): Promise<{ status: number; body: string; contentType: string; error: string; fromPod?: boolean }> {
    const via = `/api/v1/namespaces/${this.namespace}/pods/${pod.name}:${pod.port}/proxy${path}`;
    const r = await this.api.requestRaw('GET', via);
    // A Status object is the API server's own answer (RBAC, pod gone, pod unreachable); discovery
    // answers its debug paths with plain JSON.
    let status: { kind?: string; message?: string } | undefined;
    try {
      const parsed = JSON.parse(r.body) as { kind?: string; message?: string };
      if (parsed && parsed.kind === 'Status') status = parsed;
    } catch {
      // not JSON
    }
    if (r.status < 400) return { status: r.status, body: r.body, contentType: r.contentType, error: '' };
    if (status) {
      return {
        status: r.status,
        body: r.body,
        contentType: r.contentType,
        error: `the API server at ${this.api.server} could not reach discovery pod ${pod.name}.${this.namespace}:${pod.port}: ${status.message ?? `HTTP ${r.status}`}${r.status === 403 ? ' (hint: your user needs get on pods/proxy in that namespace)' : ''}`,
      };
    }
    let own = '';
    try {
      own = String((JSON.parse(r.body) as { error?: string }).error ?? '');
    } catch {
      own = r.body.slice(0, 200);
    }
    return { status: r.status, body: r.body, contentType: r.contentType, error: `discovery pod ${pod.name}.${this.namespace}: ${own || `HTTP ${r.status}`}`, fromPod: true };
  }
}
