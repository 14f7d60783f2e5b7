import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientLab, LAB_NODE, type LabPod } from './support/ambient-lab.ts';
import { IstioZtunnelNode, istioZtunnelSkipReason } from './support/istio-ztunnel-node.ts';

/**
 * Our ztunnel and Istio's (the Rust binary built from its source by scripts/ztunnel.sh; CI has no
 * copy of that source, so this skips there) as the ztunnels of two nodes on one pod network:
 * `mizzen proxy ztunnel` serves node A's pods, Istio's ztunnel node B's, both on our discovery's
 * workload API and CA and each on its node's ZDS socket. Connections cross A→B and B→A over HBONE
 * with each pod's own SPIFFE identity under STRICT, each server behind an L4 AuthorizationPolicy
 * that only the other node's client passes, and both ztunnels report them in metrics and access
 * logs.
 */
const skip = (await rootSkipReason()) || istioZtunnelSkipReason();
const NODE_B = 'node-b';
const id = (sa: string): string => `spiffe://cluster.local/ns/demo/sa/${sa}`;
/** An access log line's field names with the byte counts (addresses, times and direction differ by side). */
const logFields = (line: string): string[] => [...line.matchAll(/ ([a-z_.]+)=/g)].map((m) => m[1]!).filter((k) => k !== 'direction').concat(/bytes_sent=\d+ bytes_recv=\d+/.exec(line)?.[0] ?? 'no bytes');
/** server's L4 policy: ALLOW only client's principal. */
const only = (server: string, client: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${server}, namespace: demo}
spec:
  selector: {matchLabels: {app: ${server}}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/${client}]}}]}]
