import type * as net from 'node:net';
import { BodyFramer } from '../http1/body-framer.ts';
import { findHeadEnd, parseResponseHead } from '../http1/head-parser.ts';
import type { HeaderList } from '../http1/header-list.ts';
import type { Host } from './host.ts';

/** What an upstream HTTP/1.1 connection reports to the request using it. */
export interface UpstreamResponseHandler {
  /** Final (non-1xx) response head; `chunked`/`length` describe the body framing. */
  onResponseHead(status: number, reason: string, headers: HeaderList, hasBody: boolean): void;
  /** An interim `100 Continue` (other 1xx are dropped). */
  onContinue?(): void;
  /** Raw body bytes (chunk framing preserved). */
  onResponseBody(chunk: Buffer): void;
  onResponseEnd(): void;
  /** The connection failed or closed before the response completed. */
  onUpstreamReset(beforeHeaders: boolean, detail: string): void;
  /** The upstream socket can take more request body. */
  onUpstreamDrain(): void;
  /** The bytes received so far have been delivered (a response head held back for its body may go now). */
  onInputHandled?(): void;
}

export interface ConnectionOwner {
  onConnectionClosed(conn: Http1UpstreamConnection): void;
}

const MAX_HEAD = 96 * 1024;

/**
 * One pooled keep-alive connection to an upstream host. The request side writes its head and
 * body straight to `socket`; this object parses the response head and streams the body back.
 */
export class Http1UpstreamConnection {
  readonly socket: net.Socket;
  readonly host: Host;
  private readonly owner: ConnectionOwner;
  handler: UpstreamResponseHandler | undefined;
  /** HEAD request: the response has no body whatever its headers say. */
  noBody = false;
  requests = 0;
  closed = false;
  /** The server asked to close (connection: close / HTTP/1.0) */
  mustClose = false;
  lastUsed = 0;
  private head: Buffer | undefined;
  private inBody = false;
  private readonly framer = new BodyFramer();
  private readonly onDataBound: (c: Buffer) => void;

  constructor(socket: net.Socket, host: Host, owner: ConnectionOwner) {
    this.socket = socket;
    this.host = host;
    this.owner = owner;
    this.onDataBound = (c) => this.onData(c);
    socket.on('data', this.onDataBound);
    socket.on('drain', () => this.handler?.onUpstreamDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    socket.on('end', () => {
      if (this.inBody && this.framer.mode === 'close') this.finishBody();
      socket.end();
    });
  }

  /** Begin a request/response exchange on this connection. */
  attach(handler: UpstreamResponseHandler, noBody: boolean): void {
    this.handler = handler;
    this.noBody = noBody;
    this.head = undefined;
    this.inBody = false;
    this.requests++;
  }

  detach(): void {
    this.handler = undefined;
  }

  destroy(): void {
    this.handler = undefined;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.inBody) {
      this.bodyData(chunk, 0);
      return;
    }
    const h = this.handler;
    if (!h) {
      // unsolicited bytes on an idle connection: it cannot be reused
      this.mustClose = true;
      this.socket.destroy();
      return;
    }
    let buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    for (;;) {
      const end = findHeadEnd(buf, this.head ? this.head.length : 0);
      if (end < 0) {
        if (buf.length > MAX_HEAD) return this.fail('response head too large');
        this.head = buf;
        return;
      }
      this.head = undefined;
      const parsed = parseResponseHead(buf, end);
      if ('error' in parsed) return this.fail(parsed.error);
      if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
        if (parsed.status === 100) this.handler?.onContinue?.();
        buf = buf.subarray(end); // 1xx informational: relayed (100) or dropped
        if (buf.length === 0) return;
        continue;
      }
      const hd = parsed.headers;
      const conn = hd.get('connection');
      if (parsed.versionMinor === 0 ? conn?.toLowerCase() !== 'keep-alive' : conn?.toLowerCase() === 'close') this.mustClose = true;
      const te = hd.get('transfer-encoding');
      const cl = hd.get('content-length');
      if (this.noBody || parsed.status === 204 || parsed.status === 304 || parsed.status === 101) this.framer.reset('none');
      else if (te !== undefined && te.toLowerCase().includes('chunked')) this.framer.reset('chunked');
      else if (cl !== undefined) {
        const n = Number(cl);
        if (!Number.isSafeInteger(n) || n < 0) return this.fail('invalid content-length');
        this.framer.reset('length', n);
      } else {
        this.framer.reset('close');
        this.mustClose = true;
      }
      this.inBody = true;
      h.onResponseHead(parsed.status, parsed.reason, hd, this.framer.mode !== 'none');
      if (this.handler !== h) return; // the request gave up (e.g. retry decision) and destroyed us
      if (parsed.status === 101) {
        // upgraded: from now on bytes are the tunnel's
        this.inBody = true;
        this.framer.reset('close');
        if (end < buf.length) h.onResponseBody(buf.subarray(end));
        return;
      }
      if (this.framer.done) {
        this.finishBody();
        if (end < buf.length) this.mustClose = true;
        return;
      }
      if (end < buf.length) this.bodyData(buf, end);
      if (this.handler === h) h.onInputHandled?.();
      return;
    }
  }

  private bodyData(buf: Buffer, offset: number): void {
    const h = this.handler;
    if (!h) return;
    const n = this.framer.consume(buf, offset);
    if (this.framer.error) return this.fail(this.framer.error);
    if (n > 0) h.onResponseBody(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
    if (this.framer.done) {
      if (offset + n < buf.length) this.mustClose = true;
      this.finishBody();
    }
  }

  private finishBody(): void {
    this.inBody = false;
    const h = this.handler;
    this.handler = undefined;
    h?.onResponseEnd();
  }

  private fail(detail: string): void {
    const h = this.handler;
    this.handler = undefined;
    const before = !this.inBody;
    this.mustClose = true;
    this.socket.destroy();
    h?.onUpstreamReset(before, detail);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    const h = this.handler;
    this.handler = undefined;
    this.owner.onConnectionClosed(this);
    if (h) {
      if (this.inBody && this.framer.mode === 'close') h.onResponseEnd();
      else h.onUpstreamReset(!this.inBody, 'connection closed');
    }
  }
}
