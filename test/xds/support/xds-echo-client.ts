/**
 * Child process for end-to-end tests: a proxyless gRPC client using @grpc/grpc-js-xds
 * (bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG). Reads commands on stdin, one JSON per line:
 * {"calls": N, "header": "x-canary"?}; answers one JSON line {"counts": {backend: n}, "errors": n}.
 * Usage: node xds-echo-client.ts TARGET
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { echoService } from './echo-backends.ts';

xds.register();
const target = process.argv[2]!;
const { Client } = echoService();
const client = new Client(target, grpc.credentials.createInsecure());

function call(header: string | undefined): Promise<string> {
  const md = new grpc.Metadata();
  if (header) md.set(header, 'yes');
  return new Promise((resolve, reject) => {
    client.Echo({ message: 'hi' }, md, { deadline: Date.now() + 5000 }, (err: Error | null, reply: { backend: string }) => (err ? reject(err) : resolve(reply.backend)));
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    const cmd = JSON.parse(line) as { calls: number; header?: string };
    const counts: Record<string, number> = {};
    let errors = 0;
    let lastError = '';
    for (let i = 0; i < cmd.calls; i++) {
      try {
        const b = await call(cmd.header);
        counts[b] = (counts[b] ?? 0) + 1;
      } catch (err) {
        errors++;
        lastError = (err as Error).message;
      }
    }
    process.stdout.write(`${JSON.stringify({ counts, errors, lastError })}\n`);
  })();
});
rl.on('close', () => {
  client.close();
  process.exit(0);
});
