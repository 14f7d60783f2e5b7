import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certsAdminView } from '../../src/agent/certs-admin-view.ts';
import { sdsSecretResource, sdsSecretResources } from '../../src/agent/sds-secrets.ts';
import { createWorkloadAgent } from '../../src/agent/workload-agent.ts';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { messageNameOf, TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { parseCertificateChain } from '../../src/lib/certificate-info.ts';
import { createPrivateKey } from 'node:crypto';
import { startCa, tempDir, type CaFixture } from '../ca/ca-fixture.ts';

describe('Workload agent and SDS secrets', () => {
  const dir = tempDir('mizzen-sds-');
  let fx: CaFixture;
  before(async () => {
    fx = await startCa(dir.path);
  });
  after(async () => {
    await fx.close();
    dir.remove();
  });

  it('gets a certificate with a token file over TLS and serves it as Envoy Secrets default and ROOTCA', async () => {
    const tokenFile = join(dir.path, 'istio-token');
    writeFileSync(tokenFile, await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'default', serviceAccount: 'reviews' }) + '\n');
    const agent = createWorkloadAgent({
      caAddress: fx.tlsAddress,
      caRootCertPem: fx.ca.rootCertPem(),
      tokenFile,
      clock: systemClock,
      log: silentLogger(),
    });
    try {
      agent.start();
      const secret = await agent.ready();
      assert.equal(secret.identity, 'spiffe://cluster.local/ns/default/sa/reviews');
      assert.equal(secret.notAfter - secret.notBefore, 24 * 3600_000, 'the CA default lifetime');
      assert.deepEqual(agent.cache.expiry(), { notBefore: secret.notBefore, notAfter: secret.notAfter });

      const resources = sdsSecretResources(agent.cache.current());
      assert.deepEqual(resources.map((r) => r.name), ['default', 'ROOTCA']);
      const root = loadEnvoyRoot();
      const Secret = root.lookupType(messageNameOf(TYPE_URL.secret));
      for (const json of resources) assert.equal(Secret.verify(json), null, `${json.name} is a valid Envoy Secret`);
      const decoded = Secret.toObject(Secret.decode(Secret.encode(Secret.fromObject(resources[0])).finish()), { bytes: String }) as {
        tlsCertificate: { certificateChain: { inlineBytes: string }; privateKey: { inlineBytes: string } };
      };
      const chainPem = Buffer.from(decoded.tlsCertificate.certificateChain.inlineBytes, 'base64').toString();
      const keyPem = Buffer.from(decoded.tlsCertificate.privateKey.inlineBytes, 'base64').toString();
      const [leaf] = parseCertificateChain(chainPem);
      assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), 'chain and key belong together');
      const rootJson = Secret.toObject(Secret.decode(Secret.encode(Secret.fromObject(resources[1])).finish()), { bytes: String }) as {
        validationContext: { trustedCa: { inlineBytes: string } };
      };
      assert.equal(Buffer.from(rootJson.validationContext.trustedCa.inlineBytes, 'base64').toString().trim(), fx.ca.rootCertPem().trim());
      assert.equal(sdsSecretResource(secret, 'ROOTCA')?.name, 'ROOTCA');
      assert.equal(sdsSecretResource(secret, 'file-cert:/x'), undefined);
      assert.deepEqual(sdsSecretResources(undefined), []);

      // Certificate expiry as Envoy's admin /certs shows it.
      const view = certsAdminView(secret, secret.notBefore);
      const [leafView] = view.certificates[0].cert_chain;
      assert.deepEqual(leafView.subject_alt_names, [{ uri: 'spiffe://cluster.local/ns/default/sa/reviews' }]);
      assert.equal(leafView.days_until_expiration, '1');
      assert.equal(leafView.expiration_time, new Date(secret.notAfter).toISOString());
      assert.equal(view.certificates[0].ca_cert.length, 1);
    } finally {
      agent.close();
    }
  });
});

describe('cacheSecretProvider', () => {
  it('exposes default and ROOTCA and reports rotations, not the replay on subscribe', async () => {
    const { SecretCache } = await import('../../src/agent/secret-cache.ts');
    const { cacheSecretProvider } = await import('../../src/agent/cache-secret-provider.ts');
    const cache = new SecretCache();
    const provider = cacheSecretProvider(cache);
    const changes: string[] = [];
    const unsubscribe = provider.onChange((n) => changes.push(n));
    assert.equal(provider.getSecret('default'), undefined);
    const s = { identity: 'spiffe://td/ns/a/sa/b', certChainPem: 'CHAIN', privateKeyPem: 'KEY', rootCertPem: 'ROOT', notBefore: 0, notAfter: 1 };
    cache.update(s);
    assert.deepEqual(changes, ['default', 'ROOTCA']);
    assert.deepEqual(provider.getSecret('default'), { kind: 'certificate', certChain: 'CHAIN', privateKey: 'KEY' });
    assert.deepEqual(provider.getSecret('ROOTCA'), { kind: 'validation', trustedCa: 'ROOT' });
    assert.equal(provider.getSecret('other'), undefined);
    const late: string[] = [];
    provider.onChange((n) => late.push(n));
    assert.deepEqual(late, [], 'no replay');
    unsubscribe();
    cache.update({ ...s, certChainPem: 'CHAIN2' });
    assert.deepEqual(changes, ['default', 'ROOTCA']);
    assert.deepEqual(late, ['default', 'ROOTCA']);
  });
});
