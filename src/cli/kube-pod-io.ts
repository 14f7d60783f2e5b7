import type { RequestOptions } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { MizzenError } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { ExecIo, LogOptions } from './cluster-access.ts';

/** The channels of Kubernetes' streaming protocol (`channel.k8s.io`): one byte in front of each message. */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
/** v5: "this channel is done" (the client's stdin ended). */
const CLOSE = 255;

type Status = { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };

/** kubectl's wording of an API server refusal: `Error from server (NotFound): pods "x" not found`. */
function serverError(status: number, body: string): MizzenError {
  let s: Status = {};
  try {
    s = JSON.parse(body) as Status;
  } catch {
    s = { message: body.trim().slice(0, 300) || `HTTP ${status}` };
  }
  return new MizzenError('RUNTIME_FAILED', `Error from server (${s.reason ?? status}): ${s.message ?? ''}`);
}

/**
 * A container's log through the API server's pod `log` subresource (`kubectl logs`): `follow`
 * keeps the stream open until the container stops or `signal` aborts; `tail` asks for the last
 * lines only.
 */
export async function podLogs(api: KubeApi, namespace: string, pod: string, container: string, o: LogOptions, out: (text: string) => void): Promise<void> {
  let body;
  try {
    body = await api.getStream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`, { container, follow: o.follow || undefined, tailLines: o.tail }, o.signal);
  } catch (err) {
    const e = err as { status?: number; reason?: string; message?: string };
    if (e.status) throw new MizzenError('RUNTIME_FAILED', `Error from server (${e.reason ?? e.status}): ${e.message}`);
    throw err;
  }
  const text = new StringDecoder('utf8');
  try {
    for await (const chunk of body) out(text.write(chunk as Buffer));
    const rest = text.end();
    if (rest) out(rest);
  } catch (err) {
    if (!o.signal.aborted) throw err;
  }
}

/** The command's exit code from the status channel's metav1.Status, or the failure to report. */
function exitOf(s: Status): { code: number; error?: string } {
  if (s.status === 'Success') return { code: 0 };
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (s.reason === 'NonZeroExitCode' && cause) return { code: Number(cause.message) || 1 };
  return { code: 1, error: s.message ?? 'the command failed' };
}

/**
 * `kubectl exec` through the API server's pod `exec` subresource over WebSocket (`v5.channel.k8s.io`,
 * else v4): stdout and stderr apart, stdin with `-i` (its end signalled on v5), a terminal with `-t`
 * (raw mode, size sent on the resize channel); resolves with the command's exit code.
 */
export async function podExec(config: KubeConfig, namespace: string, pod: string, container: string, command: readonly string[], io: ExecIo): Promise<number> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new MizzenError('USAGE', 'the kubeconfig has no current cluster');
  const q = new URLSearchParams();
  for (const c of command) q.append('command', c);
  q.set('container', container);
  q.set('stdout', 'true');
  if (!io.tty) q.set('stderr', 'true');
  if (io.stdin) q.set('stdin', 'true');
  if (io.tty) q.set('tty', 'true');
  const url = `${cluster.server.replace(/\/+$/, '').replace(/^http/, 'ws')}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/exec?${q}`;
  const tls: RequestOptions = {};
  await config.applyToHTTPSOptions(tls);
  const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], { ca: tls.ca, cert: tls.cert, key: tls.key, headers: tls.headers as Record<string, string> | undefined, rejectUnauthorized: tls.rejectUnauthorized });
  const decoders = { [STDOUT]: new StringDecoder('utf8'), [STDERR]: new StringDecoder('utf8') };
  const stdin = process.stdin;
  const cleanups: (() => void)[] = [];
  try {
    return await new Promise<number>((resolve, reject) => {
      let result: { code: number; error?: string } | undefined;
      let opened = false;
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(serverError(res.statusCode ?? 0, body)));
      });
      ws.on('error', (err) => {
        if (!opened) reject(new MizzenError('RUNTIME_FAILED', `cannot reach the API server for exec: ${err.message}`));
      });
      ws.on('open', () => {
        opened = true;
        const send = (channel: number, data: Buffer): void => {
          if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.of(channel), data]));
        };
        if (io.tty && process.stdout.isTTY) {
          const size = (): void => send(RESIZE, Buffer.from(JSON.stringify({ Width: process.stdout.columns, Height: process.stdout.rows })));
          size();
          process.stdout.on('resize', size);
          cleanups.push(() => process.stdout.off('resize', size));
        }
        if (io.stdin) {
          if (io.tty && stdin.isTTY) {
            stdin.setRawMode(true);
            cleanups.push(() => stdin.setRawMode(false));
          }
          const onData = (d: Buffer): void => send(STDIN, d);
          const onEnd = (): void => {
            if (ws.protocol === 'v5.channel.k8s.io') send(CLOSE, Buffer.of(STDIN));
          };
          stdin.on('data', onData);
          stdin.once('end', onEnd);
          cleanups.push(() => {
            stdin.off('data', onData);
            stdin.off('end', onEnd);
            stdin.pause();
          });
        }
      });
      ws.on('message', (data: Buffer) => {
        if (data.length === 0) return;
        const channel = data[0]!;
        const payload = data.subarray(1);
        if (channel === STDOUT || channel === STDERR) {
          const text = decoders[channel].write(payload);
          if (!text) return;
          if (io.tty) process.stdout.write(text);
          else (channel === STDOUT ? io.stdout : io.stderr)(text);
        } else if (channel === STATUS && payload.length > 0) {
          try {
            result = exitOf(JSON.parse(payload.toString('utf8')) as Status);
          } catch {
            result = { code: 1, error: `unreadable status: ${payload.toString('utf8').slice(0, 200)}` };
          }
          ws.close();
        }
      });
      ws.on('close', () => {
        if (!opened) return; // refused or unreachable: rejected above
        for (const ch of [STDOUT, STDERR] as const) {
          const rest = decoders[ch].end();
          if (rest) (ch === STDOUT ? io.stdout : io.stderr)(rest);
        }
        if (result?.error) io.stderr(`error: ${result.error}\n`);
        resolve(result?.code ?? 0);
      });
    });
  } finally {
    for (const c of cleanups) c();
  }
}
