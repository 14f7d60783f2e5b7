import type * as net from 'node:net';
import type { Logger } from '../../lib/log.ts';

/** Where the monitor reads descriptor use: the limit (RLIMIT_NOFILE soft) and the count open now. */
export interface DescriptorSource {
  limit(): number | undefined;
  open(): number | undefined;
}

export interface DescriptorOverloadOptions {
  source: DescriptorSource;
  /** The downstream connections the proxy holds (each also holds an upstream socket, mostly). */
  connections: () => Iterable<net.Socket>;
  log: Logger;
  /** Envoy's overload manager refresh_interval while under pressure (default 250 ms; 1 s otherwise). */
  intervalMs?: number;
  /** Pressure at which idle timeouts start to shrink (Envoy's scaled trigger scaling_threshold; default 0.80). */
  scalingThreshold?: number;
  /** Pressure at which they reach their minimum (saturation_threshold; default 0.95). */
  saturationThreshold?: number;
  /** The idle timeout being scaled (Istio's tcp_proxy idle_timeout: 1 h). */
  idleTimeoutMs?: number;
  /** Its floor when saturated (Envoy's ScaleTimersOverloadActionConfig min_timeout; default 2 s). */
  minIdleTimeoutMs?: number;
  now?: () => number;
}

interface Activity {
  bytes: number;
  since: number;
}

/** Pressure below which connections are not watched for idleness (no per-connection work). */
const WATCH_FROM = 0.5;
/** At most one accept-failure log line per listener in this period (the rest are counted). */
const LOG_EVERY_MS = 10_000;
/** /proc/self/fd is counted at most this often (in between: estimated). */
const EXACT_EVERY_MS = 1000;

/**
 * Envoy's overload manager for one resource, open files, with its `reduce_timeouts` action: the
 * proxy's descriptor use against RLIMIT_NOFILE is sampled; between the scaling and saturation
 * thresholds the downstream idle timeout shrinks linearly from `idleTimeoutMs` to
 * `minIdleTimeoutMs`, and connections idle longer (no byte either way) are closed, least recently
 * active first, until descriptor use is back under the scaling threshold, so idle connections
 * make room before new ones starve (Envoy's scaled timers would fire all of them at once; closing
 * only what is needed keeps the others). Accept failures (EMFILE /
 * ENFILE: libuv closes what the kernel had queued) are counted per listener as
 * `downstream_cx_overflow`, logged at most once per 10 s per listener, and trigger a sample at
 * once. Accepting carries on by itself once descriptors are free again.
 */
export class DescriptorOverload {
  private readonly o: Required<Omit<DescriptorOverloadOptions, 'source' | 'connections' | 'log'>> & Pick<DescriptorOverloadOptions, 'source' | 'connections' | 'log'>;
  private readonly activity = new WeakMap<net.Socket, Activity>();
  private timer: NodeJS.Timeout | undefined;
  /** open / limit at the last sample (0..1+). */
  pressure = 0;
  /** The reduce_timeouts action's scale (0 = inactive, 1 = saturated). */
  scale = 0;
  lastOpen = 0;
  lastLimit = 0;
  /** Connections closed for idleness under pressure. */
  idleClosed = 0;
  readonly acceptFailures = new Map<string, number>();
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();
  private closed = false;
  private exactAt = -Infinity;
  private exactOpen = 0;
  private exactDownstream = 0;

  constructor(o: DescriptorOverloadOptions) {
    this.o = {
      intervalMs: 250,
      scalingThreshold: 0.8,
      saturationThreshold: 0.95,
      idleTimeoutMs: 3_600_000,
      minIdleTimeoutMs: 2000,
      now: () => performance.now(),
      ...o,
    };
  }

