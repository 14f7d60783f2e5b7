/**
 * Constant-rate HTTP/1.1 load generator (a child process of the benchmark, like fortio/wrk2):
 * C keep-alive connections share a fixed request rate; each request has an intended send time on
 * a fixed schedule, and latency is measured from that time (coordinated-omission correct), so a
 * slow response also counts the wait it imposed on the requests queued behind it.
 *
 * argv: JSON {host, port, rps, connections, seconds, warmupSeconds, payloadBytes, path, hostHeader}
 * stdout: JSON {sent, ok, errors, p50_ms, p90_ms, p99_ms, max_ms, achieved_rps}
 */
import { connect, type Socket } from 'node:net';
import * as hdr from 'hdr-histogram-js';

interface Options {
  host: string;
  port: number;
  rps: number;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  payloadBytes: number;
  path: string;
  hostHeader: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const body = Buffer.alloc(opts.payloadBytes, 'x');
const head = Buffer.from(
  `POST ${opts.path} HTTP/1.1\r\nhost: ${opts.hostHeader}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\n\r\n`,
);
const request = Buffer.concat([head, body]);

let sent = 0;
let ok = 0;
let errors = 0;
let measuring = false;
const startNs = process.hrtime.bigint();
const nowUs = (): number => Number((process.hrtime.bigint() - startNs) / 1000n);

/** One keep-alive connection: a queue of intended send times, one request in flight at a time. */
class Connection {
  private socket: Socket;
  private queue: number[] = [];
  private inFlight: number | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private expect = -1; // bytes of body still expected for the current response, -1 = reading head

  constructor() {
    this.socket = this.open();
  }

  private open(): Socket {
    const s = connect({ host: opts.host, port: opts.port, noDelay: true });
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.inFlight !== undefined) {
        errors++;
        this.inFlight = undefined;
      }
      this.buf = Buffer.alloc(0);
      this.expect = -1;
      if (!done) {
        this.socket = this.open();
        this.socket.once('connect', () => this.pump());
      }
    });
    return s;
  }

  schedule(intendedUs: number): void {
    this.queue.push(intendedUs);
    this.pump();
  }

  private pump(): void {
    if (this.inFlight !== undefined || this.queue.length === 0 || this.socket.connecting) return;
    this.inFlight = this.queue.shift();
    sent++;
    this.socket.write(request);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.expect < 0) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headText = this.buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
        this.status = Number(headText.slice(9, 12));
        this.expect = m ? Number(m[1]) : 0;
        this.buf = this.buf.subarray(end + 4);
      }
      if (this.buf.length < this.expect) return;
      this.buf = this.buf.subarray(this.expect);
      this.expect = -1;
      this.complete();
    }
  }

  private status = 0;

  private complete(): void {
    const intended = this.inFlight;
    this.inFlight = undefined;
    if (intended !== undefined && measuring) {
      if (this.status >= 200 && this.status < 300) {
        ok++;
        histogram.recordValue(Math.max(1, nowUs() - intended));
      } else errors++;
    }
    this.pump();
  }

  close(): void {
    this.socket.destroy();
  }
}

let done = false;
const conns = Array.from({ length: opts.connections }, () => new Connection());
const intervalUs = 1e6 / opts.rps;
const totalSeconds = opts.warmupSeconds + opts.seconds;
let next = 0;
let index = 0;
let measureStartUs = 0;

// A tight scheduler: wake every ~1 ms and issue every request whose intended time has come.
const tick = setInterval(() => {
  const now = nowUs();
  if (!measuring && now >= opts.warmupSeconds * 1e6) {
    measuring = true;
    measureStartUs = now;
    histogram.reset();
  }
  // Node's timers tick at 1 ms, so a request due at `next` is issued at this tick. Its latency
  // counts from the later of the two: at most one tick of our own scheduling is not charged to
  // the system under test (else every mode would carry ~0.5 ms of generator lag), while a request
  // queued behind a slow response still counts its whole wait (coordinated omission).
  const tickStart = Math.max(0, now - 1000);
  while (next <= now) {
    conns[index++ % conns.length].schedule(Math.max(next, tickStart));
    next += intervalUs;
  }
  if (now >= totalSeconds * 1e6) finish(now);
}, 1);

function finish(now: number): void {
  if (done) return;
  done = true;
  clearInterval(tick);
  for (const c of conns) c.close();
  const ms = (p: number): number => histogram.getValueAtPercentile(p) / 1000;
  const seconds = (now - measureStartUs) / 1e6;
  process.stdout.write(
    JSON.stringify({
      sent,
      ok,
      errors,
      p50_ms: ms(50),
      p90_ms: ms(90),
      p99_ms: ms(99),
      max_ms: histogram.maxValue / 1000,
      achieved_rps: ok / seconds,
    }) + '\n',
  );
  process.exit(0);
}
