import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { secretFromChain } from '../../src/agent/certificate-rotator.ts';
import { SecretCache, type WorkloadSecret } from '../../src/agent/secret-cache.ts';
import { SdsServer, secretDiscoveryServiceDefinition } from '../../src/agent/sds-server.ts';
import { createWorkloadCsr, generateWorkloadKey } from '../../src/agent/workload-key.ts';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { parseCertificateChain } from '../../src/lib/certificate-info.ts';
import { Registry } from 'prom-client';
import { tempDir } from '../ca/ca-fixture.ts';

interface Response {
  versionInfo: string;
  nonce: string;
  resources: { typeUrl: string; value: Buffer }[];
}

describe('SdsServer', () => {
  const dir = tempDir('mizzen-sdss-');
  const root = loadEnvoyRoot();
  const Secret = root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');
  let ca: CertificateAuthority;

  const issue = (sa: string): WorkloadSecret => {
    const key = generateWorkloadKey();
    const r = ca.issuer.issueWorkload({ csrPem: createWorkloadCsr(key), identity: `spiffe://cluster.local/ns/default/sa/${sa}`, validitySeconds: 3600 });
    assert.ok(r.ok);
    return secretFromChain(r.certChain, key.publicKey.export({ format: 'der', type: 'spki' }), key.privateKeyPem);
  };

  before(() => {
    ca = createCertificateAuthority({ caDir: dir.path, clock: systemClock, log: silentLogger(), metrics: new Registry() });
  });
  after(() => {
    ca.close();
    dir.remove();
  });

  it('answers StreamSecrets on a Unix socket with default and ROOTCA, and pushes a rotated certificate', async () => {
    const cache = new SecretCache();
    const sds = new SdsServer({ cache, log: silentLogger(), root });
    const socket = join(dir.path, 'sds.sock');
    await sds.listen(`unix:${socket}`);
    const Client = grpc.makeGenericClientConstructor(secretDiscoveryServiceDefinition(root), 'SecretDiscoveryService');
    const client = new Client(`unix:${socket}`, grpc.credentials.createInsecure());
    const stream = (client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<object, Response> }).StreamSecrets();
    const responses: Response[] = [];
    let wake: (() => void) | undefined;
    stream.on('data', (r: Response) => {
      responses.push(r);
      wake?.();
    });
    stream.on('error', () => {});
    const nextResponse = async (): Promise<Response> => {
      while (responses.length === 0) await new Promise<void>((r) => (wake = r));
      return responses.shift()!;
    };
    try {
      stream.write({ node: { id: 'sidecar~10.0.0.1~a.default~default.svc.cluster.local' }, resourceNames: ['default', 'ROOTCA'], typeUrl: TYPE_URL.secret });
      // Nothing yet: the agent has no certificate. Then the first one arrives.
      const first = issue('a');
      cache.update(first);
      const r1 = await nextResponse();
      assert.deepEqual(r1.resources.map((r) => Secret.toObject(Secret.decode(r.value)).name).sort(), ['ROOTCA', 'default']);
      const def = Secret.toObject(Secret.decode(r1.resources.find((r) => Secret.decode(r.value).toJSON().name === 'default')!.value)) as {
        tlsCertificate: { certificateChain: { inlineBytes: Uint8Array } };
      };
      const [leaf] = parseCertificateChain(Buffer.from(def.tlsCertificate.certificateChain.inlineBytes).toString());
      assert.match(leaf.subjectAltName ?? '', /sa\/a$/);
      // ACK: no new response; then a rotation pushes a new version.
      stream.write({ versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: ['ROOTCA', 'default'], typeUrl: TYPE_URL.secret });
      cache.update(issue('b'));
      const r2 = await nextResponse();
      assert.notEqual(r2.versionInfo, r1.versionInfo);
      assert.equal(responses.length, 0, 'the ACK produced no extra response');
      // Unknown names get no resource.
      stream.write({ versionInfo: r2.versionInfo, responseNonce: r2.nonce, resourceNames: ['file-cert:/etc/x'], typeUrl: TYPE_URL.secret });
      const r3 = await nextResponse();
      assert.equal(r3.resources.length, 0);
    } finally {
      stream.end();
      client.close();
      await sds.close();
    }
  });
});
