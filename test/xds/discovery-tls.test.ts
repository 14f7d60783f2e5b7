import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { AdsTestClient, sidecarNode } from './support/ads-test-client.ts';
import { envoyRoot } from './support/ads-harness.ts';

describe('Discovery with --ca-dir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-tls-'));
  const caDir = join(dir, 'ca');
  const configDir = join(dir, 'config');
  let d: Discovery;
  let addrs: Awaited<ReturnType<Discovery['start']>>;
  const clients: AdsTestClient[] = [];

  before(async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'se.yaml'), 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: default}\nspec: {hosts: [a.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 10.0.0.9}]}\n');
    d = new Discovery({
      configPaths: [configDir],
      caDir,
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 1000,
      clock: systemClock,
      logs: createLogFactory({ levels: 'silent' }),
      rescanIntervalMs: 0,
    });
    addrs = await d.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves ADS over TLS on the secure port with a certificate from its CA', async () => {
    assert.ok(addrs.secureGrpc);
    const root = d.rootCertPem();
    assert.ok(root);
    const c = new AdsTestClient(envoyRoot(), addrs.secureGrpc!, 'sotw', false, grpc.credentials.createSsl(Buffer.from(root!)), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    });
    clients.push(c);
    c.send({ node: sidecarNode('tls-1', 'default'), typeUrl: TYPE_URL.cluster });
    const r = await c.next(10_000);
    assert.ok(c.decode(r).some((x) => String(x.name).includes('a.example.com')));
  });

  it('offers the CA service on the plaintext port', async () => {
    const Ctor = grpc.makeGenericClientConstructor({}, 'x');
    const client = new Ctor(addrs.grpc, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = client.makeUnaryRequest(
          '/istio.v1.auth.IstioCertificateService/CreateCertificate',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          () => {},
        );
        call.on('status', resolve);
      });
      // Registered (not UNIMPLEMENTED); without credentials the CA refuses.
      assert.notEqual(status.code, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });
});
