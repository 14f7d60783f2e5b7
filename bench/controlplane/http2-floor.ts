/**
 * `node bench/controlplane/http2-floor.ts [STREAMS] [BYTES] [CONNECTIONS]`: the floor under a
 * VirtualService push in the convergence benchmark — bare node:http2, no gRPC, no xDS: a server
 * process holds STREAMS streams (default 1,000, over CONNECTIONS = STREAMS/200 connections with
 * Envoy's 256 MiB windows, like the simulator), then writes one BYTES-long body (default 258 KB,
 * the same shared buffer for every stream) to all of them at once; a client process only counts
 * bytes. Prints the time until the client has every body (P50/P99 per stream) and both
 * processes' CPU seconds for the burst.
 */
import { fork } from 'node:child_process';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cpuUsage } from 'node:process';

const WINDOW = 256 * 1024 * 1024;

if (process.argv[2] === 'client') {
  const { port, streams, connections, bytes } = JSON.parse(process.argv[3]!) as { port: number; streams: number; connections: number; bytes: number };
  const sessions = Array.from({ length: connections }, () => {
    const s = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: WINDOW } });
    s.once('connect', () => s.setLocalWindowSize(WINDOW));
    return s;
  });
  let t0 = 0;
  let cpu0 = cpuUsage();
  const done: number[] = [];
  let opened = 0;
  for (let i = 0; i < streams; i++) {
    const req = sessions[i % connections]!.request({ ':method': 'POST', ':path': '/floor' });
    let got = 0;
    req.on('response', () => {
      if (++opened === streams) process.send!({ ready: true });
    });
    req.on('data', (chunk: Buffer) => {
      if (got === 0 && t0 === 0) {
        t0 = performance.now();
        cpu0 = cpuUsage();
      }
      got += chunk.length;
      if (got === bytes) {
        done.push(performance.now() - t0);
        if (done.length === streams) {
          const c = cpuUsage(cpu0);
          done.sort((a, b) => a - b);
          process.send!({ p50: done[Math.ceil(streams * 0.5) - 1], p99: done[Math.ceil(streams * 0.99) - 1], cpu_s: (c.user + c.system) / 1e6 });
        }
      }
    });
  }
} else {
  const streams = Number(process.argv[2] ?? 1000);
  const bytes = Number(process.argv[3] ?? 258 * 1024);
  const connections = Number(process.argv[4] ?? Math.max(1, Math.ceil(streams / 200)));
  const body = Buffer.alloc(bytes, 7);
  const held: http2.ServerHttp2Stream[] = [];
  const server = http2.createServer({ settings: { initialWindowSize: 16 * 1024 * 1024 } });
  server.on('stream', (s: http2.ServerHttp2Stream) => {
    s.respond({ ':status': 200 });
    held.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const child = fork(process.argv[1]!, ['client', JSON.stringify({ port, streams, connections, bytes })], { execArgv: process.execArgv });
  let cpu0 = cpuUsage();
  let start = 0;
  child.on('message', (m: { ready?: boolean; p50?: number; p99?: number; cpu_s?: number }) => {
    if (m.ready) {
      cpu0 = cpuUsage();
      start = performance.now();
      for (const s of held) s.write(body);
      return;
    }
    const c = cpuUsage(cpu0);
    const wall = performance.now() - start;
    process.stdout.write(JSON.stringify({ streams, bytes, connections, p50_ms: Math.round(m.p50!), p99_ms: Math.round(m.p99!), wall_ms: Math.round(wall),
      server_cpu_s: Number(((c.user + c.system) / 1e6).toFixed(2)), client_cpu_s: Number(m.cpu_s!.toFixed(2)) }) + '\n');
    child.kill();
    for (const s of held) s.close();
    server.close();
  });
}
