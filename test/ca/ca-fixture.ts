import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { loadCertificateService, type IstioCertificateResponse } from '../../src/api/ca/certificate-service.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { systemClock, type Clock } from '../../src/lib/clock.ts';
import { GrpcServer } from '../../src/lib/grpc-wire/grpc-server.ts';
import { silentLogger } from '../../src/lib/log.ts';

/** A CA on real gRPC servers on ephemeral loopback ports: plaintext (like 15010) and TLS (like 15012). */
export interface CaFixture {
  ca: CertificateAuthority;
  registry: Registry;
  caDir: string;
  plainAddress: string;
  tlsAddress: string;
  close(): Promise<void>;
}

export function tempDir(prefix = 'mizzen-ca-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startCa(caDir: string, clock: Clock = systemClock, extra: { maxTtlMs?: number } = {}): Promise<CaFixture> {
  const registry = new Registry();
  const ca = createCertificateAuthority({ caDir, clock, log: silentLogger(), metrics: registry, ...extra });
  // One server on both listeners, as discovery serves 15010 and 15012.
  const server = new GrpcServer();
  ca.addToServer(server);
  const plainAddress = await server.listen({ host: '127.0.0.1', port: 0 });
  const tlsAddress = await server.listen({ host: '127.0.0.1', port: 0 }, ca.servingTls(['127.0.0.1']));
  return {
    ca,
    registry,
    caDir,
    plainAddress,
    tlsAddress,
    async close() {
      ca.close();
      await server.close(1000);
    },
  };
}

export interface RawCallOptions {
  address: string;
  csr: string;
  validitySeconds?: number | string;
  token?: string;
  tls?: { rootCertPem: string; clientKeyPem?: string; clientCertPem?: string };
}

/** Call CreateCertificate with a bare grpc-js client; resolves with the chain or the gRPC error. */
export function createCertificate(o: RawCallOptions): Promise<{ chain?: string[]; error?: grpc.ServiceError }> {
  const { Client } = loadCertificateService();
  const creds = o.tls
    ? grpc.credentials.createSsl(
        Buffer.from(o.tls.rootCertPem),
        o.tls.clientKeyPem ? Buffer.from(o.tls.clientKeyPem) : null,
        o.tls.clientCertPem ? Buffer.from(o.tls.clientCertPem) : null,
      )
    : grpc.credentials.createInsecure();
  const client = new Client(o.address, creds, o.tls ? { 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' } : {});
  const md = new grpc.Metadata();
  if (o.token) md.set('authorization', `Bearer ${o.token}`);
  return new Promise((resolve) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>).CreateCertificate(
      { csr: o.csr, validityDuration: String(o.validitySeconds ?? 0) },
      md,
      { deadline: Date.now() + 15_000 },
      (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => {
        client.close();
        resolve(err ? { error: err } : { chain: res?.certChain ?? [] });
      },
    );
  });
}

/** An OpenSSL-made P-256 key + CSR that claims `sanUri`. */
export function opensslCsr(dir: string, sanUri: string, name = 'w'): { csr: string; keyPath: string } {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyPath, '-out', csrPath, '-subj', '/O=evil-org', '-addext', `subjectAltName=URI:${sanUri}`,
  ], { stdio: 'pipe' });
  return { csr: execFileSync('openssl', ['req', '-in', csrPath], { encoding: 'utf8' }), keyPath };
}

/** `openssl verify` of chain[0] against chain's last element, intermediates untrusted. */
export function opensslVerify(dir: string, chain: readonly string[]): { ok: boolean; output: string } {
  const root = join(dir, 'verify-root.pem');
  const leaf = join(dir, 'verify-leaf.pem');
  const mid = join(dir, 'verify-mid.pem');
  writeFileSync(root, chain[chain.length - 1]);
  writeFileSync(leaf, chain[0]);
  writeFileSync(mid, chain.slice(1, -1).join('') || chain[chain.length - 1]);
  try {
    const output = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', root, '-untrusted', mid, leaf], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
