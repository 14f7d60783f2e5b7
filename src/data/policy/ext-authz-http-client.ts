import { dechunk } from '../http1/dechunk.ts';
import type { HeaderList } from '../http1/header-list.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { PoolWaiter } from '../upstream/http1-pool.ts';
import type { Http1UpstreamConnection, UpstreamResponseHandler } from '../upstream/http1-upstream-connection.ts';
import { requestHeaderPairs, type CheckInput, type CheckResult, type ExtAuthzClient } from './ext-authz-check.ts';
import type { ExtAuthzConfig, HeaderNames } from './ext-authz-config.ts';

type HttpService = Extract<ExtAuthzConfig['service'], { kind: 'http' }>;

/** Request headers Envoy always sends to an HTTP authorization service (besides allowed_headers). */
const DEFAULT_REQUEST = new Set(['content-length', 'authorization']);
/** Response headers never copied to the client on deny (the proxy frames its own reply). */
const NOT_TO_CLIENT = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);
/** Added to allowed_client_headers when that list is set (Envoy's defaults). */
const CLIENT_DEFAULTS = new Set(['location', 'www-authenticate', 'content-type']);

/**
 * Envoy's raw HTTP authorization service: the original request's method and path (after
 * path_prefix), Host, Authorization, the headers allowed_headers names and headers_to_add, with
 * no body (Content-Length 0) unless with_request_body buffered one, sent over the cluster's
 * HTTP/1.1 keep-alive pool. 200 allows (allowed_upstream_headers copied onto the request,
 * allowed_client_headers_on_success onto the response, `x-envoy-auth-headers-to-remove`
 * honoured), a 5xx or no answer within server_uri.timeout is an error, anything else denies with
 * the server's status, body and (allowed_client_headers, default all) headers.
 */
export class HttpExtAuthzClient implements ExtAuthzClient {
  private readonly cfg: ExtAuthzConfig;
  private readonly service: HttpService;
  private readonly clusters: ClusterManager;

  constructor(cfg: ExtAuthzConfig, clusters: ClusterManager) {
    if (cfg.service.kind !== 'http') throw new Error('not an HTTP ext_authz config');
    this.cfg = cfg;
    this.service = cfg.service;
    this.clusters = clusters;
  }

  check(input: CheckInput): Promise<CheckResult> {
    const svc = this.service;
    const req = input.request;
    if (!req) return Promise.resolve({ kind: 'error', detail: 'an HTTP authorization service needs an HTTP request' });
    const cluster = this.clusters.get(svc.cluster);
    if (!cluster) return Promise.resolve({ kind: 'error', detail: `cluster ${svc.cluster} not found` });
    const host = cluster.pick(undefined, undefined);
    if (!host) return Promise.resolve({ kind: 'error', detail: `no healthy host in ${svc.cluster}` });
    const body = input.body ?? Buffer.alloc(0);
    const lines: string[] = [`${req.method} ${svc.pathPrefix}${req.path} HTTP/1.1`, `host: ${req.authority}`];
    const added = new Set(svc.headersToAdd.map(([k]) => k));
    for (const [k, v] of requestHeaderPairs(req)) {
      if (k.startsWith(':') || k === 'content-length' || added.has(k)) continue;
      if (this.cfg.disallowedHeaders?.(k)) continue;
      if (DEFAULT_REQUEST.has(k) || this.cfg.allowedHeaders?.(k)) lines.push(`${k}: ${v}`);
    }
    for (const [k, v] of svc.headersToAdd) lines.push(`${k}: ${v}`);
    lines.push(`content-length: ${body.length}`);
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    return new Promise((resolve) => {
      const exchange = new CheckExchange(Buffer.concat([head, body]), req.method === 'HEAD', (status, headers, resBody) => resolve(this.result(status, headers, resBody)), svc.timeoutMs);
      cluster.pool(host).acquire(exchange);
    });
  }

  private result(status: number, headers: HeaderList | undefined, body: Buffer): CheckResult {
    const svc = this.service;
    if (status === 0 || !headers) return { kind: 'error', detail: 'ext_authz HTTP service did not answer' };
    if (status >= 500) return { kind: 'error', detail: `ext_authz HTTP service answered ${status}` };
    const pairs: [string, string][] = [];
    for (let i = 0; i < headers.items.length; i += 2) pairs.push([headers.items[i], headers.items[i + 1]]);
    const pick = (m: HeaderNames | undefined): [string, string][] => (m ? pairs.filter(([k]) => m(k)) : []);
    if (status === 200) {
      const remove = (headers.getAll('x-envoy-auth-headers-to-remove') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
      return { kind: 'ok', upstreamSet: pick(svc.upstream), upstreamAppend: pick(svc.upstreamAppend), upstreamRemove: remove, clientHeaders: pick(svc.clientOnSuccess) };
    }
    const client = svc.client;
    const toClient = pairs.filter(([k]) => !NOT_TO_CLIENT.has(k) && (client === undefined || client(k) || CLIENT_DEFAULTS.has(k)));
    return { kind: 'denied', status, body: body.toString('utf8'), headers: toClient };
  }
}

/** One check request on a pooled upstream connection; the body is collected (and de-chunked). */
class CheckExchange implements PoolWaiter, UpstreamResponseHandler {
  private readonly request: Buffer;
  private readonly noBody: boolean;
  private readonly done: (status: number, headers: HeaderList | undefined, body: Buffer) => void;
  private readonly timer: NodeJS.Timeout;
  private conn: Http1UpstreamConnection | undefined;
  private status = 0;
  private headers: HeaderList | undefined;
  private chunked = false;
  private readonly body: Buffer[] = [];
  private finished = false;

  constructor(request: Buffer, noBody: boolean, done: (status: number, headers: HeaderList | undefined, body: Buffer) => void, timeoutMs: number) {
    this.request = request;
    this.noBody = noBody;
    this.done = done;
    this.timer = setTimeout(() => this.fail(), timeoutMs);
    this.timer.unref();
  }

  private finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const raw = Buffer.concat(this.body);
    this.done(status, this.headers, this.chunked ? dechunk(raw) : raw);
  }

  private fail(): void {
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
    this.finish(0);
  }

  onPoolReady(conn: Http1UpstreamConnection): void {
    if (this.finished) {
      conn.host.pool?.release(conn);
      return;
    }
    this.conn = conn;
    conn.attach(this, this.noBody);
    conn.socket.write(this.request);
  }

  onPoolFailure(): void {
    this.finish(0);
  }

  onResponseHead(status: number, _reason: string, headers: HeaderList, hasBody: boolean): void {
    this.status = status;
    this.headers = headers;
    this.chunked = (headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked');
    if (!hasBody) this.onResponseEnd();
  }

  onResponseBody(chunk: Buffer): void {
    this.body.push(chunk);
  }

  onUpstreamDrain(): void {}

  onResponseEnd(): void {
    const c = this.conn;
    this.conn = undefined;
    if (c) c.host.pool?.release(c);
    this.finish(this.status);
  }

  onUpstreamReset(): void {
    this.conn = undefined;
    this.finish(0);
  }
}
