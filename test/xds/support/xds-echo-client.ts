/**
 * Child process for end-to-end tests: a proxyless gRPC client using @grpc/grpc-js-xds
 * (bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG or GRPC_XDS_BOOTSTRAP). Reads commands on stdin, one
 * JSON per line: {"calls": N, "header": "x-canary"?, "deadlineMs": 5000?, "target": "xds:///..."?, "creds": "xds"|"insecure"?};
 * answers one JSON line
 * {"counts": {backend: n}, "errors": n, "codes": {STATUS_NAME: n}, "lastError": "..."}.
 * With MIZZEN_XDS_CREDS=1 the channel uses xDS credentials (mTLS as the clusters say, else plaintext).
 * Usage: node xds-echo-client.ts TARGET
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { echoService } from './echo-backends.ts';

xds.register();
const target = process.argv[2]!;
const { Client } = echoService();
const defaultCreds = process.env.MIZZEN_XDS_CREDS === '1' ? 'xds' : 'insecure';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const clients = new Map<string, any>();
function clientFor(t: string, creds: string) {
  const key = `${t}|${creds}`;
  let c = clients.get(key);
  if (!c) {
    c = new Client(t, creds === 'xds' ? new xds.XdsChannelCredentials(grpc.credentials.createInsecure()) : grpc.credentials.createInsecure());
    clients.set(key, c);
  }
  return c;
}

function call(client: any, header: string | undefined, deadlineMs: number): Promise<string> {
  const md = new grpc.Metadata();
  if (header) md.set(header, 'yes');
  return new Promise((resolve, reject) => {
    client.Echo({ message: 'hi' }, md, { deadline: Date.now() + deadlineMs }, (err: Error | null, reply: { backend: string }) => (err ? reject(err) : resolve(reply.backend)));
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    const cmd = JSON.parse(line) as { calls: number; header?: string; deadlineMs?: number; target?: string; creds?: string };
    const client = clientFor(cmd.target ?? target, cmd.creds ?? defaultCreds);
    const counts: Record<string, number> = {};
    const codes: Record<string, number> = {};
    let errors = 0;
    let lastError = '';
    for (let i = 0; i < cmd.calls; i++) {
      try {
        const b = await call(client, cmd.header, cmd.deadlineMs ?? 5000);
        counts[b] = (counts[b] ?? 0) + 1;
      } catch (err) {
        errors++;
        const code = grpc.status[(err as { code: number }).code] ?? 'UNKNOWN';
        codes[code] = (codes[code] ?? 0) + 1;
        lastError = (err as Error).message;
      }
    }
    process.stdout.write(`${JSON.stringify({ counts, errors, codes, lastError })}\n`);
  })();
});
rl.on('close', () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
