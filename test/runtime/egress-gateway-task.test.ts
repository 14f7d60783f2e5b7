import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootCertificates } from 'node:tls';
import { rootSkipReason, tempDir } from './netns-test-support.ts';
import { SAMPLES, TaskMesh } from './task-mesh.ts';
import { corednsConfigMap, HTTP_GATEWAY, HTTP_VIRTUAL_SERVICE, manifests, SERVICE_ENTRY_HTTP, SERVICE_ENTRY_TLS, TLS_ORIGINATION, TLS_PASSTHROUGH } from './support/egress-task-manifests.ts';

/**
 * Istio's "Egress Gateways" page (tasks/traffic-management/egress/egress-gateway: HTTP, then
 * HTTPS passed through) and "Egress Gateways with TLS Origination"
 * (egress-gateway-tls-origination) followed with `mizzen`, their YAML unchanged. What stands in
 * for the Internet: edition.cnn.com is a server in a pod without a sidecar (namespace
 * `external`, test/runtime/support/external-web.ts: /politics over HTTP → 301 to HTTPS, HTTPS →
 * 200, a certificate for edition.cnn.com from a CA made here), its name given to every pod by
 * CoreDNS's `hosts` plugin (ConfigMap kube-system/coredns, pointing at the site's pod IP), as a
 * cluster admin would; no
 * packet leaves the mesh's namespaces. The egress gateway is what Istio's gateway chart installs
 * (`helm install istio-egressgateway istio/gateway`, ClusterIP). Deviations from the pages:
 * curl gets `--cacert` for HTTPS (the stand-in's CA is not a public one), and the
 * egress gateway's access log is checked in its own `mizzen logs` (the page's `kubectl logs -l`).
 */
const skip = (await rootSkipReason()) || (!existsSync(join(SAMPLES, 'curl/curl.yaml')) ? `Istio's samples are missing (${SAMPLES})` : false);

