import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoBackend } from './support/echo-backends.ts';
import { waitFor } from './support/ads-harness.ts';
import { LineProcess } from './support/line-process.ts';

const HOST = 'echo.example.com';

function config(dir: string, p1: number, p2: number, weights: [number, number]): void {
  writeFileSync(
    join(dir, 'service.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec:
  hosts: [${HOST}]
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  resolution: STATIC
  location: MESH_INTERNAL
  workloadSelector: {labels: {app: echo}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${p1}}, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v2, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${p2}}, labels: {app: echo, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${HOST}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
  );
  writeVs(dir, weights);
}

function writeVs(dir: string, [w1, w2]: [number, number]): void {
  writeFileSync(
    join(dir, 'virtual-service.yaml'),
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [${HOST}]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: ${HOST}, subset: v2}}]
  - route:
    - {destination: {host: ${HOST}, subset: v1}, weight: ${w1}}
    - {destination: {host: ${HOST}, subset: v2}, weight: ${w2}}
`,
  );
}

function clientSuite(title: string, command: () => { cmd: string; args: string[] } | string): void {
  const spawnable = command();
  const skip = typeof spawnable === 'string' ? spawnable : false;
  describe(title, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-grpc-e2e-'));
    const backends: { port: number; close(): void }[] = [];
    let discovery: LineProcess;
    let client: LineProcess;

    before(async () => {
      backends.push(await startEchoBackend('v1'), await startEchoBackend('v2'));
      config(dir, backends[0]!.port, backends[1]!.port, [80, 20]);
      discovery = new LineProcess(['bin/mizzen.js', 'discovery', '--config', dir, '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
        ...process.env,
        PILOT_DEBOUNCE_AFTER: '50ms',
        MIZZEN_LOG: 'warn',
      });
      const banner = await discovery.nextLine();
      const m = /xDS (\S+?),.*debug (\S+)/.exec(banner);
      assert.ok(m, `unexpected banner: ${banner}`);
      const bootstrap = {
        xds_servers: [{ server_uri: m[1], channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
        node: { id: 'sidecar~127.0.0.1~client-1.default~default.svc.cluster.local', metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' }, locality: {} },
      };
      const { cmd, args } = spawnable as { cmd: string; args: string[] };
      client = new LineProcess([...args, `xds:///${HOST}:7070`], {
        ...process.env,
        GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap),
      }, cmd);
    });

    after(async () => {
      client?.child.stdin?.end();
      await client?.stop();
      await discovery?.stop();
      for (const b of backends) b.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const run = async (calls: number, header?: string): Promise<{ counts: Record<string, number>; errors: number; lastError: string }> => {
      client.child.stdin!.write(`${JSON.stringify({ calls, ...(header ? { header } : {}) })}\n`);
      return JSON.parse(await client.nextLine(60_000)) as { counts: Record<string, number>; errors: number; lastError: string };
    };

    it('splits calls about 80/20 by the VirtualService weights', async () => {
      const r = await run(200);
      assert.equal(r.errors, 0, r.lastError);
      const v1 = r.counts.v1 ?? 0;
      assert.ok(v1 >= 135 && v1 <= 185, `v1 got ${v1}/200: ${JSON.stringify(r.counts)}`);
    });

    it('sends every call with the matching header to its subset', async () => {
      const r = await run(50, 'x-canary');
      assert.deepEqual(r.counts, { v2: 50 });
    });

    it('follows a file edit to 50/50 without restarting anything', async () => {
      writeVs(dir, [50, 50]);
      let last: Record<string, number> = {};
      await waitFor(
        async () => {
          const r = await run(200);
          last = r.counts;
          const v1 = r.counts.v1 ?? 0;
          return r.errors === 0 && v1 >= 70 && v1 <= 130;
        },
        30_000,
        `a 50/50 split (last: ${JSON.stringify(last)})`,
      );
    });
  });
}

clientSuite('mizzen discovery with a real @grpc/grpc-js-xds client', () => ({ cmd: process.execPath, args: ['test/xds/support/xds-echo-client.ts'] }));

// gRPC C-core: Debian's python3-grpcio (the system Python; a pyenv python usually lacks it).
const CCORE_PYTHON = '/usr/bin/python3';
clientSuite('mizzen discovery with a real gRPC C-core client (python3-grpcio)', () => {
  const probe = spawnSync(CCORE_PYTHON, ['-c', 'import grpc'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return `${CCORE_PYTHON} with the grpc module (Debian python3-grpcio) is not installed`;
  return { cmd: CCORE_PYTHON, args: ['test/xds/support/ccore_echo_client.py'] };
});
