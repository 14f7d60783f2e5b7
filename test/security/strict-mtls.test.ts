import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { request } from '../proxy/support/http-client.ts';
import { KeepAliveConnection } from '../proxy/support/keep-alive-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { issueWith, makeCa, type TestCa, type TestCert } from '../proxy/support/test-pki.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The attacks STRICT mTLS exists to refuse, against the configuration discovery generates (as
 * istiod does) and the proxy's real TLS: inbound, a raw client presents each bad credential to the
 * workload's generated 0.0.0.0_9080 chain; outbound, the generated ISTIO_MUTUAL cluster meets a
 * server presenting each bad credential. Every refusal is paired with an accepted control case, so
 * a test that "passes" because nothing works at all cannot pass.
 */
const CONFIG = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;
const SERVICES = [{ name: 'server', vip: '10.96.0.10', ports: [{ port: 9080 }] }];
const ENDPOINTS = [{ service: 'server', address: '10.244.0.10', labels: { app: 'server' }, serviceAccount: 'server' }];
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const OUTBOUND = 'outbound|9080||server.default.svc.cluster.local';
const HOUR = 3_600_000;

const asProto = (typeUrl: string, o: Obj): Obj => protoJsonToObject(codec().typeOfUrl(typeUrl), o).object as Obj;

/** The server workload's generated inbound chains for port 9080, on a listener of their own (no capture in this test). */
function generatedInbound(): { listener: Obj } {
  const res = generateAll(proxy({ ip: '10.244.0.10', labels: { app: 'server' }, serviceAccount: 'server', pod: 'server-0' }), pushContext(CONFIG, SERVICES, ENDPOINTS));
  const vi = res.listeners.find((l) => (l.resource as Obj).name === 'virtualInbound')!.resource as Obj;
  const chains = structuredClone((vi.filterChains as Obj[]).filter((c) => c.filterChainMatch?.destinationPort === 9080));
  assert.ok(chains.length > 0, 'generated chains for 9080');
  assert.ok(chains.every((c) => c.transportSocket), 'STRICT: every 9080 chain is TLS (no plaintext chain)');
  for (const c of chains) delete c.filterChainMatch.destinationPort;
  const listenerFilters = (vi.listenerFilters as Obj[]).filter((f) => f.name !== 'envoy.filters.listener.original_dst');
  return { listener: asProto(TYPE_URL.listener, { name: 'inbound-9080', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', listenerFilters, filterChains: chains }) };
}

/** The client workload's generated cluster for the server service, cloned per case with its endpoint at `port`. */
function generatedOutbound(cases: Record<string, number>): { clusters: Obj[]; endpoints: Obj[] } {
  const res = generateAll(proxy({ ip: '10.244.0.20', labels: { app: 'client' }, serviceAccount: 'client', pod: 'client-0' }), pushContext(CONFIG, SERVICES, ENDPOINTS));
  const cluster = res.clusters.find((c) => (c.resource as Obj).name === OUTBOUND)!.resource as Obj;
  const cla = res.endpoints.find((e) => (e.resource as Obj).clusterName === OUTBOUND)!.resource as Obj;
  assert.ok(JSON.stringify(cluster).includes(`"exact":"${SERVER_ID}"`), 'the generated cluster checks the server identity');
  const clusters: Obj[] = [];
  const endpoints: Obj[] = [];
  for (const [name, port] of Object.entries(cases)) {
    const c = structuredClone(cluster);
    c.name = `${OUTBOUND}-${name}`;
    c.edsClusterConfig.serviceName = c.name;
    const e = structuredClone(cla);
    e.clusterName = c.name;
    const ep = e.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress;
    ep.address = '127.0.0.1';
    ep.portValue = port;
    e.endpoints[0].lbEndpoints = [e.endpoints[0].lbEndpoints[0]];
    clusters.push(asProto(TYPE_URL.cluster, c));
    endpoints.push(asProto(TYPE_URL.endpoint, e));
  }
  return { clusters, endpoints };
}

/** What a raw TLS client gets from the inbound listener: the first status line, or how it was refused. */
function attempt(port: number, opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'], ...opts }, () => {
      s.write('GET /secret HTTP/1.1\r\nhost: server\r\nconnection: close\r\n\r\n');
    });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', (e) => resolve(got ? got.split('\r\n')[0] : `refused: ${e.message}`));
    s.on('close', () => resolve(got ? got.split('\r\n')[0] : 'refused: closed'));
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
  });
}

