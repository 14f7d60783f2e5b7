import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { GrpcChannel } from '../../src/lib/grpc-wire/grpc-channel.ts';
import { GrpcStatus } from '../../src/lib/grpc-wire/grpc-status.ts';

const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./support/record-resolutions.ts', import.meta.url));

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitUntil(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('mizzen discovery without @grpc/grpc-js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-disc-no-grpcjs-'));
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves ADS and the CA on its own gRPC server, never resolving @grpc/grpc-js', async () => {
    const configDir = join(dir, 'config');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'se.yaml'), 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: default}\nspec: {hosts: [a.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 10.0.0.9}]}\n');
    const resolutions = join(dir, 'resolutions.txt');
    writeFileSync(resolutions, '');
    const discovery = spawn(process.execPath, ['--import', PRELOAD, MIZZEN, 'discovery', '--config', configDir, '--ca-dir', join(dir, 'ca'),
      '--grpc-addr', '127.0.0.1:0', '--secure-grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MIZZEN_LOG: 'warn', MIZZEN_TEST_RESOLUTIONS: resolutions },
    });
    children.push(discovery);
    let out = '';
    discovery.stdout!.on('data', (d: Buffer) => (out += d));
    discovery.stderr!.on('data', (d: Buffer) => (out += d));
    await waitUntil(() => /xDS (\d[^\s,]*)/.test(out) || discovery.exitCode !== null, 'discovery to start');
    const address = /xDS (\d[^\s,]*)/.exec(out)?.[1];
    assert.ok(address, `discovery did not start:\n${out}`);

    const root = loadEnvoyRoot();
    const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const Resp = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    const channel = new GrpcChannel({ target: address, maxReceiveMessageBytes: 64 * 1024 * 1024 });
    try {
      // ADS: one CDS response naming the ServiceEntry's cluster.
      const response = await new Promise<{ typeUrl: string; resources: unknown[] }>((resolve, reject) => {
        const s = channel.openStream('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', {
          onMessage: (m) => {
            resolve(Resp.toObject(Resp.decode(m)) as { typeUrl: string; resources: unknown[] });
            s.cancel();
          },
          onStatus: (st) => reject(new Error(`stream ended: ${st.code} ${st.message}`)),
        });
        s.write(Req.encode(Req.fromObject({ node: { id: 'sidecar~10.0.0.1~p.default~default.svc.cluster.local' }, typeUrl: TYPE_URL.cluster })).finish());
      }).catch((err: Error) => assert.fail(`${err.message}\n${out}`));
      assert.equal(response.typeUrl, TYPE_URL.cluster);
      assert.ok(response.resources.length > 0);
      // CA: registered on the plaintext port (an empty, unauthenticated request is refused, not unknown).
      const ca = await channel.unary('/istio.v1.auth.IstioCertificateService/CreateCertificate', new Uint8Array(0));
      assert.equal(ca.status.code, GrpcStatus.UNAUTHENTICATED);
    } finally {
      channel.close();
    }
    const lines = readFileSync(resolutions, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.some((l) => l.includes('/src/lib/grpc-wire/grpc-server.ts')), 'the preload saw discovery load its gRPC server');
    const grpcJs = lines.filter((l) => /(^|\t|\/)@grpc\/grpc-js(\/|\t|$)/.test(l) || l.includes('/node_modules/@grpc/grpc-js/'));
    assert.deepEqual(grpcJs, [], 'no module of @grpc/grpc-js resolved in the discovery process');
  });
});
