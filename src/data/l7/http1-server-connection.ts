import type * as net from 'node:net';
import { BodyFramer } from '../http1/body-framer.ts';
import { findHeadEnd, hasBareLf, parseRequestHead, reasonPhrase } from '../http1/head-parser.ts';
import { frameRequest } from '../http1/request-framing.ts';
import type { HeaderList } from '../http1/header-list.ts';
import { messageBuffer } from '../http1/message-buffer.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { DownstreamSink } from './downstream-sink.ts';
import { HttpStream, type HttpRuntime } from './http-stream.ts';
import { LOCAL_REPLY } from './local-reply.ts';
import type { DownstreamConnectionInfo } from './downstream-connection-info.ts';


/**
 * The lean HTTP/1.1 server side of the connection manager: parses only the request head, streams
 * bodies (content-length and chunked) as raw bytes, supports keep-alive and pipelining (one
 * request at a time), `Expect: 100-continue` and upgrades (WebSocket) as a byte tunnel.
 */
export class Http1ServerConnection implements DownstreamSink {
  private readonly socket: net.Socket;
  private readonly stream: HttpStream;
  private readonly hcm: HcmConfig;
  private readonly conn: DownstreamConnectionInfo;
  private buf: Buffer | undefined;
  private readonly framer = new BodyFramer();
  private readingBody = false;
  private keepAlive = true;
  private tunnel = false;
  private closed = false;
  private waitingResponse = false;
  private pausedForPipeline = false;
  closing = false;
  /** The listener drains this connection: every response closes it. */
  private drainClosing = false;
  /** A response head not written yet: it leaves with the first body bytes or at the end of the input being processed. */
  private pendingHead: string | undefined;
  private readonly onIdle: ((c: Http1ServerConnection) => void) | undefined;
  private readonly onHttp2: ((buf: Buffer) => void) | undefined;
  private requests = 0;
  /** This request's `100 Continue` went out (relayed once, even across retries). */
  private continueSent = false;
  /** The socket's inactivity timeout now set (stream_idle_timeout), 0 = none. */
  private idleTimeoutMs = 0;

  constructor(
    socket: net.Socket, hcm: HcmConfig, rt: HttpRuntime, conn: DownstreamConnectionInfo, initial: Buffer | undefined,
    onIdle?: (c: Http1ServerConnection) => void,
    /** Called instead of HTTP/1 handling when the connection opens with the HTTP/2 preface. */
    onHttp2?: (buf: Buffer) => void,
  ) {
    this.socket = socket;
    this.hcm = hcm;
    this.conn = conn;
    this.onIdle = onIdle;
    this.onHttp2 = onHttp2;
    this.stream = new HttpStream(rt, hcm, this, () => this.onStreamDone());
    const info = this.stream.info;
    info.setDownstream(conn);
    this.stream.request.scheme = conn.tls ? 'https' : 'http';
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('drain', () => this.stream.onDownstreamDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    // stream_idle_timeout: the socket's own inactivity timer (reads and writes re-arm it), set from the first request on; it acts only while a stream is open
    socket.on('timeout', () => {
      if (this.stream.isActive && !this.tunnel) this.stream.onStreamIdle();
    });
    socket.on('end', () => {
      // half-closed client (the listener socket is allowHalfOpen, node:http semantics): finish the
      // in-flight response, then close; mid-body or in an upgraded tunnel, close as before
      if (!this.stream.isActive || this.tunnel || this.readingBody) socket.end();
      else this.keepAlive = false;
    });
    if (initial && initial.length > 0) this.onData(initial);
  }

  get idle(): boolean {
    return !this.stream.isActive;
  }

  /**
   * Listener drain (Envoy's drain close): the next response carries `connection: close` and the
   * connection closes after it; an idle connection waits for its next request or the end of the
   * drain period (the listener closes it then).
   */
  drainClose(): void {
    this.drainClosing = true;
    if (this.stream.isActive) this.closeAfterResponse();
  }

  /** Close when idle now, or after the in-flight response (proxy shutdown). */
  shutdown(): void {
    this.keepAlive = false;
    this.closing = true;
    if (!this.stream.isActive) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.tunnel) {
      this.stream.onRequestBody(chunk);
      return;
    }
    if (this.readingBody) {
      this.bodyData(chunk, 0);
      return;
    }
    if (this.waitingResponse) {
      // pipelined request while one is in flight: hold it
      this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      this.socket.pause();
      this.pausedForPipeline = true;
      return;
    }
    const prevLen = this.buf ? this.buf.length : 0;
    const buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = undefined;
    this.parseHead(buf, prevLen);
  }

