import type { HeaderList } from '../http1/header-list.ts';

/** The downstream side of a request (HTTP/1.1 connection today; HTTP/2 stream later). */
export interface DownstreamSink {
  sendHead(status: number, reason: string, headers: HeaderList): void;
  /** An interim `100 Continue` from upstream (proxy_100_continue); sinks that cannot relay it ignore it. */
  sendContinue?(): void;
  sendBody(chunk: Buffer | string): boolean;
  /** The response is complete (a head still held back is written). */
  sendEnd(): void;
  /**
   * The upstream input at hand has been handled: write a response head held back for body bytes
   * (a sink may keep the head to send it with the first body chunk in one write).
   */
  flush(): void;
  /** Reset the downstream (response cannot be completed). */
  abort(): void;
  pauseRequestBody(): void;
  resumeRequestBody(): void;
  /** The connection will close after this response (adds `connection: close`). */
  readonly closing: boolean;
  /** Close the connection after this response (a close-delimited upstream body). */
  closeAfterResponse(): void;
}