`;
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe("our ztunnel ↔ Istio's ztunnel on two nodes (HBONE, STRICT, L4 authorization)", { skip, timeout: 300_000 }, () => {
  const lab = new AmbientLab();
  const istio = new IstioZtunnelNode(lab, NODE_B);
  const pods: Record<string, LabPod> = {};

  before(async () => {
    const svc = (name: string, vip: string): string => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  clusterIP: ${vip}
  selector: {app: ${name}}
  ports: [{name: tcp-echo, port: 80, targetPort: 8080}]
`;
    await lab.start([
      `apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
`,
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`,
      svc('server-a', lab.vip(10)),
      svc('server-b', lab.vip(11)),
    ].join('---\n'));
    lab.write('authz.yaml', [only('server-a', 'client-b'), only('server-b', 'client-a')].join('---\n'));
    await lab.startZtunnel();
    await istio.start();
    for (const name of ['client-a', 'other-a', 'server-a']) pods[name] = await lab.addPod(name);
    for (const name of ['client-b', 'other-b', 'server-b']) pods[name] = await lab.addPod(name, { node: NODE_B });
    pods.outside = await lab.addPod('outside', { enrolled: false });
    await lab.app(pods['server-a']!, 8080);
    await lab.app(pods['server-b']!, 8080);
  });

  after(async () => {
    if (process.env.MIZZEN_LAB_DEBUG) process.stderr.write(`--- ours\n${lab.ztunnelOut}\n${readFileSync(lab.accessLog, 'utf8')}\n--- Istio's\n${istio.output}\n${await istio.configDump()}\n--- our metrics\n${await lab.metrics()}\n--- Istio's metrics\n${await istio.metrics()}\n`);
    await istio.close();
    await lab.close();
  });

  const reaches = async (from: string, host: string, marker: string): Promise<string | undefined> => {
    const r = await lab.call(pods[from]!, host, 80, `${marker}\n`, 3000).catch(() => '');
    return r.includes(marker) ? r : undefined;
  };

  it("Istio's ztunnel accepts our workload API: both nodes' workloads, the services, the policies, its pods' certificates", async () => {
    const dump = await waitFor("Istio's config_dump with both nodes and its certificates", async () => {
      const text = await istio.configDump();
      if (!text.includes('Kubernetes//Pod/demo/server-a') || !text.includes('server-b.demo.svc.cluster.local')) return undefined;
      const available = (JSON.parse(text) as { certificates: { identity: string; state: string }[] }).certificates.filter((c) => c.state === 'Available').map((c) => c.identity);
      return ['client-b', 'other-b', 'server-b'].every((sa) => available.includes(id(sa))) ? text : undefined;
    }, 60_000);
    const d = JSON.parse(dump) as { workloads: { name: string; node: string; protocol: string; serviceAccount: string }[]; services: { hostname: string }[]; policies: { name: string; namespace: string; action: string }[]; certificates: { identity: string; state: string }[] };
    const workload = (name: string) => d.workloads.find((w) => w.name === name);
    assert.equal(workload('server-a')?.node, LAB_NODE);
    assert.equal(workload('server-b')?.node, NODE_B);
    assert.equal(workload('server-a')?.protocol, 'HBONE');
    assert.ok(d.services.some((s) => s.hostname === 'server-a.demo.svc.cluster.local'));
    assert.ok(d.policies.some((p) => p.name === 'server-b' && p.namespace === 'demo' && p.action === 'Allow'), JSON.stringify(d.policies));
    const certs = d.certificates.filter((c) => c.state === 'Available').map((c) => c.identity);
    for (const sa of ['client-b', 'other-b', 'server-b']) assert.ok(certs.includes(id(sa)), `a certificate for ${sa}: ${JSON.stringify(d.certificates.map((c) => [c.identity, c.state]))}`);
  });

  it('A → B: our ztunnel originates HBONE as client-a, Istio\'s terminates it, authorizes client-a and keeps the source address', async () => {
    const reply = await waitFor('client-a → server-b through both ztunnels', () => reaches('client-a', lab.vip(11), 'a-to-b'), 60_000);
    assert.match(reply, new RegExp(`^remote=${esc(pods['client-a']!.ip)}\\n`), 'server-b sees client-a\'s own address');
    const ours = await waitFor('our outbound access log line', () => readFileSync(lab.accessLog, 'utf8').split('\n').find((l) => !l.includes(' error=') && l.includes('direction="outbound"') && l.includes(`dst.identity="${id('server-b')}"`)));
    assert.match(ours, new RegExp(`src\\.identity="${esc(id('client-a'))}".*dst\\.addr=${esc(pods['server-b']!.ip)}:15008`));
    assert.match(await lab.metrics(), new RegExp(`istio_tcp_connections_opened_total\\{reporter="source"[^}]*source_principal="${esc(id('client-a'))}"[^}]*destination_principal="${esc(id('server-b'))}"[^}]*connection_security_policy="mutual_tls"`));
    const theirs = await waitFor("Istio's inbound access log line", () => istio.output.split('\n').find((l) => !l.includes(' error=') && l.includes('direction="inbound"') && l.includes(`src.identity="${id('client-a')}"`)));
    assert.match(theirs, new RegExp(`dst\\.identity="${esc(id('server-b'))}"`));
    assert.match(await istio.metrics(), new RegExp(`istio_tcp_connections_opened_total\\{[^}]*reporter="destination"[^}]*source_principal="${esc(id('client-a'))}"[^}]*destination_principal="${esc(id('server-b'))}"`));
  });

  it("A → B: Istio's ztunnel refuses another identity from our ztunnel (its L4 policy)", async () => {
    await waitFor('other-a refused by server-b\'s policy', async () => (await reaches('other-a', lab.vip(11), 'other-a-to-b')) === undefined, 30_000);
    await waitFor("Istio's ztunnel to log its policy rejection of other-a", () => new RegExp(`src\\.identity="${esc(id('other-a'))}"[^\\n]*error="connection closed due to policy rejection: allow policies exist, but none allowed"`).test(istio.output));
    // at the source our ztunnel reads Istio's 401 as Istio's ztunnel reads ours: a connection failure, in its words
    const ours = await waitFor('our outbound line for other-a', () => readFileSync(lab.accessLog, 'utf8').split('\n').find((l) => l.includes('direction="outbound"') && l.includes(`src.identity="${id('other-a')}"`)));
    assert.match(ours, /error="http status: 401 Unauthorized"/);
    assert.match(await lab.metrics(), new RegExp(`istio_tcp_connections_failed_total\\{reporter="source"[^}]*source_principal="${esc(id('other-a'))}"[^}]*response_flags="CONNECT"`));
    assert.ok(await reaches('client-a', lab.vip(11), 'a-still-allowed'), 'client-a still gets through');
  });

  it("B → A: Istio's ztunnel originates HBONE as client-b, ours terminates it, authorizes client-b and keeps the source address", async () => {
    const reply = await waitFor('client-b → server-a through both ztunnels', () => reaches('client-b', lab.vip(10), 'b-to-a'), 60_000);
    assert.match(reply, new RegExp(`^remote=${esc(pods['client-b']!.ip)}\\n`), 'server-a sees client-b\'s own address');
    const ours = await waitFor('our inbound access log line', () => readFileSync(lab.accessLog, 'utf8').split('\n').find((l) => !l.includes(' error=') && l.includes('direction="inbound"') && l.includes(`src.identity="${id('client-b')}"`)));
    assert.match(ours, new RegExp(`dst\\.identity="${esc(id('server-a'))}"`));
    assert.match(await lab.metrics(), new RegExp(`istio_tcp_connections_opened_total\\{reporter="destination"[^}]*source_principal="${esc(id('client-b'))}"[^}]*destination_principal="${esc(id('server-a'))}"[^}]*connection_security_policy="mutual_tls"`));
    const theirs = await waitFor("Istio's outbound access log line", () => istio.output.split('\n').find((l) => !l.includes(' error=') && l.includes('direction="outbound"') && l.includes(`dst.identity="${id('server-a')}"`)));
    assert.match(theirs, new RegExp(`src\\.identity="${esc(id('client-b'))}"`));
    assert.match(await istio.metrics(), new RegExp(`istio_tcp_connections_opened_total\\{[^}]*reporter="source"[^}]*source_principal="${esc(id('client-b'))}"[^}]*destination_principal="${esc(id('server-a'))}"`));
  });

  it("both ztunnels write the same access log line for the same exchange (fields, and bytes as ztunnel counts them per direction)", () => {
    const line = (log: string, direction: string, client: string): string => log.split('\n').find((l) => !l.includes(' error=') && l.includes(`direction="${direction}"`) && l.includes(`src.identity="${id(client)}"`)) ?? `no ${direction} line from ${client}`;
    const ourLog = readFileSync(lab.accessLog, 'utf8');
    // client-a and client-b send the same bytes and get the same number back (addresses of one length)
    assert.deepEqual(logFields(line(ourLog, 'outbound', 'client-a')), logFields(line(istio.output, 'outbound', 'client-b')));
    assert.deepEqual(logFields(line(ourLog, 'inbound', 'client-b')), logFields(line(istio.output, 'inbound', 'client-a')));
  });

  it("B → A: our ztunnel refuses another identity from Istio's (our L4 policy)", async () => {
    await waitFor('other-b refused by server-a\'s policy', async () => (await reaches('other-b', lab.vip(10), 'other-b-to-a')) === undefined, 30_000);
    await waitFor('our DENY in the metrics', async () => new RegExp(`istio_tcp_connections_closed_total\\{reporter="destination"[^}]*source_principal="${esc(id('other-b'))}"[^}]*response_flags="DENY"`).test(await lab.metrics()));
    await waitFor("Istio's ztunnel to read our refusal as its own (401)", () => new RegExp(`src\\.identity="${esc(id('other-b'))}"[^\\n]*direction="outbound"[^\\n]*error="http status: 401 Unauthorized"`).test(istio.output));
    assert.ok(await reaches('client-b', lab.vip(10), 'b-still-allowed'), 'client-b still gets through');
  });

  it('STRICT: both ztunnels refuse a plaintext client outside the mesh', async () => {
    for (const server of ['server-a', 'server-b']) {
      const got = await lab.call(pods.outside!, pods[server]!.ip, 8080, 'plain\n', 3000).catch(() => '');
      assert.equal(got.includes('plain'), false, `${server} refuses plaintext under STRICT`);
    }
  });

  it('a policy change closes open connections on either ztunnel, and the other ztunnel closes its side (both directions)', async () => {
    const warm = async (from: string, vip: string): Promise<{ closed: Promise<void>; ok: () => Promise<boolean> }> => {
      const socket = await lab.open(pods[from]!, vip, 80);
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      let n = 0;
      const ok = async (): Promise<boolean> => {
        const marker = `${from}-${++n}`;
        socket.write(`${marker}\n`);
        return Boolean(await waitFor(`${from}'s open connection to echo ${marker}`, () => got.includes(marker), 30_000));
      };
      return { closed, ok };
    };
    const aToB = await warm('client-a', lab.vip(11));
    const bToA = await warm('client-b', lab.vip(10));
    assert.ok(await aToB.ok());
    assert.ok(await bToA.ok());
    lab.write('authz.yaml', [only('server-a', 'other-b'), only('server-b', 'other-a')].join('---\n'));
    const closedWithin = (c: Promise<void>, what: string): Promise<void> => Promise.race([c, new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${what} still open 60 s after the policy change`)), 60_000).unref())]);
    await closedWithin(aToB.closed, "client-a's connection (Istio's ztunnel re-checks it, ours closes the client's side)");
    await closedWithin(bToA.closed, "client-b's connection (our ztunnel re-checks it, Istio's closes the client's side)");
    const lateLine = (log: () => string, client: string): Promise<string> => waitFor(`the late rejection of ${client}'s connection logged`, () => log().split('\n').find((l) => l.includes(`src.identity="${id(client)}"`) && l.includes('direction="inbound"') && l.includes('error="connection closed due to policy change"')));
    const theirs = await lateLine(() => istio.output, 'client-a');
    const ours = await lateLine(() => readFileSync(lab.accessLog, 'utf8'), 'client-b');
    assert.match(theirs, /bytes_sent=[1-9]\d* bytes_recv=[1-9]\d* /);
    assert.deepEqual(logFields(ours), logFields(theirs), 'the same line, with the bytes carried until the policy changed');
    assert.equal(await reaches('client-a', lab.vip(11), 'a-after-flip'), undefined, 'client-a is refused now');
    assert.ok(await waitFor('other-a allowed by the new policy', () => reaches('other-a', lab.vip(11), 'other-a-after-flip')));
    assert.ok(await waitFor('other-b allowed by the new policy', () => reaches('other-b', lab.vip(10), 'other-b-after-flip')));
  });

  it('both ztunnels label one connection alike (but for the reporter), and count bytes on the series it opened with', async () => {
    const series = (text: string, name: string, src: string, dst: string): Record<string, string>[] =>
      text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(`source_workload="${src}"`) && l.includes(`destination_workload="${dst}"`)).map((l) => Object.fromEntries([...l.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])));
    const [ours, theirs] = [await lab.metrics(), await istio.metrics()];
    for (const [src, dst] of [['client-a', 'server-b'], ['client-b', 'server-a']] as const) {
      const o = series(ours, 'istio_tcp_connections_opened_total', src, dst);
      const t = series(theirs, 'istio_tcp_connections_opened_total', src, dst);
      assert.equal(o.length, 1, `${src}→${dst}: one series of ours`);
      assert.equal(t.length, 1, `${src}→${dst}: one series of Istio's`);
      assert.deepEqual({ ...o[0], reporter: '' }, { ...t[0], reporter: '' }, `${src}→${dst}: the same labels at both ends`);
      assert.notEqual(o[0]!.reporter, t[0]!.reporter);
      for (const [text, who] of [[ours, 'ours'], [theirs, "Istio's"]] as const) {
        const flags = series(text, 'istio_tcp_received_bytes_total', src, dst).map((l) => l.response_flags);
        assert.deepEqual(flags, ['-'], `${who}: ${src}→${dst} bytes on the "-" series only (a late rejection included)`);
      }
    }
  });
});