/** A server that answers 200 to anything once the handshake succeeds: if the proxy reaches it, the check failed. */
async function impostor(cert: TestCert, chainExtra = ''): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const srv = tls.createServer({ cert: cert.certPem + chainExtra, key: cert.keyPem, ALPNProtocols: ['istio-peer-exchange', 'istio'] }, (s) => {
    s.on('error', () => undefined);
    s.on('data', () => {
      requests++;
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nimpostor');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    requests: () => requests,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

describe('STRICT mTLS: the credentials a mesh must refuse (generated config, real TLS)', () => {
  let ca: TestCa;
  let foreignCa: TestCa;
  let server: Harness;
  let client: Harness;
  let app: EchoServer;
  let inboundPort: number;
  let clientPort: number;
  const impostors: Awaited<ReturnType<typeof impostor>>[] = [];
  const caseNames: string[] = [];

  const secrets = (cert: TestCert, root: string): MapSecretProvider => {
    const s = new MapSecretProvider();
    s.set('default', { kind: 'certificate', certChain: cert.certPem, privateKey: cert.keyPem });
    s.set('ROOTCA', { kind: 'validation', trustedCa: root });
    return s;
  };

  before(async () => {
    ca = await makeCa('mesh-root');
    foreignCa = await makeCa('foreign-root');
    app = await new EchoServer('app').start();
    server = await startHarness({ secrets: secrets(issueWith(ca, { uris: [SERVER_ID] }), ca.certPem) });
    await server.push({
      clusters: [staticCluster('inbound|9080||', [['127.0.0.1', app.port]])],
      listeners: [generatedInbound().listener],
    });
    inboundPort = server.port('inbound-9080');

    // outbound: one impostor per bad server credential, plus the genuine server (the inbound listener above)
    const now = Date.now();
    const bad: Record<string, TestCert> = {
      'wrong-san': issueWith(ca, { uris: ['spiffe://cluster.local/ns/default/sa/someone-else'] }),
      'other-trust-domain': issueWith(ca, { uris: ['spiffe://evil.example/ns/default/sa/server'] }),
      'foreign-ca': issueWith(foreignCa, { uris: [SERVER_ID] }),
      expired: issueWith(ca, { uris: [SERVER_ID], notBefore: now - 48 * HOUR, notAfter: now - HOUR }),
      'not-yet-valid': issueWith(ca, { uris: [SERVER_ID], notBefore: now + HOUR, notAfter: now + 48 * HOUR }),
      'dns-san': issueWith(ca, { dns: ['server.default.svc.cluster.local'] }),
      'san-suffix': issueWith(ca, { uris: [`${SERVER_ID}-admin`] }),
    };
    const leaf = issueWith(ca, { uris: ['spiffe://cluster.local/ns/default/sa/leaf'], commonName: 'leaf' });
    bad['signed-by-leaf'] = issueWith(ca, { uris: [SERVER_ID], signer: { subject: leaf.subject, key: leaf.key } });
    const ports: Record<string, number> = { genuine: inboundPort };
    for (const [name, cert] of Object.entries(bad)) {
      const imp = await impostor(cert, name === 'signed-by-leaf' ? leaf.certPem : '');
      impostors.push(imp);
      ports[name] = imp.port;
      caseNames.push(name);
    }
    const out = generatedOutbound(ports);
    client = await startHarness({ secrets: secrets(issueWith(ca, { uris: [CLIENT_ID] }), ca.certPem) });
    await client.push({
      clusters: out.clusters,
      endpoints: out.endpoints,
      listeners: [{ name: 'out', address: address('0.0.0.0', 9080), filterChains: [{ filters: [hcm('out')] }] }],
      routes: [routeConfig('out', [vhost('all', ['*'], Object.keys(ports).map((n) => route({ prefix: `/${n}/` }, { cluster: `${OUTBOUND}-${n}` })))])],
    });
    clientPort = client.port('out');
  });

  after(async () => {
    await client?.close();
    await server?.close();
    await app?.stop();
    for (const i of impostors) await i.close();
  });

  describe('inbound (the workload refuses the caller)', () => {
    const valid = () => issueWith(ca, { uris: [CLIENT_ID] });

    it('accepts a mesh certificate (control case)', async () => {
      const c = valid();
      assert.equal(await attempt(inboundPort, { cert: c.certPem, key: c.keyPem }), 'HTTP/1.1 200 OK');
    });

    it('refuses plaintext HTTP: no filter chain matches, the connection closes without an answer', async () => {
      const got = await new Promise<string>((resolve) => {
        const s = net.connect(inboundPort, '127.0.0.1', () => s.write('GET /secret HTTP/1.1\r\nhost: server\r\n\r\n'));
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString('latin1')));
        s.on('error', () => resolve(data));
        s.on('close', () => resolve(data));
      });
      assert.equal(got, '');
    });

    it('refuses TLS without a client certificate', async () => {
      assert.match(await attempt(inboundPort, {}), /^refused/);
    });

    it('refuses a certificate from a foreign CA carrying the mesh identity', async () => {
      const c = issueWith(foreignCa, { uris: [CLIENT_ID] });
      assert.match(await attempt(inboundPort, { cert: c.certPem, key: c.keyPem }), /^refused/);
    });

    it('refuses an expired and a not-yet-valid mesh certificate', async () => {
      const now = Date.now();
      const expired = issueWith(ca, { uris: [CLIENT_ID], notBefore: now - 48 * HOUR, notAfter: now - HOUR });
      assert.match(await attempt(inboundPort, { cert: expired.certPem, key: expired.keyPem }), /^refused/);
      const early = issueWith(ca, { uris: [CLIENT_ID], notBefore: now + HOUR, notAfter: now + 48 * HOUR });
      assert.match(await attempt(inboundPort, { cert: early.certPem, key: early.keyPem }), /^refused/);
    });

    it('refuses another trust domain signed by the same root, including look-alike prefixes', async () => {
      for (const id of ['spiffe://evil.example/ns/default/sa/client', 'spiffe://cluster.local.evil/ns/default/sa/client', 'spiffe://cluster.localx/ns/default/sa/client', 'SPIFFE://cluster.local/ns/default/sa/client']) {
        const c = issueWith(ca, { uris: [id] });
        assert.match(await attempt(inboundPort, { cert: c.certPem, key: c.keyPem }), /^refused/, id);
      }
    });

    it('refuses a mesh-signed certificate without a SPIFFE URI SAN (DNS only, none at all, a SAN that only looks like one)', async () => {
      const variants = [
        issueWith(ca, { dns: ['client.default.svc.cluster.local'] }),
        issueWith(ca, {}),
        issueWith(ca, { uris: [`urn:x, URI:${CLIENT_ID}`] }),
        issueWith(ca, { uris: [`"${CLIENT_ID}"`] }),
      ];
      for (const c of variants) assert.match(await attempt(inboundPort, { cert: c.certPem, key: c.keyPem }), /^refused/);
    });

    it('refuses a certificate signed by a workload (leaf) certificate, chain included', async () => {
      const leaf = issueWith(ca, { uris: [CLIENT_ID], commonName: 'leaf' });
      const forged = issueWith(ca, { uris: ['spiffe://cluster.local/ns/default/sa/admin'], signer: { subject: leaf.subject, key: leaf.key } });
      assert.match(await attempt(inboundPort, { cert: forged.certPem + leaf.certPem, key: forged.keyPem }), /^refused/);
    });

    it("keeps the identity the app sees tied to the certificate (XFCC URI is the client's)", async () => {
      const c = valid();
      const conn = await KeepAliveConnection.open(inboundPort, { tls: { rejectUnauthorized: false, cert: c.certPem, key: c.keyPem } });
      const r = await conn.request('/', { 'x-forwarded-client-cert': 'By=x;URI=spiffe://cluster.local/ns/default/sa/admin' });
      conn.close();
      assert.equal(r.status, 200);
      const body = r.body;
      const xfcc = String((JSON.parse(body) as EchoReply).headers['x-forwarded-client-cert']);
      // APPEND_FORWARD as istiod configures it: the forged element stays first, ours names the real peer last
      assert.match(xfcc, new RegExp(`;URI=${CLIENT_ID.replace(/[/.]/g, '\\$&')}$`));
    });
  });

  describe('outbound (the caller refuses the server)', () => {
    it('reaches the genuine server over the generated cluster (control case)', async () => {
      const r = await request(clientPort, { path: '/genuine/x' });
      assert.equal(r.status, 200, r.body);
    });

    for (const name of ['wrong-san', 'san-suffix', 'other-trust-domain', 'foreign-ca', 'expired', 'not-yet-valid', 'dns-san', 'signed-by-leaf']) {
      it(`refuses a server with ${name} (503, never the impostor's answer)`, async () => {
        const r = await request(clientPort, { path: `/${name}/x` });
        assert.equal(r.status, 503, r.body);
        assert.doesNotMatch(r.body, /impostor/);
        assert.match(r.body, /TLS_error|connection failure/);
        assert.equal(impostors[caseNames.indexOf(name)].requests(), 0, 'no byte of the request reached the impostor');
      });
    }
  });
});
