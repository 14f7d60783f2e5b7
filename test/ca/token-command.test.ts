import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { register } from '../../src/cli/token-command.ts';
import type { CliContext } from '../../src/cli/cli-context.ts';
import { certificateSans, certificateValidity } from '../../src/lib/certificate-info.ts';
import { createCertificate, opensslCsr, opensslVerify, startCa, tempDir, type CaFixture } from './ca-fixture.ts';

const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MIZZEN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function runInProcess(args: string[]): Promise<CliContext & { out: string; err: string }> {
  const ctx = { exitCode: 0, out: '', err: '', env: {}, cwd: process.cwd() } as CliContext & { out: string; err: string };
  ctx.stdout = (s: string) => void (ctx.out += s);
  ctx.stderr = (s: string) => void (ctx.err += s);
  const program = new Command('mizzen').exitOverride().configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
  register(program, ctx);
  try {
    await program.parseAsync(['node', 'mizzen', ...args]);
  } catch {
    ctx.exitCode = ctx.exitCode || 2;
  }
  return ctx;
}

describe('mizzen token', () => {
  const dir = tempDir('mizzen-token-');
  let fx: CaFixture;
  before(async () => {
    fx = await startCa(dir.path);
  });
  after(async () => {
    await fx.close();
    dir.remove();
  });

  it('acceptance: a token from the real CLI and an openssl CSR claiming another SAN get a verifiable chain for the token identity', async () => {
    const cli = await runCli(['token', '--ca-dir', dir.path, '--namespace', 'default', '--service-account', 'X']);
    assert.equal(cli.code, 0, cli.stderr);
    const token = cli.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'one JWT on stdout');
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/istio-system/sa/istiod');
    for (const [validity, expectMs] of [[3600, 3600_000], [0, 24 * 3600_000]] as const) {
      const { chain, error } = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: validity });
      assert.equal(error, undefined, String(error?.details));
      const v = opensslVerify(dir.path, chain!);
      assert.ok(v.ok, v.output);
      const leaf = new X509Certificate(chain![0]);
      assert.deepEqual(certificateSans(leaf).uris, ['spiffe://cluster.local/ns/default/sa/X']);
      const { notBefore, notAfter } = certificateValidity(leaf);
      assert.equal(notAfter - notBefore, expectMs);
    }
    const forged = token.slice(0, token.lastIndexOf('.') + 1) + Buffer.alloc(64, 1).toString('base64url');
    assert.equal((await createCertificate({ address: fx.plainAddress, csr, token: forged })).error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal((await createCertificate({ address: fx.plainAddress, csr })).error?.code, grpc.status.UNAUTHENTICATED);
  });

  it('honours --ttl and rejects bad flags without a stack trace', async () => {
    const ok = await runInProcess(['token', '--ca-dir', dir.path, '-n', 'shop', '--service-account', 'cart', '--ttl', '10m']);
    assert.equal(ok.exitCode, 0, ok.err);
    const payload = JSON.parse(Buffer.from(ok.out.trim().split('.')[1], 'base64url').toString()) as { exp: number; iat: number; sub: string; aud: string | string[] };
    assert.equal(payload.exp - payload.iat, 600);
    assert.equal(payload.sub, 'system:serviceaccount:shop:cart');
    assert.deepEqual([payload.aud].flat(), ['istio-ca']);

    const badTtl = await runInProcess(['token', '--ca-dir', dir.path, '-n', 'shop', '--service-account', 'cart', '--ttl', 'forever']);
    assert.equal(badTtl.exitCode, 2);
    assert.match(badTtl.err, /--ttl "forever" is not a duration/);
    const badName = await runInProcess(['token', '--ca-dir', dir.path, '-n', 'shop/1', '--service-account', 'cart']);
    assert.equal(badName.exitCode, 2);
    assert.match(badName.err, /--namespace "shop\/1" is not a valid name/);
    const missing = await runInProcess(['token', '--ca-dir', dir.path, '-n', 'shop']);
    assert.notEqual(missing.exitCode, 0);
    assert.match(missing.err, /--service-account/);
    assert.doesNotMatch(badTtl.err + badName.err + missing.err, /\n\s+at /, 'no stack trace');
  });
});
