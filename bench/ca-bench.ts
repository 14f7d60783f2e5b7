/**
 * CA throughput: certificates issued per second, each including CSR parsing, CSR signature
 * verification, key policy and signing (ECDSA P-256), through the same CertificateIssuer the
 * gRPC service uses. CSRs (the clients' work) are made before the clock starts.
 *
 *   node bench/ca-bench.ts [N | --n N] [--grpc] [--concurrency 32]      (N defaults to 2000)
 *
 * --grpc also measures end to end over real gRPC on loopback (plaintext, token-authenticated).
 * Prints JSON: {"certs_per_second": N, ...}.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GrpcServer } from '../src/lib/grpc-wire/grpc-server.ts';
import { Registry } from 'prom-client';
import { CaClient } from '../src/agent/ca-client.ts';
import { createCertificateAuthority } from '../src/control/ca/certificate-authority.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../src/control/ca/service-account-token.ts';
import { createCertificationRequest } from '../src/lib/certification-request.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/log.ts';

const { values, positionals } = parseArgs({
  options: { n: { type: 'string' }, grpc: { type: 'boolean', default: false }, concurrency: { type: 'string', default: '32' } },
  allowPositionals: true,
});
// N as --n or as the first positional argument (bench/run.ts passes it that way).
const n = Number(values.n ?? positionals[0] ?? 2000);
if (!Number.isInteger(n) || n < 1) throw new Error(`N must be a positive integer, got ${values.n ?? positionals[0]}`);
const caDir = mkdtempSync(join(tmpdir(), 'mizzen-ca-bench-'));
const ca = createCertificateAuthority({ caDir, clock: systemClock, log: silentLogger(), metrics: new Registry() });

const csrs: string[] = [];
for (let i = 0; i < n; i++) {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  csrs.push(createCertificationRequest({ ...kp, altNames: { uris: [`spiffe://cluster.local/ns/bench/sa/w${i}`] } }));
}

// Warm up (JIT, OpenSSL contexts) on a few CSRs, then measure the whole set.
for (let i = 0; i < Math.min(50, n); i++) ca.issuer.issueWorkload({ csrPem: csrs[i], identity: 'spiffe://cluster.local/ns/bench/sa/warm', validitySeconds: 0 });
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const r = ca.issuer.issueWorkload({ csrPem: csrs[i], identity: `spiffe://cluster.local/ns/bench/sa/w${i}`, validitySeconds: 0 });
  if (!r.ok) throw new Error(`issuance failed: ${r.reason}`);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const result: Record<string, number | string> = {
  certs_per_second: Math.round(n / seconds),
  n,
  seconds: Number(seconds.toFixed(3)),
  seconds_for_10000: Number(((10_000 * seconds) / n).toFixed(2)),
  mode: 'in-process issuer (CSR parse + verify + sign)',
};

if (values.grpc) {
  const server = new GrpcServer();
  ca.addToServer(server);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(caDir).privateKey, namespace: 'bench', serviceAccount: 'w' });
  const client = new CaClient({ address });
  const concurrency = Number(values.concurrency);
  let next = 0;
  const g0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await client.createCertificate(csrs[i], 0, { token });
      }
    }),
  );
  const gs = Number(process.hrtime.bigint() - g0) / 1e9;
  result.grpc_certs_per_second = Math.round(n / gs);
  result.grpc_concurrency = concurrency;
  await server.close(1000);
}

ca.close();
rmSync(caDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(result) + '\n');
