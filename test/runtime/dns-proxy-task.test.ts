import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason } from './netns-test-support.ts';
import { injectedNamespace, meshConfigMap, SAMPLES, TaskMesh } from './task-mesh.ts';

/**
 * Istio's "DNS Proxying" page (ops/configuration/traffic-management/dns-proxy) followed with
 * `mizzen`: the mesh's defaultConfig turns on ISTIO_META_DNS_CAPTURE and
 * ISTIO_META_DNS_AUTO_ALLOCATE, curl runs with a sidecar, and its DNS (port 53) is captured to
 * the sidecar's DNS proxy on 15053, which answers from discovery's NDS name table:
 * a ServiceEntry's address (198.51.100.1), an auto-allocated one (240.240.0.0/16) for a
 * ServiceEntry without addresses, and two TCP ServiceEntries on one port each at their own
 * listener. Beyond the page, traffic by name: a TCP ServiceEntry without addresses for an
 * external name (`echo.external.test`, the tcp-echo server outside the mesh behind it) is
 * reached by its name from the app, through the DNS proxy and the auto-allocated listener.
 */
const skip = (await rootSkipReason()) || (!existsSync(join(SAMPLES, 'tcp-echo/tcp-echo.yaml')) ? `Istio's samples are missing (${SAMPLES})` : false);

const MESH = `defaultConfig:
  proxyMetadata:
    # Enable basic DNS proxying
    ISTIO_META_DNS_CAPTURE: "true"
    # Enable automatic address allocation, optional
    ISTIO_META_DNS_AUTO_ALLOCATE: "true"
`;

const namespace = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

describe("Istio's DNS Proxying task through mizzen up", { skip, timeout: 600_000 }, () => {
  let mesh: TaskMesh;
  const curl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => mesh.exec('default', 'deploy/curl', ['curl', ...args]);

  before(async () => {
    mesh = await TaskMesh.up('dns-proxy-task', { 'mesh.yaml': meshConfigMap(MESH), 'default.yaml': injectedNamespace('default') });
  });

  after(async () => {
    await mesh?.down();
  });

  it('deploys curl with a sidecar whose DNS proxy listens on 15053', async () => {
    await mesh.apply(join(SAMPLES, 'curl/curl.yaml'));
    await mesh.ready('default', 'curl');
    const logs = await mesh.logs('default', 'deploy/curl', 'istio-proxy');
    assert.match(logs, /DNS 127\.0\.0\.1:15053/);
  });

  it('DNS capture in action: address.internal resolves to the ServiceEntry address', async () => {
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-address
spec:
  addresses:
  - 198.51.100.1
  hosts:
  - address.internal
  ports:
  - name: http
    number: 80
    protocol: HTTP
`);
    let last = '';
    await mesh.settles('curl -v address.internal tries 198.51.100.1', async () => {
      last = (await curl(['-sS', '-v', '-m', '5', 'address.internal'])).stderr;
      return /Trying 198\.51\.100\.1:80/.test(last);
    }, 60_000, 1).catch((err) => assert.fail(`${(err as Error).message}\nlast curl -v: ${last}`));
  });

  it('address auto allocation: auto.internal (no addresses) resolves to a 240.240.0.0/16 address', async () => {
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-auto
spec:
  hosts:
  - auto.internal
  ports:
  - name: http
    number: 80
    protocol: HTTP
  resolution: DNS
`);
    let last = '';
    await mesh.settles('curl -v auto.internal tries 240.240.x.y', async () => {
      last = (await curl(['-sS', '-v', '-m', '5', 'auto.internal'])).stderr;
      return /Trying 240\.240\.\d+\.\d+:80/.test(last);
    }, 60_000, 1).catch((err) => assert.fail(`${(err as Error).message}\nlast curl -v: ${last}`));
    // a name outside the mesh is forwarded upstream (none reachable here): an error, not an address
    const r = await curl(['-sS', '-m', '5', 'nowhere.invalid']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /resolve/i);
  });

  it('external TCP services without VIPs: two ServiceEntries on port 9000 get a listener each', async () => {
    await mesh.apply(namespace('external-1'));
    await mesh.apply(namespace('external-2'));
    await mesh.apply(join(SAMPLES, 'tcp-echo/tcp-echo.yaml'), 'external-1');
    await mesh.apply(join(SAMPLES, 'tcp-echo/tcp-echo.yaml'), 'external-2');
    await mesh.ready('external-1', 'tcp-echo');
    await mesh.ready('external-2', 'tcp-echo');
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-1
spec:
  hosts:
  - tcp-echo.external-1.svc.cluster.local
  ports:
  - name: external-svc-1
    number: 9000
    protocol: TCP
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc-2
spec:
  hosts:
  - tcp-echo.external-2.svc.cluster.local
  ports:
  - name: external-svc-2
    number: 9000
    protocol: TCP
  resolution: DNS
`);
    let rows: string[] = [];
    await mesh.settles('istioctl pc listeners deploy/curl | grep tcp-echo: two 240.240 listeners', async () => {
      const out = (await mesh.cli(['proxy-config', 'listeners', 'deploy/curl'])).stdout;
      rows = out.split('\n').filter((l) => l.includes('tcp-echo'));
      return rows.length === 2 && rows.every((l) => /^240\.240\.\d+\.\d+\s+9000\s/.test(l)) && rows.some((l) => l.includes('external-1')) && rows.some((l) => l.includes('external-2'));
    }, 60_000, 1).catch((err) => assert.fail(`${(err as Error).message}\n${rows.join('\n')}`));
  });

  it('beyond the page: a TCP ServiceEntry without addresses for an external name is reached by that name', async () => {
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-echo
spec:
  hosts:
  - echo.external.test
  location: MESH_EXTERNAL
  ports:
  - name: tcp
    number: 9000
    protocol: TCP
  resolution: DNS
  endpoints:
  - address: tcp-echo.external-2.svc.cluster.local
`);
    const script = "const s=require('net').connect(9000,'echo.external.test',()=>{process.stdout.write('connected '+s.remoteAddress+'\\n');s.end('world\\n')});s.on('data',d=>process.stdout.write(d));s.on('error',e=>{console.error(e.message);process.exit(1)})";
    let last = { code: -1, stdout: '', stderr: '' };
    await mesh.settles('echo.external.test:9000 answers through the DNS proxy and the auto-allocated listener', async () => {
      last = await mesh.exec('default', 'deploy/curl', [process.execPath, '-e', script]);
      return /^connected 240\.240\.\d+\.\d+$/m.test(last.stdout) && /^hello world$/m.test(last.stdout);
    }, 60_000, 1).catch((err) => assert.fail(`${(err as Error).message}\nlast: ${JSON.stringify(last)}`));
  });
});
