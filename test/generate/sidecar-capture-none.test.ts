import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueWith, makeCa } from '../proxy/support/test-pki.ts';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';

type Obj = Record<string, any>;
const REVIEWS = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' });

/** A Sidecar whose ingress ports are served without capture, and mesh mTLS off so plaintext clients reach them. */
const config = (port: number, appPort: number, bind: string): string => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: reviews-ingress, namespace: default }
spec:
  workloadSelector: { labels: { app: reviews } }
  ingress:
  - port: { number: ${port}, protocol: HTTP, name: http }
    captureMode: NONE
    ${bind ? `bind: ${bind}` : ''}
    defaultEndpoint: 127.0.0.1:${appPort}
  - port: { number: 9090, protocol: TCP, name: tcp }
    bind: 10.244.0.99
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: plain, namespace: default }
spec: { mtls: { mode: DISABLE } }
`;

function listeners(yaml: string): Obj[] {
  return generateAll(REVIEWS, pushContext(yaml, RICH_SERVICES, RICH_ENDPOINTS)).listeners.map((l) => l.resource as Obj);
}

/**
 * A proxy on `127.0.0.1_PORT` (that port, the rest ephemeral) given the generated inbound
 * cluster and listener of `port`, discovery's proto-JSON ("10s" durations) converted to the
 * objects the test ADS server encodes.
 */
async function proxyOf(generated: ReturnType<typeof generateAll>, port: number): Promise<Harness> {
  const name = `127.0.0.1_${port}`;
  const h = await startHarness({ portOverride: (n, p) => (n === name ? p : 0) });
  await h.push({
    clusters: generated.clusters.filter((c) => c.name === `inbound|${port}||`).map((c) => protoJsonToObject(codec().type('envoy.config.cluster.v3.Cluster'), c.resource).object),
    listeners: generated.listeners.filter((l) => l.name === name).map((l) => protoJsonToObject(codec().type('envoy.config.listener.v3.Listener'), l.resource).object),
  });
  return h;
}

describe('Sidecar ingress captureMode NONE and bind, as istiod', () => {
  it('gives a NONE port a listener of its own on bind:PORT (else the workload IP), out of virtualInbound; bind alone names the chains', () => {
    const ls = listeners(config(9080, 8080, ''));
    const own = ls.find((l) => l.name === '10.244.0.11_9080')!;
    assert.deepEqual(own.address, { socketAddress: { address: '10.244.0.11', portValue: 9080 } });
    assert.equal(own.bindToPort, undefined, 'bound (Envoy default)');
    assert.equal(own.trafficDirection, 'INBOUND');
    assert.equal((own.listenerFilters ?? []).some((f: Obj) => f.name === 'envoy.filters.listener.original_dst'), false);
    assert.deepEqual(own.filterChains.map((c: Obj) => [c.name, c.filterChainMatch]), [['10.244.0.11_9080', { destinationPort: 9080, transportProtocol: 'raw_buffer' }]]);
    const inbound = ls.find((l) => l.name === 'virtualInbound')!;
    assert.equal(inbound.filterChains.some((c: Obj) => c.filterChainMatch?.destinationPort === 9080), false);
    assert.ok(inbound.filterChains.some((c: Obj) => c.name === '10.244.0.99_9090' && c.filterChainMatch.destinationPort === 9090), 'captured port named after its bind');
    assert.ok(listeners(config(9080, 8080, '127.0.0.1')).some((l) => l.name === '127.0.0.1_9080'));
  });
});

describe('a captureMode NONE listener served by the proxy (real sockets)', () => {
  let h: Harness;
  let app: http.Server;
  let port = 0;

  before(async () => {
    app = http.createServer((req, res) => res.end(`app saw ${req.url}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    // the ingress port itself must be free here: the listener binds it (no capture to hide behind)
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const generated = generateAll(REVIEWS, pushContext(config(port, (app.address() as net.AddressInfo).port, '127.0.0.1'), RICH_SERVICES, RICH_ENDPOINTS));
    h = await proxyOf(generated, port);
  });

  after(async () => {
    await h?.close();
    app.close();
  });

  it('accepts the application\'s clients on bind:PORT and routes to the defaultEndpoint', async () => {
    assert.equal(h.port(`127.0.0.1_${port}`), port);
    const res = await request(port, { path: '/direct' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'app saw /direct');
  });
});

describe('Sidecar ingress tls with ENABLE_TLS_ON_SIDECAR_INGRESS (real sockets)', () => {
  let h: Harness;
  let app: http.Server;
  let dir: string;
  let port = 0;
  let caPem = '';

  before(async () => {
    app = http.createServer((req, res) => res.end(`app saw ${req.url}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const ca = await makeCa('ingress-ca');
    caPem = ca.certPem;
    const cert = issueWith(ca, { dns: ['reviews.example'] });
    dir = mkdtempSync(join(tmpdir(), 'mizzen-ingress-tls-'));
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem);
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const yaml = config(port, (app.address() as net.AddressInfo).port, '127.0.0.1')
      .replace('protocol: HTTP, name: http }\n    captureMode: NONE', `protocol: HTTPS, name: https }\n    captureMode: NONE\n    tls: { mode: SIMPLE, serverCertificate: ${join(dir, 'tls.crt')}, privateKey: ${join(dir, 'tls.key')} }`);
    const off = generateAll(REVIEWS, pushContext(yaml, RICH_SERVICES, RICH_ENDPOINTS));
    assert.equal(JSON.stringify(off.listeners).includes('tls.crt'), false, 'ignored without the feature, as istiod');
    const generated = generateAll(REVIEWS, pushContext(yaml, RICH_SERVICES, RICH_ENDPOINTS, { enableTlsOnSidecarIngress: true }));
    h = await proxyOf(generated, port);
  });

  after(async () => {
    await h?.close();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('terminates the client\'s TLS with the ingress certificate and routes the HTTP inside', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/secure', ca: caPem, servername: 'reviews.example' }, (res) => {
        let s = '';
        res.on('data', (d) => (s += d));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'app saw /secure');
  });
});
