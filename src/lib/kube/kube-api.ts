import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { errorMessage } from '../errors.ts';

/** Where the API server's address and credentials come from. */
export type KubeConfigSource = { file: string; context?: string } | { inCluster: true } | { text: string };

/** Load a kubeconfig file, a kubeconfig text, or the in-cluster service-account credentials. */
export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if ('file' in source) {
    kc.loadFromFile(source.file);
    if (source.context) {
      if (!kc.getContextObject(source.context)) {
        throw new KubeApiError(0, 'BadConfig', `kubeconfig ${source.file} has no context ${JSON.stringify(source.context)} (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
      }
      kc.setCurrentContext(source.context);
    }
  } else if ('text' in source) {
    kc.loadFromString(source.text);
  } else {
    kc.loadFromCluster();
  }
  if (!kc.getCurrentCluster()) throw new KubeApiError(0, 'BadConfig', 'the kubeconfig has no current cluster');
  return kc;
}

/** An API server answer other than 2xx, or a transport failure (status 0). */
export class KubeApiError extends Error {
  readonly status: number;
  /** The Status object's `reason` (NotFound, AlreadyExists, Conflict, Forbidden, Expired, ...). */
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; merge-patch, strategic-merge-patch, json-patch and apply-patch for PATCH. */
  contentType?: string;
  signal?: AbortSignal;
  /** Default 30 s. */
  timeoutMs?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  abort(): void;
}

/**
 * A thin client for the Kubernetes API: raw paths in, JSON out, Status errors as KubeApiError.
 * Authentication, TLS and connection reuse come from @kubernetes/client-node's KubeConfig; one
 * generic client serves every kind (core, apps, CRDs) without per-kind generated classes.
 */
export class KubeApi {
  readonly config: KubeConfig;
  readonly server: string;

  constructor(config: KubeConfig) {
    this.config = config;
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new KubeApiError(0, 'BadConfig', 'the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  async request<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.requestRaw(method, path, o);
    let json: Record<string, unknown> | undefined;
    try {
      json = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status >= 200 && res.status < 300) return (json ?? {}) as T;
    const reason = typeof json?.reason === 'string' ? json.reason : res.statusText || String(res.status);
    const message = typeof json?.message === 'string' ? json.message : res.body.slice(0, 300);
    throw new KubeApiError(res.status, reason, `${method} ${path}: ${res.status} ${reason}: ${message}`, json?.details as Record<string, unknown> | undefined);
  }

  /**
   * The API server's answer as it is, any status (for subresources that relay another server's
   * answer, like a pod's `proxy`); only a transport failure throws (KubeApiError status 0).
   */
  async requestRaw(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, o: RequestOptions = {}): Promise<{ status: number; statusText: string; contentType: string; body: string }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.config.applySecurityAuthentication(ctx);
    const headers = ctx.getHeaders();
    headers['accept'] = 'application/json';
    if (o.body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
    const timeout = AbortSignal.timeout(o.timeoutMs ?? 30_000);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    try {
      const res = await fetch(url, {
        method,
        headers,
        dispatcher: ctx.getDispatcher(),
        signal,
        ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
      });
      return { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new KubeApiError(0, 'Unreachable', `${method} ${this.server}${path}: ${errorMessage(cause ?? err)}`);
    }
  }

  /**
   * A GET whose body is read as it arrives (a pod's `log` with `follow`): no timeout of its own,
   * only `signal`. A non-2xx answer throws KubeApiError with the Status' reason and message.
   */
  async getStream(path: string, query: Record<string, string | number | boolean | undefined>, signal: AbortSignal): Promise<Readable> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.config.applySecurityAuthentication(ctx);
    let res;
    try {
      res = await fetch(url, { method: 'GET', headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher(), signal });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new KubeApiError(0, 'Unreachable', `GET ${this.server}${path}: ${errorMessage(cause ?? err)}`);
    }
    if (res.status < 200 || res.status >= 300 || !res.body) {
      const text = await res.text().catch(() => '');
      let status: { reason?: string; message?: string } = {};
      try {
        status = JSON.parse(text) as typeof status;
      } catch {
        status = { message: text.slice(0, 300) };
      }
      throw new KubeApiError(res.status, status.reason ?? res.statusText, status.message ?? `${res.status}`);
    }
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  }

  /**
   * Start a watch; `onEvent` gets each event, `onDone` once when the stream ends (error or not).
   * `inactivityMs` ends a stream that carries nothing (no event, no bookmark) for that long:
   * a watch whose TCP connection died silently is noticed. `onOpen` runs once the API server
   * accepted the watch (200).
   */
  async watch(path: string, query: Record<string, string | number | boolean>, onEvent: (type: WatchEventType, object: Record<string, unknown>) => void, onDone: (err: unknown) => void, inactivityMs: number, onOpen?: () => void): Promise<WatchHandle> {
    const url = new URL(this.server + path);
    url.searchParams.set('watch', 'true');
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.config.applySecurityAuthentication(ctx);
    const controller = new AbortController();
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let inactive = false;
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      controller.abort();
      onDone(inactive ? Object.assign(new Error(`no event or bookmark for ${Math.round(inactivityMs / 1000)} s`), { name: 'TimeoutError' }) : err);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        inactive = true;
        finish(undefined);
      }, inactivityMs);
      timer.unref();
    };
    arm();
    void (async () => {
      try {
        const res = await fetch(url, { method: 'GET', headers: { ...ctx.getHeaders(), accept: 'application/json' }, dispatcher: ctx.getDispatcher(), signal: controller.signal });
        if (res.status !== 200 || !res.body) {
          const text = await res.text().catch(() => '');
          let message = text.slice(0, 300);
          try {
            message = String((JSON.parse(text) as { message?: string }).message ?? message);
          } catch {
            // not a Status
          }
          throw Object.assign(new Error(`${res.status}: ${message}`), { statusCode: res.status });
        }
        arm();
        onOpen?.();
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
        body.on('data', arm);
        for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
          if (done) break;
          if (!line) continue;
          let ev: { type?: string; object?: Record<string, unknown> };
          try {
            ev = JSON.parse(line) as typeof ev;
          } catch {
            continue;
          }
          if (ev.type && ev.object) onEvent(ev.type as WatchEventType, ev.object);
        }
        finish(undefined);
      } catch (err) {
        finish(done ? undefined : err);
      }
    })();
    return { abort: () => finish(undefined) };
  }
}

/** `true` for a 404 (kind or object absent). */
export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

/** `true` for 409 AlreadyExists/Conflict. */
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
}
