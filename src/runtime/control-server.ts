import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { resourceRef, type ConfigResource } from '../api/config-resource.ts';
import { lookupKind } from '../api/kinds.ts';
import { parseDocuments } from '../control/config/parse-documents.ts';
import type { MeshRuntime } from './mesh-runtime.ts';
import type { ObjectRef } from './object-edits.ts';

/** A file as the CLI read it: name (as given) and text. */
export interface SubmittedFile {
  file: string;
  text: string;
}

/** Parse submitted files; unknown kinds are reported as warnings and left out. */
export function parseSubmitted(files: readonly SubmittedFile[]): { resources: ConfigResource[]; errors: string[]; warnings: string[] } {
  const resources: ConfigResource[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const f of files) {
    const parsed = parseDocuments(f.text, f.file, { fieldLines: true });
    for (const p of parsed.problems) errors.push(`${p.file}:${p.line}: ${p.message}`);
    for (const r of parsed.resources) {
      const k = lookupKind(r.group, r.version, r.kind);
      if (!k.known) {
        warnings.push(`${f.file}: ${resourceRef(r)}: ${k.reason === 'unknown-kind' ? `unknown kind ${r.apiVersion} ${r.kind}: ignored` : `${r.apiVersion} is not a served version of ${r.kind}: ignored`}`);
        continue;
      }
      resources.push(r);
    }
  }
  return { resources, errors, warnings };
}

/**
 * kubectl's `-n NS` for apply/delete: resources without a namespace get it; a resource naming
 * another namespace is an error. Cluster-scoped kinds are left alone.
 */
export function withNamespace(resources: ConfigResource[], namespace: string | undefined, errors: string[]): ConfigResource[] {
  if (!namespace) return resources;
  return resources.map((r) => {
    const k = lookupKind(r.group, r.version, r.kind);
    if (k.known && !k.info.namespaced) return r;
    if (r.metadata.namespace && r.metadata.namespace !== namespace) {
      errors.push(`${r.origin?.file ?? ''}: ${resourceRef(r)}: the namespace from the provided object "${r.metadata.namespace}" does not match the namespace "${namespace}"`);
      return r;
    }
    const rawMeta = { ...((r.raw.metadata as Record<string, unknown>) ?? {}), namespace };
    return { ...r, metadata: { ...r.metadata, namespace }, raw: { ...r.raw, metadata: rawMeta } };
  });
}

/** Bodies of the control API's POST requests. */
interface ChangeRequest {
  files?: SubmittedFile[];
  namespace?: string;
  name?: string;
  refs?: ObjectRef[];
  ref?: ObjectRef;
  labels?: Record<string, string | null>;
  overwrite?: boolean;
}

export interface ControlHooks {
  status(): unknown;
  shutdown(): void;
}

/**
 * The control API of a running mesh, for the CLI: HTTP + JSON on a Unix socket that only root
 * can open (mode 0600). GET /status /pods /services /deployments /objects /pod /logs; POST
 * /apply /delete /delete-objects /label /restart /shutdown.
 */
export class ControlServer {
  private readonly server: http.Server;
  private readonly socketPath: string;

  constructor(socketPath: string, runtime: MeshRuntime, hooks: ControlHooks) {
    this.socketPath = socketPath;
    this.server = http.createServer((req, res) => {
      void this.handle(req, res, runtime, hooks).catch((err: Error) => send(res, 500, { error: err.message }));
    });
  }

  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, runtime: MeshRuntime, hooks: ControlHooks): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mesh');
    const q = (k: string): string | undefined => url.searchParams.get(k) ?? undefined;
    const ns = q('namespace');
    if (req.method === 'GET') {
      switch (url.pathname) {
        case '/status':
          return send(res, 200, hooks.status());
        case '/pods':
          return send(res, 200, runtime.views.podViews(ns));
        case '/services':
          return send(res, 200, runtime.views.serviceStatusViews(ns));
        case '/deployments':
          return send(res, 200, runtime.views.deploymentViews(ns));
        case '/objects':
          // kubectl's view (with `group`: `mizzen get`), else the stored resources (waypoint)
          if (q('group') !== undefined) return send(res, 200, runtime.objectsOf(q('kind') ?? '', q('group') ?? '', ns));
          return send(res, 200, runtime.storedObjectsOf(q('kind') ?? '', ns).map((r) => r.raw));
        case '/pod':
        case '/logs': {
          const pod = runtime.views.findPod(ns ?? 'default', q('ref') ?? '');
          if (!pod) return send(res, 404, { error: `pod ${q('ref')} not found in namespace ${ns ?? 'default'}` });
          if (url.pathname === '/pod') return send(res, 200, pod.status());
          const names = pod.containerNames();
          const apps = names.filter((n) => n !== 'istio-proxy');
          const container = q('container') ?? (apps.length === 1 ? apps[0] : undefined);
          if (!container || !names.includes(container)) {
            return send(res, 400, { error: `a container name must be given for pod ${pod.name}: choose one of [${names.join(' ')}] (-c NAME)` });
          }
          const text = await readFile(pod.logFile(container), 'utf8').catch(() => '');
          return send(res, 200, { pod: pod.name, container, text, file: pod.logFile(container) });
        }
      }
    }
    if (req.method === 'POST') {
      const body = (await readBody(req)) as ChangeRequest;
      switch (url.pathname) {
        case '/delete-objects':
          return send(res, 200, await runtime.deleteRefs(body.refs ?? []));
        case '/label':
          if (!body.ref || !body.labels) return send(res, 400, { error: 'label needs ref and labels' });
          return send(res, 200, await runtime.label(body.ref, body.labels, body.overwrite === true));
        case '/restart':
          return send(res, 200, await runtime.restart(body.namespace ?? 'default', body.name ?? ''));
        case '/apply':
        case '/delete': {
          const parsed = parseSubmitted(body.files ?? []);
          const { errors, warnings } = parsed;
          const resources = withNamespace(parsed.resources, body.namespace, errors);
          if (url.pathname === '/apply') {
            const result = await runtime.apply(resources, errors);
            return send(res, 200, { ...result, warnings: [...warnings, ...runtime.warningsFor(resources)] });
          }
          if (errors.length > 0) return send(res, 200, { ok: false, errors, changes: [], warnings });
          return send(res, 200, { ...(await runtime.delete(resources)), warnings });
        }
        case '/shutdown':
          send(res, 200, { ok: true });
          hooks.shutdown();
          return;
      }
    }
    send(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}` });
  }
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}
