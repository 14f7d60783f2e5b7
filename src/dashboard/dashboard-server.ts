import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigResource } from '../api/config-resource.ts';
import { MizzenError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { serviceConfig, workloadConfig, type AppliedConfig } from './applicable-config.ts';
import { layoutGraph } from './graph-layout.ts';
import { MeshScraper, type ScrapeTarget } from './mesh-scraper.ts';
import { proxyRequest, type Dial } from './pod-http.ts';
import { buildServiceGraph, type GraphEdge, type GraphNode, type KnownWorkload } from './service-graph.ts';
import { TrafficWindow } from './traffic-window.ts';

/** A pod as the dashboard needs it. */
export interface DashboardPod {
  namespace: string;
  name: string;
  /** The owning workload (Deployment name, else the pod's name). */
  workload: string;
  labels: Record<string, string>;
  proxied: boolean;
}

/** A row of discovery's /debug/syncz (the fields the dashboard shows). */
export interface ProxySync {
  name: string;
  podName: string;
  namespace: string;
  type: string;
  istioVersion: string;
  connectedAt: string;
  status: Record<string, string>;
}

/** What the dashboard reads from the running mesh. */
export interface DashboardSources {
  meshName: string;
  dial: Dial;
  pods(): DashboardPod[];
  scrapeTargets(): ScrapeTarget[];
  objects(): ConfigResource[];
  proxyStatus(): Promise<ProxySync[]>;
  /** Zipkin's query port inside the mesh, when a `zipkin` Service has a ready pod. */
  zipkin(): { ip: string; port: number } | undefined;
}

export interface DashboardServerOptions {
  sources: DashboardSources;
  log: Logger;
  now?: () => number;
  scrapeIntervalMs?: number;
}

const UI_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/ui/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

export interface GraphResponse {
  mesh: string;
  generatedAt: string;
  windowSeconds: number;
  nodes: (GraphNode & { x: number; y: number })[];
  edges: GraphEdge[];
  scrape: { targets: number; failures: Record<string, string> };
  zipkin: boolean;
}

/**
 * `mizzen dashboard`'s web server (Kiali's job, for a local mesh): the page (plain DOM/SVG, no
 * build step), `/api/graph` (the service graph with rates over a trailing window, laid out),
 * `/api/node?id=` (a node's traffic, the Istio config that applies, its proxies' sync status,
 * its traces), and Zipkin's UI under `/zipkin/` when the mesh runs Zipkin. Listens on loopback.
 */
export class DashboardServer {
  private readonly o: DashboardServerOptions;
  private readonly server: http.Server;
  private readonly window = new TrafficWindow();
  readonly scraper: MeshScraper;
  private readonly now: () => number;
  private readonly ui = new Map<string, Buffer>();

  constructor(o: DashboardServerOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    this.scraper = new MeshScraper({ dial: o.sources.dial, targets: () => o.sources.scrapeTargets(), window: this.window, now: this.now, log: o.log, intervalMs: o.scrapeIntervalMs });
    for (const [path, f] of Object.entries(UI_FILES)) this.ui.set(path, readFileSync(new URL(`./ui/${f.file}`, import.meta.url)));
    this.server = http.createServer((req, res) => {
      void this.handle(req, res).catch((err: Error) => {
        o.log.warn({ err: err.message, url: req.url }, 'dashboard request failed');
        if (!res.headersSent) json(res, 500, { error: err.message });
        else res.destroy();
      });
    });
  }

  /** Listen on 127.0.0.1:port; `fallbackToAnyPort` takes a free port when that one is in use. */
  async listen(port: number, fallbackToAnyPort: boolean): Promise<number> {
    const attempt = (p: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        this.server.once('error', onError);
        this.server.listen({ host: '127.0.0.1', port: p }, () => {
          this.server.off('error', onError);
          resolve();
        });
      });
    try {
      await attempt(port);
    } catch (err) {
      if (!fallbackToAnyPort) throw new MizzenError('RUNTIME_FAILED', `the dashboard cannot listen on 127.0.0.1:${port}: ${(err as Error).message}`, { hint: 'choose another --dashboard-port' });
      await attempt(0);
    }
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.scraper.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The graph over the last `windowSeconds`, laid out. */
  graph(windowSeconds: number): GraphResponse {
    const s = this.o.sources;
    const workloads = new Map<string, KnownWorkload>();
    for (const p of s.pods()) {
      const key = `${p.namespace}/${p.workload}`;
      if (!workloads.has(key)) workloads.set(key, { namespace: p.namespace, name: p.workload, app: p.labels.app, version: p.labels.version, proxied: p.proxied });
    }
    const g = buildServiceGraph(this.window.rates(windowSeconds * 1000, this.now()).values(), [...workloads.values()]);
    const rank = { unknown: '0', workload: '1', service: '2' } as const;
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    const pos = layoutGraph(g.nodes.map((n) => n.id), g.edges, { order: (id) => `${byId.get(id)?.namespace ?? ''}/${rank[byId.get(id)?.kind ?? 'workload']}/${byId.get(id)?.name ?? id}` });
    return {
      mesh: s.meshName,
      generatedAt: new Date(this.now()).toISOString(),
      windowSeconds,
      nodes: g.nodes.map((n) => ({ ...n, ...(pos.get(n.id) ?? { x: 0, y: 0 }) })),
      edges: g.edges,
      scrape: { targets: s.scrapeTargets().length, failures: Object.fromEntries(this.scraper.failures) },
      zipkin: s.zipkin() !== undefined,
    };
  }

  /** One node: its traffic, the config that applies to it, its proxies, a link to its traces. */
  async node(id: string, windowSeconds: number): Promise<unknown> {
    const g = this.graph(windowSeconds);
    const node = g.nodes.find((n) => n.id === id);
    if (!node) return undefined;
    const s = this.o.sources;
    const objects = s.objects();
    const root = rootNamespaceOf(objects);
    let config: AppliedConfig[] = [];
    let proxies: ProxySync[] = [];
    let traceService: string | undefined;
    if (node.kind === 'workload') {
      const pods = s.pods().filter((p) => p.namespace === node.namespace && p.workload === node.name);
      const labels = pods[0]?.labels ?? {};
      config = workloadConfig(objects, { namespace: node.namespace, labels }, root);
      const names = new Set(pods.map((p) => p.name));
      proxies = (await s.proxyStatus().catch(() => [])).filter((r) => r.namespace === node.namespace && names.has(r.podName));
      traceService = `${labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? node.name}.${node.namespace}`;
    } else if (node.kind === 'service') {
      const host = node.namespace ? `${node.name}.${node.namespace}.svc.cluster.local` : node.name;
      config = serviceConfig(objects, host);
      if (node.namespace) traceService = `${node.name}.${node.namespace}`;
    }
    const traces = g.zipkin && traceService ? `/zipkin/?serviceName=${encodeURIComponent(traceService)}&lookback=900000&limit=10` : undefined;
    return {
      node,
      inbound: g.edges.filter((e) => e.target === id),
      outbound: g.edges.filter((e) => e.source === id),
      config,
      proxies,
      ...(traces ? { traces } : {}),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (url.pathname.startsWith('/zipkin')) {
      const z = this.o.sources.zipkin();
      if (!z) return json(res, 404, { error: 'no Zipkin in this mesh (a Service named zipkin with a ready pod, port 9411)' });
      return proxyRequest(this.o.sources.dial, z.ip, z.port, req, res, `${url.pathname}${url.search}`);
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'read-only' });
    const windowSeconds = Math.min(600, Math.max(4, Number(url.searchParams.get('window') ?? '10') || 10));
    switch (url.pathname) {
      case '/api/graph':
        await this.scraper.demand();
        return json(res, 200, this.graph(windowSeconds));
      case '/api/node': {
        await this.scraper.demand();
        const body = await this.node(url.searchParams.get('id') ?? '', windowSeconds);
        return body ? json(res, 200, body) : json(res, 404, { error: `no node ${url.searchParams.get('id')}` });
      }
      case '/healthz':
        return json(res, 200, { ok: true });
    }
    const f = UI_FILES[url.pathname];
    const body = this.ui.get(url.pathname);
    if (!f || !body) return json(res, 404, { error: `no such page: ${url.pathname}` });
    res.writeHead(200, { 'content-type': f.type, 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(body);
  }
}

/** MeshConfig rootNamespace from ConfigMap istio (default istio-system). */
function rootNamespaceOf(objects: readonly ConfigResource[]): string {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio' && o.metadata.namespace === 'istio-system');
  const m = /^\s*rootNamespace:\s*["']?([a-z0-9-]+)/m.exec(((cm?.raw as { data?: Record<string, string> } | undefined)?.data?.mesh) ?? '');
  return m?.[1] ?? 'istio-system';
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache' });
  res.end(text);
}
