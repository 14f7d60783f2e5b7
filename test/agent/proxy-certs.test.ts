import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cacheSecretProvider } from '../../src/agent/cache-secret-provider.ts';
import type { CertificatesJson } from '../../src/agent/certs-admin-view.ts';
import { createWorkloadAgent, type WorkloadAgent } from '../../src/agent/workload-agent.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { startCa, tempDir, type CaFixture } from '../ca/ca-fixture.ts';
import { startHarness, type Harness } from '../proxy/support/proxy-harness.ts';

describe('Proxy admin /certs', () => {
  const dir = tempDir('mizzen-certs-');
  let fx: CaFixture;
  let agent: WorkloadAgent;
  let h: Harness;

  before(async () => {
    fx = await startCa(dir.path);
    const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'default', serviceAccount: 'test' });
    agent = createWorkloadAgent({ caAddress: fx.plainAddress, token, clock: systemClock, log: silentLogger(), validitySeconds: 3 * 86400 });
    agent.start();
    await agent.ready();
    h = await startHarness({ secrets: cacheSecretProvider(agent.cache) });
  });
  after(async () => {
    await h.close();
    agent.close();
    await fx.close();
    dir.remove();
  });

  it('shows the agent certificate and root with their expiry, as Envoy does', async () => {
    const res = await fetch(`http://127.0.0.1:${h.proxy.adminPort}/certs`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as CertificatesJson;
    const [entry] = body.certificates;
    assert.deepEqual(entry.cert_chain[0].subject_alt_names, [{ uri: 'spiffe://cluster.local/ns/default/sa/test' }]);
    assert.equal(entry.cert_chain[0].days_until_expiration, '2');
    assert.equal(entry.cert_chain[0].expiration_time, new Date(agent.cache.current()!.notAfter).toISOString());
    assert.equal(entry.ca_cert.length, 1);
    assert.ok(Number(entry.ca_cert[0].days_until_expiration) > 3600);
  });
});
