import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { NetworkNamespace } from '../../src/lib/network-namespace.ts';
import { createSocketFd } from '../../src/lib/socket-fd.ts';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh, ECHO_SERVER } from './support/ambient-mesh.ts';

/**
 * `mizzen label pod NAME istio.io/dataplane-mode=none` and back, on running pods of an ambient
 * namespace, as istio-cni's informer handles it: the pod leaves ambient mode (rules removed,
 * ztunnel told DelWorkload) and comes back without a restart. Warm keep-alive connections,
 * opened by this test from inside the pods' network namespaces, show what survives: another
 * pod's HBONE connection through the same ztunnel, and the pod's own plaintext connection opened
 * while it was out (the in-pod rules catch new connections only). The pod's own connection
 * through ztunnel ends when it leaves, as Istio's ztunnel drains a removed pod immediately.
 */
const skip = await rootSkipReason();

const MESH = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: demo}
spec:
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: server, namespace: demo}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      containers: [{name: echo, command: ["node", "${ECHO_SERVER}"], ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: demo}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      serviceAccountName: client
      containers: [{name: main, command: ["sleep", "infinity"]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: demo}
spec:
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: main, command: ["sleep", "infinity"]}]
`;

/** One HTTP/1.1 keep-alive connection opened from inside a pod's network namespace (as the pod's app would). */
class WarmConnection {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private waiting: ((r: { status: number } | Error) => void) | undefined;
  ended = false;
  /** The pod-side port (what ztunnel logs as src.addr); kept after the socket closes. */
  readonly localPort: number;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    const fail = (err: Error): void => {
      this.ended = true;
      this.waiting?.(err);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async open(netns: string, ip: string, port: number): Promise<WarmConnection> {
    const home = NetworkNamespace.current();
    const pod = NetworkNamespace.open(`/var/run/netns/${netns}`);
    let fd: number;
    try {
      fd = pod.run(home, () => createSocketFd({}));
    } finally {
      pod.close();
      home.close();
    }
    const socket = new Socket({ fd, readable: true, writable: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, ip, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new WarmConnection(socket);
  }

  private parse(): void {
    const head = this.buf.indexOf('\r\n\r\n');
    if (head < 0) return;
    const headers = this.buf.subarray(0, head).toString();
    let end: number;
    if (/transfer-encoding:\s*chunked/i.test(headers)) {
      const last = this.buf.indexOf('\r\n0\r\n\r\n', head + 2);
      if (last < 0) return;
      end = last + 7;
    } else {
      end = head + 4 + Number(/content-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
      if (this.buf.length < end) return;
    }
    this.buf = this.buf.subarray(end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]);
    this.waiting?.(Number.isNaN(status) ? new Error(`not an HTTP response: ${JSON.stringify(headers.slice(0, 200))}`) : { status });
    this.waiting = undefined;
  }

  /** One request on this connection: its status, or the error that ended the connection. */
  request(timeoutMs = 15_000): Promise<number> {
    if (this.ended) return Promise.reject(new Error('connection closed'));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r.status);
      };
      this.socket.write('GET /warm HTTP/1.1\r\nHost: server.demo\r\n\r\n');
    });
  }

  /**
   * Requests back to back (one every `gapMs`) until stopped: the connection stays busy, so no idle
   * timeout (the echo app's keep-alive is Node's 5 s) can end it while the test waits on a label.
   */
  flow(gapMs = 200): { stop: () => Promise<{ answered: number; error?: string }> } {
    let running = true;
    let answered = 0;
    let error: string | undefined;
    const loop = (async () => {
      while (running) {
        try {
          const status = await this.request();
          if (status !== 200) throw new Error(`status ${status}`);
          answered++;
        } catch (err) {
          error = (err as Error).message;
          return;
        }
        await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return { answered, ...(error ? { error } : {}) };
      },
    };
  }

  async close(): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve) => this.socket.once('close', () => resolve()).end());
  }
}

describe('labelling a running pod out of ambient mode and back in', { skip, timeout: 300_000 }, () => {
  const mesh = new AmbientMesh('pod-enrollment');
  const open: WarmConnection[] = [];
  const pods: Record<string, { name: string; ip: string; netns: string }> = {};
  let vip = '';

  const accessLog = (): string[] => mesh.accessLog();
  const podJson = async (name: string): Promise<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; status: { containerStatuses?: { restartCount: number }[] } }> =>
    JSON.parse((await mesh.cli(['get', 'pod', name, '-n', 'demo', '-o', 'json'])).stdout);
  const redirection = async (name: string): Promise<string | undefined> => (await podJson(name)).metadata.annotations?.['ambient.istio.io/redirection'];
  const warm = async (from: string): Promise<WarmConnection> => {
    const c = await WarmConnection.open(pods[from].netns, vip, 80);
    open.push(c);
    return c;
  };
  /** The access-log line of a connection that has ended, by its source address. */
  const logged = (c: WarmConnection, direction: 'inbound' | 'outbound', from: string): Promise<string> =>
    waitFor(`ztunnel's ${direction} log line for ${from}:${c.localPort}`, () => accessLog().find((l) => l.includes(`src.addr=${pods[from].ip}:${c.localPort} `) && l.includes(`direction="${direction}"`)), 30_000);

  before(() => mesh.create(MESH));
  after(async () => {
    for (const c of open) c.socket.destroy();
    await mesh.down();
  });

  it('starts the namespace\'s pods in ambient mode', async () => {
    await mesh.up();
    for (const p of await mesh.pods('demo')) pods[p.app!] = { name: p.name, ip: p.ip, netns: `${mesh.prefix}-demo.${p.name}` };
    vip = JSON.parse((await mesh.cli(['get', 'svc', 'server', '-n', 'demo', '-o', 'json'])).stdout).spec.clusterIP;
    for (const app of ['client', 'other', 'server']) await waitFor(`${app} enrolled`, async () => (await redirection(pods[app].name)) === 'enabled', 60_000);
  });

  it('takes a pod out with dataplane-mode=none: no restart, its new connections plaintext, another pod\'s warm HBONE connection untouched', async () => {
    const other = await warm('other');
    const otherFlow = other.flow();
    const throughZtunnel = await warm('client');
    const clientFlow = throughZtunnel.flow();

    const r = await mesh.cli(['label', 'pod', pods.client.name, '-n', 'demo', 'istio.io/dataplane-mode=none']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pod/${pods.client.name} labeled\n`);
    await waitFor('the client pod left ambient mode', async () => (await redirection(pods.client.name)) === undefined, 60_000);
    const json = await podJson(pods.client.name);
    assert.equal(json.metadata.labels?.['istio.io/dataplane-mode'], 'none');
    assert.deepEqual(json.status.containerStatuses?.map((c) => c.restartCount), [0]);

    // the client's own connection through its ztunnel proxies ends (ztunnel's immediate drain of a removed pod)
    const cut = await clientFlow.stop();
    assert.ok(cut.answered > 0 && cut.error !== undefined, JSON.stringify(cut));
    // another pod's busy HBONE connection to the same server, through the same ztunnel, goes on
    const kept = await otherFlow.stop();
    assert.equal(kept.error, undefined);
    assert.ok(kept.answered > 0);
    assert.equal(await other.request(), 200);

    // a new connection from the client is plaintext now: captured only by the server's side (15006), no identity
    const plain = await warm('client');
    assert.equal(await plain.request(), 200);
    await plain.close();
    const line = await logged(plain, 'inbound', 'client');
    assert.doesNotMatch(line, /src\.identity=/);
    assert.ok(!accessLog().some((l) => l.includes(`src.addr=${pods.client.ip}:${plain.localPort} `) && l.includes('direction="outbound"')), 'no outbound proxy for a pod out of ambient mode');
  });

  it('brings it back by removing the label (the namespace\'s ambient applies): a connection opened while out survives, new ones are HBONE with the pod\'s identity', async () => {
    const other = await warm('other');
    const otherFlow = other.flow();
    const openWhileOut = await warm('client');
    const plainFlow = openWhileOut.flow();

    const r = await mesh.cli(['label', 'pod', pods.client.name, '-n', 'demo', 'istio.io/dataplane-mode-']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pod/${pods.client.name} unlabeled\n`);
    await waitFor('the client pod is back in ambient mode', async () => (await redirection(pods.client.name)) === 'enabled', 60_000);
    assert.deepEqual((await podJson(pods.client.name)).status.containerStatuses?.map((c) => c.restartCount), [0]);

    for (const flow of [plainFlow, otherFlow]) {
      const r = await flow.stop();
      assert.equal(r.error, undefined, 'the plaintext connection opened while out and the other pod\'s HBONE connection are not cut by re-enrollment');
      assert.ok(r.answered > 0);
    }
    assert.equal(await openWhileOut.request(), 200);
    assert.equal(await other.request(), 200);
    const hbone = await warm('client');
    assert.equal(await hbone.request(), 200);
    await hbone.close();
    const line = await logged(hbone, 'outbound', 'client');
    assert.match(line, /src\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client"/);
    assert.match(line, /dst\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/default"/);
  });

  it('refuses a Deployment pod\'s selector label (it would orphan the pod) and keeps the pod as it was', async () => {
    const r = await mesh.cli(['label', 'pod', pods.client.name, '-n', 'demo', '--overwrite', 'app=elsewhere']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /label app is in the selector of deployment\.apps\/client/);
    assert.equal((await podJson(pods.client.name)).metadata.labels?.app, 'client');
  });
});
