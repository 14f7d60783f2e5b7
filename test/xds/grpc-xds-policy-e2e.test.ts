import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoBackend } from './support/echo-backends.ts';
import { waitFor } from './support/ads-harness.ts';
import { LineProcess } from './support/line-process.ts';

/**
 * VirtualService faults (gRFC A33), AuthorizationPolicy RBAC (A41) and xDS mTLS with the
 * file_watcher certificate provider (A29) reaching real proxyless gRPC clients and servers:
 * grpc-js-xds (client and XdsServer) and gRPC C-core (python3-grpcio, client and xDS server).
 * Certificates come from discovery's CA through `mizzen grpc-agent`, which also writes each
 * process's bootstrap, as Istio's agent does for its grpc-agent template.
 */

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function config(faultPort: number, plainPort: number, securePort: number): string {
  const service = (name: string, app: string, port: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.example.com]
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  resolution: STATIC
  location: MESH_INTERNAL
  workloadSelector: {labels: {app: ${app}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${port}}, labels: {app: ${app}}, serviceAccount: echo}
---
`;
  return `${service('fault', 'fault', faultPort)}${service('plain', 'echo-plain', plainPort)}${service('secure', 'echo-mtls', securePort)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fault, namespace: default}
spec:
  hosts: [fault.example.com]
  http:
  - match: [{headers: {x-delay: {exact: "yes"}}}]
    fault: {delay: {fixedDelay: 3s, percentage: {value: 100}}}
    route: [{destination: {host: fault.example.com}}]
  - fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 50}}}
    route: [{destination: {host: fault.example.com}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-blocked, namespace: default}
spec:
  selector: {matchLabels: {app: echo-plain}}
  action: DENY
  rules: [{when: [{key: "request.headers[x-block]", values: ["yes"]}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: secure, namespace: default}
spec:
  selector: {matchLabels: {app: echo-mtls}}
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: default}
spec: {host: secure.example.com, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: default}
spec:
  selector: {matchLabels: {app: echo-mtls}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/client"]}}]}]
`;
}

interface Impl {
  client: { cmd: string; args: string[] };
  server: (port: number, name: string) => { cmd: string; args: string[] };
}

interface RunResult {
  counts: Record<string, number>;
  errors: number;
  codes: Record<string, number>;
  lastError: string;
}

function policySuite(title: string, impl: () => Impl | string): void {
  const spawnable = impl();
  describe(title, { skip: typeof spawnable === 'string' ? spawnable : false }, () => {
    const { client: clientCmd, server: serverCmd } = spawnable as Impl;
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-grpc-policy-'));
    const procs: LineProcess[] = [];
    let backend: { port: number; close(): void } | undefined;
    let client: LineProcess;
    const env: NodeJS.ProcessEnv = { ...process.env, MIZZEN_LOG: 'warn', GRPC_XDS_EXPERIMENTAL_RBAC: 'true', GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT: 'true' };
    delete env.GRPC_XDS_BOOTSTRAP_CONFIG;

    const agent = async (xds: string, name: string, sa: string, labels: string): Promise<string> => {
      const token = join(dir, `${name}.token`);
      const minted = spawnSync(process.execPath, ['bin/mizzen.js', 'token', '--ca-dir', join(dir, 'ca'), '-n', 'default', '--service-account', sa], { encoding: 'utf8' });
      assert.equal(minted.status, 0, minted.stderr);
      writeFileSync(token, minted.stdout);
      const bootstrap = join(dir, name, 'grpc-bootstrap.json');
      const p = new LineProcess(['bin/mizzen.js', 'grpc-agent', '--discovery', xds, '--bootstrap', bootstrap, '--output-certs', join(dir, name, 'certs'), '--token-file', token, '--service-account', sa, '--pod', name, '--ip', '127.0.0.1', '--labels', labels], env);
      procs.push(p);
      assert.match(await p.nextLine(60_000), /^mizzen grpc-agent .*certificates in/);
      return bootstrap;
    };

    before(async () => {
      mkdirSync(join(dir, 'config'));
      backend = await startEchoBackend('fault-backend');
      const [plainPort, securePort] = [await freePort(), await freePort()];
      writeFileSync(join(dir, 'config', 'mesh.yaml'), config(backend.port, plainPort, securePort));
      const discovery = new LineProcess(['bin/mizzen.js', 'discovery', '--config', join(dir, 'config'), '--ca-dir', join(dir, 'ca'), '--grpc-addr', '127.0.0.1:0', '--secure-grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], { ...env, PILOT_DEBOUNCE_AFTER: '50ms' });
      procs.push(discovery);
      const m = /xDS (\S+?),/.exec(await discovery.nextLine());
      assert.ok(m, 'discovery banner');
      const xds = m[1]!.replace(/^.*\/\//, '');
      const [clientBoot, plainBoot, secureBoot] = [
        await agent(xds, 'client-0', 'client', 'app=client'),
        await agent(xds, 'echo-plain-0', 'echo', 'app=echo-plain'),
        await agent(xds, 'echo-mtls-0', 'echo', 'app=echo-mtls'),
      ];
      for (const [port, name, boot] of [[plainPort, 'echo-plain', plainBoot], [securePort, 'echo-mtls', secureBoot]] as const) {
        const s = serverCmd(port, name);
        const p = new LineProcess(s.args, { ...env, GRPC_XDS_BOOTSTRAP: boot }, s.cmd);
        procs.push(p);
        assert.match(await p.nextLine(60_000), /^listening/);
      }
      client = new LineProcess([...clientCmd.args, 'xds:///plain.example.com:7070'], { ...env, GRPC_XDS_BOOTSTRAP: clientBoot, MIZZEN_XDS_CREDS: '1' }, clientCmd.cmd);
      procs.push(client);
    });

    after(async () => {
      client?.child.stdin?.end();
      for (const p of procs.reverse()) await p.stop();
      backend?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const run = async (cmd: { calls: number; target: string; header?: string; deadlineMs?: number; creds?: string }): Promise<RunResult> => {
      client.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      return JSON.parse(await client.nextLine(90_000)) as RunResult;
    };
    const until = async (cmd: Parameters<typeof run>[0], ok: (r: RunResult) => boolean, what: string): Promise<RunResult> => {
      let last: RunResult | undefined;
      await waitFor(async () => ok((last = await run(cmd))), 30_000, `${what} (last: ${JSON.stringify(last)})`);
      return last!;
    };

    it('aborts about half of 200 calls with the VirtualService fault status (UNAVAILABLE)', async () => {
      const r = await run({ calls: 200, target: 'xds:///fault.example.com:7070' });
      const aborted = r.codes.UNAVAILABLE ?? 0;
      assert.equal(r.errors, aborted, `only aborts expected: ${JSON.stringify(r)}`);
      assert.ok(aborted >= 65 && aborted <= 135, `aborted ${aborted}/200: ${JSON.stringify(r)}`);
      assert.equal(r.counts['fault-backend'], 200 - aborted);
    });

    it('ends calls delayed past their deadline with DEADLINE_EXCEEDED', async () => {
      const r = await run({ calls: 3, target: 'xds:///fault.example.com:7070', header: 'x-delay', deadlineMs: 800 });
      assert.deepEqual(r.codes, { DEADLINE_EXCEEDED: 3 }, JSON.stringify(r));
    });

    it('denies with PERMISSION_DENIED what a DENY AuthorizationPolicy matches on the xDS server, and serves the rest', async () => {
      await until({ calls: 5, target: 'xds:///plain.example.com:7070' }, (r) => r.counts['echo-plain'] === 5, 'the plaintext server answering');
      const denied = await run({ calls: 10, target: 'xds:///plain.example.com:7070', header: 'x-block' });
      assert.deepEqual(denied.codes, { PERMISSION_DENIED: 10 }, JSON.stringify(denied));
    });

    it('calls a STRICT server over mTLS with certificates from the CA, its ALLOW policy matching the client principal', async () => {
      const r = await until({ calls: 10, target: 'xds:///secure.example.com:7070' }, (x) => x.counts['echo-mtls'] === 10, 'the mTLS server answering');
      assert.equal(r.errors, 0);
      const plaintext = await run({ calls: 3, target: 'xds:///secure.example.com:7070', creds: 'insecure', deadlineMs: 3000 });
      assert.equal(plaintext.errors, 3, `a plaintext client must not get through: ${JSON.stringify(plaintext)}`);
    });
  });
}

policySuite('proxyless gRPC policy with @grpc/grpc-js-xds (client and XdsServer)', () => ({
  client: { cmd: process.execPath, args: ['test/xds/support/xds-echo-client.ts'] },
  server: (port, name) => ({ cmd: process.execPath, args: ['test/xds/support/xds-echo-server.ts', String(port), name] }),
}));

const CCORE_PYTHON = '/usr/bin/python3';
policySuite('proxyless gRPC policy with gRPC C-core (python3-grpcio client and xDS server)', () => {
  const probe = spawnSync(CCORE_PYTHON, ['-c', 'import grpc'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return `${CCORE_PYTHON} with the grpc module (Debian python3-grpcio) is not installed`;
  return {
    client: { cmd: CCORE_PYTHON, args: ['test/xds/support/ccore_echo_client.py'] },
    server: (port, name) => ({ cmd: CCORE_PYTHON, args: ['test/xds/support/ccore_echo_server.py', String(port), name] }),
  };
});
