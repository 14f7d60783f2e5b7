import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { FileSecretProvider } from '../../src/agent/file-secret-provider.ts';
import { clusterTlsFields, SYSTEM_ROOTS_SECRET } from '../../src/control/generate/cluster-tls.ts';
import { address, staticCluster, tcpProxy } from './support/envoy-builders.ts';
import { echoOnce } from './support/echo-once.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa, type TestCa } from './support/test-pki.ts';

/**
 * DestinationRule TLS origination without `caCertificates` (Istio's VERIFY_CERTIFICATE_AT_CLIENT,
 * on by default): istiod asks the agent for `file-root:system`, the OS trust bundle, so a server
 * whose certificate no OS root signs is refused; `insecureSkipVerify` turns the check off. Here
 * the "OS bundle" is a file of the test's (the proxy's SSL_CERT_FILE), first without the server's
 * CA, then with it: the agent sees the file change and new connections verify against it.
 */
describe('SIMPLE origination verifies the server against the OS roots', () => {
  let h: Harness;
  let dir: string;
  let ca: TestCa;
  let server: tls.Server;
  let files: FileSecretProvider;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-system-roots-'));
    ca = await makeCa('site-root');
    const cert = await issue(ca, 'spiffe://example.org/site');
    server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    writeFileSync(join(dir, 'bundle.pem'), tls.rootCertificates.join('\n'));
    files = new FileSecretProvider({ systemBundle: join(dir, 'bundle.pem'), pollMs: 50 });
    h = await startHarness({ secrets: files });
    const port = (server.address() as net.AddressInfo).port;
    // as discovery generates it (its JSON durations as the test ADS server's codec takes them)
    const generated = clusterTlsFields({ mode: 'SIMPLE' }, { sni: 'site.example.org', sans: [], autoMtls: false, host: 'site.example.org' });
    const fields = JSON.parse(JSON.stringify(generated).replaceAll('"initialFetchTimeout":"0s"', '"initialFetchTimeout":{}')) as Record<string, unknown>;
    await h.push({
      clusters: [staticCluster('site', [['127.0.0.1', port]], fields)],
      listeners: [{ name: 'out', address: address('0.0.0.0', 7301), filterChains: [{ filters: [tcpProxy('site')] }] }],
    });
  });

  after(async () => {
    await h?.close();
    files?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is generated as istiod generates it: the OS roots by SDS name, none with insecureSkipVerify', () => {
    const ctx = (f: Record<string, unknown>): Record<string, unknown> => ((f.transportSocket as Record<string, unknown>).typedConfig as Record<string, Record<string, unknown>>).commonTlsContext!;
    const simple = ctx(clusterTlsFields({ mode: 'SIMPLE' }, { sni: 'a', sans: [], autoMtls: false, host: 'a.example.org' }));
    assert.deepEqual((simple.combinedValidationContext as Record<string, Record<string, unknown>>).validationContextSdsSecretConfig!.name, SYSTEM_ROOTS_SECRET);
    const withSans = ctx(clusterTlsFields({ mode: 'SIMPLE', subjectAltNames: ['a.example.org'] }, { sni: 'a', sans: [], autoMtls: false, host: 'a.example.org' }));
    assert.deepEqual((withSans.combinedValidationContext as Record<string, unknown>).defaultValidationContext, { matchSubjectAltNames: [{ exact: 'a.example.org' }] });
    const skip = ctx(clusterTlsFields({ mode: 'SIMPLE', insecureSkipVerify: true }, { sni: 'a', sans: [], autoMtls: false, host: 'a.example.org' }));
    assert.equal(skip.combinedValidationContext, undefined);
    assert.equal(skip.validationContext, undefined);
    const files = ctx(clusterTlsFields({ mode: 'SIMPLE', caCertificates: '/etc/certs/ca.pem' }, { sni: 'a', sans: [], autoMtls: false, host: 'a.example.org' }));
    assert.deepEqual(files.validationContext, { trustedCa: { filename: '/etc/certs/ca.pem' } });
  });

  it('refuses a server no OS root signs, and serves it once its CA is among the OS roots', async () => {
    assert.equal(await echoOnce(h.port('out')), '', 'the site is not trusted by the OS bundle');
    writeFileSync(join(dir, 'bundle.pem'), `${tls.rootCertificates.join('\n')}\n${ca.certPem}`);
    let reply = '';
    const deadline = Date.now() + 30_000;
    while (reply !== 'ping' && Date.now() < deadline) reply = await echoOnce(h.port('out'));
    assert.equal(reply, 'ping', 'the CA added to the bundle is trusted (the file change reached the proxy)');
  });
});
