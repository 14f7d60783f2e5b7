import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { certificateSans, certificateValidity } from '../../src/lib/certificate-info.ts';
import { createCertificate, opensslCsr, opensslVerify, tempDir } from './ca-fixture.ts';

const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));

interface Discovery {
  child: ChildProcess;
  plain: string;
  tls: string;
  http: string;
  stop(): Promise<void>;
}

/** Start the real `mizzen discovery` on ephemeral loopback ports and wait for its address line. */
function startDiscovery(configDir: string, caDir: string): Promise<Discovery> {
  const child = spawn(process.execPath, [MIZZEN, 'discovery', '--config', configDir, '--ca-dir', caDir, '--grpc-addr', '127.0.0.1:0', '--secure-grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MIZZEN_LOG: 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /xDS (\S+), xDS\+TLS (\S+), debug (\S+)/.exec(out);
      if (m) resolve({ child, plain: m[1], tls: m[2], http: m[3], stop });
    });
    child.once('exit', (code) => reject(new Error(`discovery exited (${code}) before it was ready:\n${out}\n${err}`)));
  });
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [MIZZEN, ...args], { encoding: 'utf8' }, (e, stdout, stderr) => (e ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

describe('CA inside mizzen discovery (acceptance)', () => {
  const dir = tempDir('mizzen-disc-ca-');
  const running: Discovery[] = [];
  after(async () => {
    await Promise.all(running.map((d) => d.stop()));
    dir.remove();
  });

  it('issues to a `mizzen token` caller, refuses others, reports metrics, and keeps its root across a restart', async () => {
    const configDir = join(dir.path, 'config');
    const caDir = join(dir.path, 'ca');
    mkdirSync(configDir);
    const first = await startDiscovery(configDir, caDir);
    running.push(first);
    const token = (await cli(['token', '--ca-dir', caDir, '--namespace', 'default', '--service-account', 'X'])).trim();
    const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/kube-system/sa/evil');

    const hour = await createCertificate({ address: first.plain, csr, token, validitySeconds: 3600 });
    assert.equal(hour.error, undefined, String(hour.error?.details));
    const v = opensslVerify(dir.path, hour.chain!);
    assert.ok(v.ok, v.output);
    const leaf = new X509Certificate(hour.chain![0]);
    assert.deepEqual(certificateSans(leaf).uris, ['spiffe://cluster.local/ns/default/sa/X']);
    const h = certificateValidity(leaf);
    assert.equal(h.notAfter - h.notBefore, 3600_000);
    const day = await createCertificate({ address: first.plain, csr, token, validitySeconds: 0 });
    const d = certificateValidity(new X509Certificate(day.chain![0]));
    assert.equal(d.notAfter - d.notBefore, 86_400_000);

    assert.equal((await createCertificate({ address: first.plain, csr })).error?.code, grpc.status.UNAUTHENTICATED);
    const forged = token.slice(0, token.lastIndexOf('.') + 1) + Buffer.alloc(64, 7).toString('base64url');
    assert.equal((await createCertificate({ address: first.plain, csr, token: forged })).error?.code, grpc.status.UNAUTHENTICATED);

    // 15012: TLS with discovery's serving certificate, verified against the root.
    const root = hour.chain!.at(-1)!;
    const overTls = await createCertificate({ address: first.tls, csr, token, tls: { rootCertPem: root } });
    assert.equal(overTls.chain?.at(-1), root, String(overTls.error?.details));

    const metrics = await (await fetch(`http://${first.http}/metrics`)).text();
    assert.match(metrics, /^citadel_server_csr_count 5$/m);
    assert.match(metrics, /^citadel_server_success_cert_issuance_count 3$/m);
    assert.match(metrics, /^citadel_server_authentication_failure_count 2$/m);

    await first.stop();
    const second = await startDiscovery(configDir, caDir);
    running.push(second);
    const again = await createCertificate({ address: second.plain, csr, token, validitySeconds: 3600 });
    assert.equal(again.chain?.at(-1), root, 'same root after a restart');
    assert.ok(opensslVerify(dir.path, again.chain!).ok);
  });
});