describe("Istio's egress gateway tasks (HTTP, TLS passthrough, TLS origination) through mizzen up", { skip, timeout: 900_000 }, () => {
  let mesh: TaskMesh;
  let dir = '';
  const curl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => mesh.exec('default', 'deploy/curl', ['curl', ...args]);
  const statuses = (headers: string): string[] => [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => m[1]!);
  /** The site's request lines. */
  const originLog = async (): Promise<string[]> => (await mesh.logs('external', 'deploy/cnn-origin')).split('\n').filter((l) => /^https? /.test(l));
  const gatewayLog = async (): Promise<string> => mesh.logs('istio-system', 'deploy/istio-egressgateway', 'istio-proxy');

  before(async () => {
    // the stand-in site's certificate, from a CA of this test (curl trusts it with --cacert)
    dir = tempDir('egress-pki');
    const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Egress test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem']);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=edition.cnn.com', '-keyout', 'cnn-key.pem', '-out', 'cnn.csr']);
    execFileSync('sh', ['-c', "printf 'subjectAltName=DNS:edition.cnn.com\\n' > ext.cnf && openssl x509 -req -in cnn.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile ext.cnf -out cnn.pem"], { cwd: dir, stdio: 'ignore' });
    // the egress gateway's OS roots plus that CA (its SSL_CERT_FILE), readable by the proxy's uid
    writeFileSync(join(dir, 'trust-bundle.pem'), `${rootCertificates.join('\n')}\n${readFileSync(join(dir, 'ca.pem'), 'utf8')}`, { mode: 0o644 });
    chmodSync(dir, 0o755);
    mesh = await TaskMesh.up('egress-task', manifests(dir));
  });

  after(async () => {
    await mesh?.down();
    if (dir) execFileSync('rm', ['-rf', dir]);
  });

  it('before you begin: curl with a sidecar, the egress gateway and the site outside the mesh are up', async () => {
    await mesh.apply(join(SAMPLES, 'curl/curl.yaml'));
    await mesh.ready('default', 'curl');
    await mesh.ready('istio-system', 'istio-egressgateway');
    await mesh.ready('external', 'cnn-origin');
    const ip = (await mesh.cli(['get', 'pods', '-n', 'external', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout.trim();
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    await mesh.apply(corednsConfigMap(ip));
  });

  it('egress gateway for HTTP traffic: mesh → egress gateway → edition.cnn.com:80 (301), then HTTPS (200)', async () => {
    await mesh.apply(SERVICE_ENTRY_HTTP);
    let last = '';
    const politics = async (): Promise<string[]> => statuses((last = (await curl(['-sSL', '--cacert', join(dir, 'ca.pem'), '-m', '10', '-o', '/dev/null', '-D', '-', 'http://edition.cnn.com/politics'])).stdout));
    await mesh.settles('curl http://edition.cnn.com/politics: 301 then 200', async () => (await politics()).join() === '301,200', 60_000, 1).catch((e) => assert.fail(`${(e as Error).message}\n${last}`));
    const before = (await originLog()).length;
    await mesh.apply(HTTP_GATEWAY);
    await mesh.apply(HTTP_VIRTUAL_SERVICE);
    await mesh.settles('the 301 comes through the egress gateway', async () => {
      if ((await politics()).join() !== '301,200') return false;
      return /"GET \/politics HTTP\/[\d.]+" 301 .*outbound\|80\|\|edition\.cnn\.com/.test(await gatewayLog());
    }, 90_000, 1).catch(async (e) => assert.fail(`${(e as Error).message}\n${last}\ngateway log:\n${await gatewayLog()}`));
    // the site saw the plain-HTTP request from the gateway, the HTTPS one directly from curl's sidecar
    const lines = (await originLog()).slice(before);
    assert.ok(lines.some((l) => /^http GET \/politics host=edition\.cnn\.com/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^https GET \/politics host=edition\.cnn\.com/.test(l)), lines.join('\n'));
    await mesh.delete(HTTP_VIRTUAL_SERVICE);
    await mesh.delete(HTTP_GATEWAY);
    await mesh.delete(SERVICE_ENTRY_HTTP);
  });

  it('egress gateway for HTTPS traffic: TLS passed through by SNI (mesh → egress gateway → edition.cnn.com:443)', async () => {
    await mesh.apply(SERVICE_ENTRY_TLS);
    let last = '';
    const politics = async (): Promise<string[]> => statuses((last = (await curl(['-sSL', '--cacert', join(dir, 'ca.pem'), '-m', '10', '-o', '/dev/null', '-D', '-', 'https://edition.cnn.com/politics'])).stdout));
    await mesh.settles('curl https://edition.cnn.com/politics: 200', async () => (await politics()).join() === '200', 60_000, 1).catch((e) => assert.fail(`${(e as Error).message}\n${last}`));
    await mesh.apply(TLS_PASSTHROUGH);
    // The page reads the gateway's TCP access log line; Mizzen's gateways log HTTP requests only, so
    // the site's own log tells where the TLS connection came from: the egress gateway's pod.
    const gatewayIp = (await mesh.cli(['get', 'pods', '-n', 'istio-system', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout.trim();
    await mesh.settles('200 through the egress gateway (the site sees the connection from the gateway pod)', async () => {
      if ((await politics()).join() !== '200') return false;
      return (await originLog()).at(-1) === `https GET /politics host=edition.cnn.com from=${gatewayIp}`;
    }, 90_000, 1).catch(async (e) => assert.fail(`${(e as Error).message}\n${last}\nsite log:\n${(await originLog()).slice(-3).join('\n')}`));
    await mesh.delete(TLS_PASSTHROUGH);
    await mesh.delete(SERVICE_ENTRY_TLS);
  });

  it('TLS origination at the egress gateway: http://edition.cnn.com/politics answers 200 over HTTPS from the site', async () => {
    await mesh.apply(SERVICE_ENTRY_HTTP);
    await mesh.apply(TLS_ORIGINATION);
    let last = '';
    const before = (await originLog()).length;
    await mesh.settles('curl http://edition.cnn.com/politics: 200 at once (no redirect), originated at the gateway', async () => {
      last = (await curl(['-sSL', '-m', '10', '-o', '/dev/null', '-D', '-', 'http://edition.cnn.com/politics'])).stdout;
      return statuses(last).join() === '200';
    }, 90_000, 1).catch(async (e) => assert.fail(`${(e as Error).message}\n${last}\ngateway log:\n${await gatewayLog()}`));
    const lines = (await originLog()).slice(before);
    assert.ok(lines.some((l) => /^https GET \/politics host=edition\.cnn\.com/.test(l)), `the site saw HTTPS: ${lines.join('\n')}`);
    assert.ok(!lines.some((l) => /^http GET/.test(l)), `no plain HTTP reached the site: ${lines.join('\n')}`);
    assert.match(await gatewayLog(), /"GET \/politics HTTP\/[\d.]+" 200 .*outbound\|443\|\|edition\.cnn\.com/);
  });
});
