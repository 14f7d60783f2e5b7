import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientLab, type LabPod } from './support/ambient-lab.ts';
import { PacketCapture } from './support/packet-capture.ts';
import { parseAnswers } from '../../src/data/dns/dns-message.ts';

/**
 * `mizzen proxy ztunnel` in in-pod mode, end to end on real network namespaces: the node agent
 * (ZDS with netns fds) enrolls pods, their traffic is captured by Istio's in-pod rules, carried
 * over HBONE between the pods' identities, authorized at L4, and reported in ztunnel's metrics
 * and access log; the veth between the pods carries TLS only.
 */
const skip = await rootSkipReason();

describe('ztunnel in-pod (netns)', { skip }, () => {
  const lab = new AmbientLab();
  let client: LabPod;
  let server: LabPod;
  let outside: LabPod;

  before(async () => {
    await lab.start(`apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: ${lab.vip(10)}
  selector: {app: server}
  ports: [{name: tcp-echo, port: 80, targetPort: 8080}]
`);
    lab.dnsCapture = true;
    await lab.startZtunnel(['--dns-capture']);
    client = await lab.addPod('client');
    server = await lab.addPod('server');
    outside = await lab.addPod('outside', { enrolled: false });
    await lab.app(server, 8080);
  });
  after(async () => {
    if (process.env.MIZZEN_LAB_DEBUG) process.stderr.write(lab.ztunnelOut);
    await lab.close();
  });

  it('carries a captured connection to a service VIP over HBONE with both identities, source preserved', async () => {
    const capture = new PacketCapture(`/var/run/netns/${lab.node.netns}`, server.hostVeth);
    const marker = 'plaintext-marker-0123456789';
    let reply = '';
    try {
      reply = await waitFor('a reply through ztunnel', async () => {
        const r = await lab.call(client, lab.vip(10), 80, `${marker}\n`, 3000);
        return r.includes(marker) ? r : undefined;
      });
    } finally {
      capture.stop();
    }
    assert.match(reply, new RegExp(`^remote=${client.ip.replace(/\./g, '\\.')}\\n`), 'the app sees the client pod\'s own address');
    const segs = capture.segments;
    const withPayload = segs.filter((s) => s.payload.length > 0);
    assert.ok(withPayload.length > 0, 'traffic crossed the server veth');
    assert.ok(withPayload.every((s) => s.dstPort === 15008 || s.srcPort === 15008), `only HBONE (15008) on the link: ${JSON.stringify(withPayload.map((s) => `${s.src}:${s.srcPort}>${s.dst}:${s.dstPort}`))}`);
    assert.ok(!Buffer.concat(withPayload.map((s) => s.payload)).includes(marker), 'the payload never crosses in clear text');
    assert.ok(withPayload.some((s) => s.payload[0] === 0x17 && s.payload[1] === 0x03 && s.payload[2] === 0x03), 'TLS application data records');

    const metrics = await waitFor('connection metrics', async () => {
      const m = await lab.metrics();
      return /istio_tcp_connections_closed_total\{reporter="destination"/.test(m) ? m : undefined;
    });
    const opened = metrics.split('\n').filter((l) => l.startsWith('istio_tcp_connections_opened_total{'));
    const src = opened.find((l) => l.includes('reporter="source"'))!;
    const dst = opened.find((l) => l.includes('reporter="destination"'))!;
    for (const l of [src, dst]) {
      assert.match(l, /source_principal="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client"/);
      assert.match(l, /destination_principal="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server"/);
      assert.match(l, /destination_service="echo\.demo\.svc\.cluster\.local"/);
      assert.match(l, /connection_security_policy="mutual_tls"/);
    }
    const log = await waitFor('access log lines', () => {
      const text = readFileSync(lab.accessLog, 'utf8');
      return text.includes('direction="inbound"') && text.includes('direction="outbound"') ? text : undefined;
    });
    assert.match(log, /connection complete\tsrc\.addr=\S+ src\.workload="client" src\.namespace="demo" src\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client" src\.cluster="Kubernetes" dst\.addr=\S+:15008 dst\.hbone_addr=\S+:8080 dst\.service="echo\.demo\.svc\.cluster\.local" dst\.workload="server" dst\.namespace="demo" dst\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server" dst\.cluster="Kubernetes" direction="outbound"/);
  });

  it('enforces L4 AuthorizationPolicy (new connections, and open ones when the policy changes)', async () => {
    const open = await lab.open(client, lab.vip(10), 80);
    let got = '';
    open.on('data', (d) => (got += d.toString()));
    await waitFor('the open connection to work', () => {
      open.write('hello\n');
      return got.includes('hello');
    });
    const closed = new Promise<void>((r) => open.once('close', () => r()));
    lab.write('authz.yaml', `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-other, namespace: demo}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/other]}}]}]
`);
    await waitFor('the deny to take effect', async () => !(await lab.call(client, lab.vip(10), 80, 'x\n', 1500).catch(() => '')).includes('x'));
    await closed;
    const metrics = await lab.metrics();
    assert.match(metrics, /istio_tcp_connections_closed_total\{reporter="destination"[^}]*response_flags="DENY"/);
    // as ztunnel logs a late rejection: with the bytes the connection carried until then ('hello\n' at least)
    const late = await waitFor('the late rejection logged', () => readFileSync(lab.accessLog, 'utf8').split('\n').find((l) => l.includes('direction="inbound"') && l.includes('error="connection closed due to policy change"')));
    assert.match(late, /bytes_sent=[1-9]\d* bytes_recv=([6-9]|[1-9]\d+) /);
    lab.write('authz.yaml', `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-other, namespace: demo}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]}]
`);
    await waitFor('allowed again', async () => (await lab.call(client, lab.vip(10), 80, 'y\n', 1500).catch(() => '')).includes('y'));
    lab.remove('authz.yaml');
    await waitFor('the policy gone', async () => (await lab.call(outside, server.ip, 8080, 'v\n', 1500).catch(() => '')).includes('v'));
  });

  it('lets a non-mesh client in under PERMISSIVE and refuses it under STRICT', async () => {
    assert.match(await lab.call(outside, server.ip, 8080, 'plain\n'), /plain/, 'plaintext accepted by default (PERMISSIVE)');
    assert.match(await lab.metrics(), /istio_tcp_connections_opened_total\{reporter="destination"[^}]*source_principal="unknown"[^}]*connection_security_policy="unknown"/);
    lab.write('strict.yaml', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`);
    await waitFor('STRICT to refuse plaintext', async () => !(await lab.call(outside, server.ip, 8080, 'z\n', 1500).catch(() => '')).includes('z'));
    assert.match(await lab.call(client, lab.vip(10), 80, 'mesh\n'), /mesh/, 'mesh traffic still flows under STRICT');
    lab.remove('strict.yaml');
    await waitFor('PERMISSIVE again', async () => (await lab.call(outside, server.ip, 8080, 'w\n', 1500).catch(() => '')).includes('w'));
  });

  it('answers DNS in the pod (15053): Services by short name, a ServiceEntry by its auto-allocated VIP, and routes to it', async () => {
    lab.write('se.yaml', `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: demo}
spec:
  hosts: [ext.example.com]
  ports: [{number: 80, name: tcp, protocol: TCP, targetPort: 8080}]
  resolution: STATIC
  endpoints: [{address: ${server.ip}}]
`);
    const resolver = lab.vip(53);
    const echo = await waitFor('echo by its short name', async () => {
      const r = await lab.dns(client, resolver, 'echo');
      return r && parseAnswers(r).answers.length > 0 ? parseAnswers(r) : undefined;
    });
    assert.equal(echo.rcode, 0);
    assert.deepEqual(echo.answers.filter((a) => a.type === 1).map((a) => a.data), [lab.vip(10)]);
    const ext = await waitFor('the ServiceEntry host', async () => {
      const r = await lab.dns(client, resolver, 'ext.example.com');
      return r && parseAnswers(r).answers.length > 0 ? parseAnswers(r) : undefined;
    });
    const vip = ext.answers[0]!.data;
    assert.match(vip, /^240\.240\.\d+\.\d+$/, 'an auto-allocated VIP');
    assert.match(await lab.call(client, vip, 80, 'through-se\n'), /through-se/, 'the VIP routes to the ServiceEntry endpoint');
    const unknown = await lab.dns(client, resolver, 'nothing.invalid');
    assert.ok(unknown, 'unknown names get an answer (forwarding failed: SERVFAIL)');
    assert.equal(parseAnswers(unknown).rcode, 2);
    assert.match(await lab.metrics(), /istio_dns_requests_total \d+/);
    lab.remove('se.yaml');
  });

  it('un-enrolls and re-enrolls a running pod without restarting it', async () => {
    await lab.unenroll(client);
    const direct = await lab.call(client, lab.vip(10), 80, 'direct\n', 3000);
    // Without capture the VIP is not routed (no kube-proxy in this lab): the pod IP is.
    assert.equal(direct.includes('direct'), false);
    assert.match(await lab.call(client, server.ip, 8080, 'direct2\n'), new RegExp(`remote=${client.ip.replace(/\./g, '\\.')}\\n[\\s\\S]*direct2`));
    await lab.enroll(client);
    assert.match(await lab.call(client, lab.vip(10), 80, 'again\n'), /again/);
    const dump = await lab.configDump();
    assert.ok((dump.workloadState as { name: string }[]).some((p) => p.name === 'client'));
  });
});
