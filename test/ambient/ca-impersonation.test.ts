import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaClient } from '../../src/agent/ca-client.ts';
import { createWorkloadCsr, generateWorkloadKey } from '../../src/agent/workload-key.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { certificateSans } from '../../src/lib/certificate-info.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';

/**
 * CreateCertificate with `ImpersonatedIdentity` (how ztunnel gets its pods' certificates): allowed
 * for a trusted node account (istio-system/ztunnel) whose token is bound to its pod, for
 * identities that run on that pod's node only.
 */
const pod = (ns: string, name: string, sa: string, node: string, uid = `uid-${name}`): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, uid: ${uid}}
spec: {serviceAccountName: ${sa}, nodeName: ${node}, containers: [{name: c, image: i}]}
status: {podIP: 10.244.9.${Math.floor(Math.random() * 200) + 2}, phase: Running}
`;

describe('CA: node proxies requesting their pods\' identities', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-imp-'));
  let d: Discovery;
  let client: CaClient;
  let keyPem: import('node:crypto').KeyObject;

  before(async () => {
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'pods.yaml'), [pod('istio-system', 'ztunnel-abc', 'ztunnel', 'n1'), pod('demo', 'a-0', 'a', 'n1'), pod('demo', 'b-0', 'b', 'n2')].join('---\n'));
    d = new Discovery({
      configPaths: [join(dir, 'config')],
      caDir: join(dir, 'ca'),
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 200,
      clock: systemClock,
      logs: createLogFactory({ levels: 'silent' }),
      rescanIntervalMs: 0,
    });
    const addrs = await d.start();
    client = new CaClient({ address: addrs.grpc });
    keyPem = loadOrCreateTokenKey(join(dir, 'ca')).privateKey;
  });
  after(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (token: string, identity: string): Promise<string> => {
    const key = generateWorkloadKey();
    const chain = await client.createCertificate(createWorkloadCsr(key, identity), 3600, { token, metadata: { ImpersonatedIdentity: identity } });
    return certificateSans(new X509Certificate(chain[0]!)).uris[0]!;
  };

  it('issues the impersonated identity to ztunnel for a pod on its node', async () => {
    const token = await mintServiceAccountToken({ key: keyPem, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: 'ztunnel-abc', uid: 'uid-ztunnel-abc' } });
    assert.equal(await ask(token, 'spiffe://cluster.local/ns/demo/sa/a'), 'spiffe://cluster.local/ns/demo/sa/a');
  });

  it('refuses identities of other nodes, untrusted callers, unbound tokens and stale pod uids', async () => {
    const ztunnel = await mintServiceAccountToken({ key: keyPem, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: 'ztunnel-abc', uid: 'uid-ztunnel-abc' } });
    await assert.rejects(ask(ztunnel, 'spiffe://cluster.local/ns/demo/sa/b'), /UNAUTHENTICATED: request impersonation authentication failure/);
    const app = await mintServiceAccountToken({ key: keyPem, namespace: 'demo', serviceAccount: 'a', pod: { name: 'a-0' } });
    await assert.rejects(ask(app, 'spiffe://cluster.local/ns/demo/sa/a'), /impersonation authentication failure/);
    const unbound = await mintServiceAccountToken({ key: keyPem, namespace: 'istio-system', serviceAccount: 'ztunnel' });
    await assert.rejects(ask(unbound, 'spiffe://cluster.local/ns/demo/sa/a'), /impersonation authentication failure/);
    const stale = await mintServiceAccountToken({ key: keyPem, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: 'ztunnel-abc', uid: 'old' } });
    await assert.rejects(ask(stale, 'spiffe://cluster.local/ns/demo/sa/a'), /impersonation authentication failure/);
  });
});