  /**
   * Sample once now, while the proxy is far from its limit, then on the timer: a monitor whose
   * first timed sample came with every descriptor already in use could read neither the limit nor
   * the count, never knew a limit, and so never acted (CI: idle connections were never closed).
   */
  start(): void {
    if (this.closed || this.timer) return;
    this.sample(true);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed) return;
    const every = this.pressure >= WATCH_FROM ? this.o.intervalMs : Math.max(this.o.intervalMs, 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sample();
      this.schedule();
    }, every);
    this.timer.unref();
  }

  /** An accept on `listener` failed (err.code EMFILE, ENFILE, ...). */
  acceptFailed(listener: string, err: NodeJS.ErrnoException): void {
    this.acceptFailures.set(listener, (this.acceptFailures.get(listener) ?? 0) + 1);
    const now = this.o.now();
    const last = this.lastLogged.get(listener);
    if (!last || now - last.at >= LOG_EVERY_MS) {
      this.lastLogged.set(listener, { at: now, suppressed: 0 });
      this.sample(true);
      this.o.log.error(
        { listener, err: err.code ?? err.message, openFiles: this.lastOpen, limit: this.lastLimit, suppressed: last?.suppressed ?? 0, idleClosed: this.idleClosed },
        `listener accept failed (${err.code ?? err.message}): out of file descriptors; closing idle connections (raise the open-files limit: ulimit -n / LimitNOFILE)`,
      );
    } else {
      last.suppressed++;
      this.sample();
    }
  }

  /**
   * Read descriptor use now and act on it. Counting /proc/self/fd costs ~50 ms at 17,000
   * descriptors on a loaded machine, so it is read at most once a second (or at once when
   * `exact`); in between, use is estimated from the change in downstream connections (two
   * descriptors each: downstream and upstream).
   */
  sample(exact = false): void {
    const now = this.o.now();
    let downstream = 0;
    for (const _ of this.o.connections()) downstream++;
    // Reading the limit (/proc/self/limits) and the count (/proc/self/fd) each need a descriptor
    // of their own, so at the limit both fail (EMFILE). Once they have been read, a failed read
    // means exactly that: the limit is the last one read and every descriptor is in use.
    const known = this.lastLimit > 0;
    const limit = this.o.source.limit() ?? (known ? this.lastLimit : undefined);
    let open: number | undefined;
    if (exact || now - this.exactAt >= EXACT_EVERY_MS) {
      open = this.o.source.open() ?? (known ? limit : undefined);
      this.exactAt = now;
      this.exactOpen = open ?? 0;
      this.exactDownstream = downstream;
    } else open = Math.max(0, this.exactOpen + 2 * (downstream - this.exactDownstream));
    if (limit === undefined || open === undefined || !Number.isFinite(limit) || limit <= 0) return;
    this.lastOpen = open;
    this.lastLimit = limit;
    this.pressure = open / limit;
    const { scalingThreshold: lo, saturationThreshold: hi } = this.o;
    const wasActive = this.scale > 0;
    this.scale = this.pressure <= lo ? 0 : this.pressure >= hi ? 1 : (this.pressure - lo) / (hi - lo);
    if (this.pressure < WATCH_FROM) return;
    const timeout = Math.max(this.o.minIdleTimeoutMs, this.o.idleTimeoutMs * (1 - this.scale));
    const idle: [net.Socket, number][] = [];
    for (const s of this.o.connections()) {
      const bytes = s.bytesRead + s.bytesWritten;
      const a = this.activity.get(s);
      if (!a || a.bytes !== bytes) {
        this.activity.set(s, { bytes, since: now });
        continue;
      }
      if (this.scale > 0 && now - a.since >= timeout) idle.push([s, a.since]);
    }
    if (this.scale > 0 && !wasActive) this.o.log.warn({ openFiles: open, limit, pressure: Math.round(this.pressure * 100) / 100, idleTimeoutMs: Math.round(timeout) }, 'open files under pressure: reducing idle timeouts (overload action reduce_timeouts)');
    if (this.scale === 0 && wasActive) this.o.log.info({ openFiles: open, limit, idleClosed: this.idleClosed }, 'open files back under the scaling threshold');
    if (idle.length === 0) return;
    // least recently active first, until use is back under the scaling threshold (a closed
    // connection frees its downstream and, mostly, its upstream descriptor)
    idle.sort((a, b) => a[1] - b[1]);
    const excess = open - Math.floor(lo * limit);
    const n = Math.min(idle.length, Math.max(1, Math.ceil(excess / 2)));
    for (let i = 0; i < n; i++) idle[i][0].destroy();
    this.idleClosed += n;
    this.o.log.warn({ closed: n, idleCandidates: idle.length, idleTimeoutMs: Math.round(timeout), openFiles: open, limit }, 'open files under pressure: closed the least recently active idle connections');
  }

  /** Envoy-style stat lines (`overload.*`, `listener.NAME.downstream_cx_overflow`). */
  statLines(): string[] {
    const lines = [
      `overload.mizzen.resource_monitors.open_files.pressure: ${Math.round(this.pressure * 100)}`,
      `overload.envoy.overload_actions.reduce_timeouts.active: ${this.scale >= 1 ? 1 : 0}`,
      `overload.envoy.overload_actions.reduce_timeouts.scale_percent: ${Math.round(this.scale * 100)}`,
      `overload.mizzen.idle_connections_closed: ${this.idleClosed}`,
      `server.open_files: ${this.lastOpen}`,
      `server.open_files_limit: ${this.lastLimit}`,
    ];
    for (const [l, n] of this.acceptFailures) lines.push(`listener.${l}.downstream_cx_overflow: ${n}`);
    return lines;
  }
}