  private parseHead(buf: Buffer, searchFrom: number): void {
    if (this.requests === 0 && this.onHttp2 && buf[0] === 0x50 && buf.toString('latin1', 0, Math.min(buf.length, 14)) === 'PRI * HTTP/2.0'.slice(0, Math.min(buf.length, 14))) {
      if (buf.length < 14) {
        this.buf = buf;
        return;
      }
      // prior-knowledge HTTP/2: hand the connection to the HTTP/2 side
      this.closed = true;
      for (const ev of ['data', 'drain', 'end', 'close']) this.socket.removeAllListeners(ev);
      this.onHttp2(buf);
      return;
    }
    if (buf[0] === 13 || buf[0] === 10) {
      // empty lines before a request line are ignored (RFC 9112 2.2)
      let i = 0;
      while (i < buf.length && (buf[i] === 13 || buf[i] === 10)) i++;
      if (i === buf.length) return;
      buf = buf.subarray(i);
      searchFrom = 0;
    }
    const end = findHeadEnd(buf, searchFrom);
    if (end < 0) {
      if (buf.length > this.hcm.maxHeadersBytes) return this.protocolError(LOCAL_REPLY.headersTooLarge);
      // a head with a bare LF never ends with CRLFCRLF: answer now instead of waiting for more
      if (hasBareLf(buf)) return this.protocolError({ ...LOCAL_REPLY.badRequest, details: 'http1.codec_error{bare LF in the message head}' });
      this.buf = buf;
      return;
    }
    if (end > this.hcm.maxHeadersBytes) return this.protocolError(LOCAL_REPLY.headersTooLarge);
    const head = parseRequestHead(buf, end, this.hcm.maxHeadersCount);
    if ('error' in head) return this.protocolError(head.status === 431 ? LOCAL_REPLY.tooManyHeaders : { ...LOCAL_REPLY.badRequest, details: `http1.codec_error{${head.error}}` });
    const framing = frameRequest(head, this.hcm.http1);
    if ('details' in framing) return this.protocolError({ status: framing.status, body: reasonPhrase(framing.status), flag: 'DPE', details: framing.details });
    const h: HeaderList = head.headers;
    const connection = (h.get('connection') ?? '').toLowerCase();
    this.keepAlive = !this.drainClosing && (head.versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive'));
    if (!this.keepAlive) this.closing = true;
    let upgrade: string | undefined;
    const up = h.get('upgrade');
    if (up !== undefined && connection.includes('upgrade') && this.hcm.upgrades.has(up.toLowerCase())) upgrade = up.toLowerCase();
    h.remove('connection');
    h.remove('keep-alive');
    h.remove('proxy-connection');
    if (upgrade) {
      h.set('connection', 'upgrade');
    } else h.remove('upgrade');
    if (framing.body === 'chunked') this.framer.reset('chunked', 0, this.hcm.maxHeadersBytes);
    else if (framing.body === 'length') this.framer.reset('length', framing.length);
    else this.framer.reset('none');
    const expect = h.get('expect');
    this.continueSent = false;
    if (expect !== undefined && expect.toLowerCase() === '100-continue' && !this.hcm.proxy100Continue) {
      // Envoy's default: answer it here; with proxy_100_continue the app's own 100 is relayed (sendContinue).
      h.remove('expect');
      this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    // stream_idle_timeout: the socket's inactivity timer stays set across the keep-alive
    // connection's requests (re-setting it per request costs a new timer each time); every read and
    // write re-arms it, so it counts from the same moment, and it only acts while a stream is open
    const idleMs = this.hcm.streamIdleTimeoutMs;
    if (idleMs !== this.idleTimeoutMs) {
      this.socket.setTimeout(idleMs);
      this.idleTimeoutMs = idleMs;
    }
    this.waitingResponse = true;
    this.requests++;
    this.readingBody = !this.framer.done;
    // the head and the body bytes that came with it go upstream in one write (endBatch)
    const stream = this.stream;
    stream.beginBatch();
    stream.start(head.method, framing.path, framing.authority, h, !this.framer.done, upgrade);
    if (end < buf.length) {
      if (this.readingBody) this.bodyData(buf, end);
      else {
        stream.endBatch();
        this.holdPipelined(buf.subarray(end));
        return;
      }
    }
    stream.endBatch();
  }

  private bodyData(buf: Buffer, offset: number): void {
    const n = this.framer.consume(buf, offset);
    if (this.framer.error) return this.protocolError({ ...LOCAL_REPLY.badRequest, details: `http1.codec_error{${this.framer.error}}` });
    if (n > 0) this.stream.onRequestBody(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
    if (this.framer.done) {
      this.readingBody = false;
      this.stream.onRequestEnd();
      if (offset + n < buf.length) this.holdPipelined(buf.subarray(offset + n));
    }
  }

  private holdPipelined(rest: Buffer): void {
    if (!this.stream.isActive) {
      // the response already completed: handle the next request now
      this.parseHead(rest, 0);
      return;
    }
    this.buf = this.buf ? Buffer.concat([this.buf, rest]) : rest;
    this.socket.pause();
    this.pausedForPipeline = true;
  }

  /**
   * A request Envoy's codec refuses: answered (400/426/431/501, `connection: close`) and the
   * connection closed. Mid-body, the request was already forwarded: its upstream attempt is
   * dropped and the local answer goes out if no response has started, else the connection is reset.
   */
  private protocolError(r: { status: number; body: string; flag?: string; details?: string }): void {
    this.keepAlive = false;
    this.closing = true;
    this.readingBody = false;
    if (this.stream.isActive) {
      if (this.stream.responseStarted) this.socket.destroy();
      else this.stream.localReply(r);
      return;
    }
    const body = r.body;
    this.socket.end(`HTTP/1.1 ${r.status} ${reasonPhrase(r.status)}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
  }

  // DownstreamSink

  sendHead(status: number, reason: string, headers: HeaderList): void {
    if (this.closed) return;
    const head = `HTTP/1.1 ${status} ${reason}\r\n${headers.serialize()}\r\n`;
    if (status === 101) {
      this.socket.write(head, 'latin1');
      this.tunnel = true;
      this.readingBody = false;
      return;
    }
    this.pendingHead = head;
  }

  sendContinue(): void {
    if (this.closed || this.continueSent || this.pendingHead !== undefined) return;
    this.continueSent = true;
    this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  sendBody(chunk: Buffer | string): boolean {
    if (this.closed) return true;
    const head = this.pendingHead;
    if (head === undefined) return this.socket.write(chunk);
    this.pendingHead = undefined;
    return this.socket.write(messageBuffer(head, chunk));
  }

  /** Write a response head still waiting for body bytes (the input at hand has been processed). */
  flush(): void {
    const head = this.pendingHead;
    if (head === undefined) return;
    this.pendingHead = undefined;
    if (!this.closed) this.socket.write(head, 'latin1');
  }

  sendEnd(): void {
    this.flush();
    // completion handled in onStreamDone (after the stream's bookkeeping)
  }

  abort(): void {
    this.pendingHead = undefined;
    this.closed = true;
    this.socket.destroy();
  }

  closeAfterResponse(): void {
    this.keepAlive = false;
    this.closing = true;
  }

  pauseRequestBody(): void {
    this.socket.pause();
  }

  resumeRequestBody(): void {
    if (!this.pausedForPipeline) this.socket.resume();
  }

  private onStreamDone(): void {
    this.waitingResponse = false;
    if (this.closed) return;
    if (this.tunnel) {
      this.socket.end();
      return;
    }
    if (!this.keepAlive || this.readingBody) {
      // unread request body or close requested: close after the response
      this.closed = true;
      this.socket.end();
      return;
    }
    this.onIdle?.(this);
    if (this.closing) {
      this.socket.end();
      return;
    }
    const rest = this.buf;
    this.buf = undefined;
    if (this.pausedForPipeline) {
      this.pausedForPipeline = false;
      this.socket.resume();
    }
    if (rest && rest.length > 0) this.parseHead(rest, 0);
  }

  private onClose(): void {
    this.closed = true;
    this.stream.downstreamReset();
    this.stream.dispose();
  }
}
