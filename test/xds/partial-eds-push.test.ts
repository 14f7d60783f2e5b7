import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { AdsTestClient, sidecarNode, type DecodedResponse } from './support/ads-test-client.ts';
import { envoyRoot, waitFor } from './support/ads-harness.ts';

const SERVICES = 20;
const inline = (i: number, port: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${i}, namespace: bench}
spec:
  hosts: [svc-${i}.bench.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.1.0.${i + 1}, ports: {http: ${port}}}]
`;
const selecting = (name: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: bench}
spec:
  hosts: [${name}.bench.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name}}}
`;
const workloadEntry = (name: string, address: string): string => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-1, namespace: bench}
spec:
  address: ${address}
  labels: {app: ${name}}
`;
const cluster = (host: string): string => `outbound|8080||${host}.bench.mesh.internal`;

/**
 * Istio's incremental EDS: a WorkloadEntry change behind one ServiceEntry is an endpoint-only
 * push that regenerates and sends the ClusterLoadAssignment of that service alone (istiod's
 * EDSUpdate → ConfigsUpdated → the EDS generator skips every other subscribed cluster). The
 * encoder counts what generation handed it: an unrelated cluster generated again would be
 * hashed again and found (a hit) even though nothing of it is sent.
 */
describe('a WorkloadEntry change pushes EDS of the affected service only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-partial-eds-'));
  let d: Discovery;
  let c: AdsTestClient;
  const names = [...Array.from({ length: SERVICES }, (_, i) => cluster(`svc-${i}`)), cluster('moving'), cluster('steady')];

  const nextEds = async (): Promise<DecodedResponse> => {
    const r = await c.next(20_000);
    c.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: names });
    assert.equal(r.typeUrl, TYPE_URL.endpoint, 'only EDS is pushed');
    return r;
  };
  /** Replace a config file in one step (a rescan never sees it truncated, i.e. the resource deleted). */
  const replace = (name: string, text: string): void => {
    writeFileSync(join(dir, `${name}.tmp`), text);
    renameSync(join(dir, `${name}.tmp`), join(dir, name));
  };
  const triggers = async (): Promise<number> => (await d.metricsRegistry.getSingleMetric('pilot_push_triggers')!.get()).values.reduce((n, v) => n + v.value, 0);
  /** Until a push happened since `before` (counted) and the push queue is empty. */
  const pushed = async (before: number): Promise<void> => {
    await waitFor(async () => (await triggers()) > before, 20_000, 'a push');
    await d.ads.idle();
  };

  before(async () => {
    writeFileSync(join(dir, 'services.yaml'), [...Array.from({ length: SERVICES }, (_, i) => inline(i, 8080)), selecting('moving'), selecting('steady')].join('---\n'));
    writeFileSync(join(dir, 'moving.yaml'), workloadEntry('moving', '10.250.0.1'));
    writeFileSync(join(dir, 'steady.yaml'), workloadEntry('steady', '10.251.0.1'));
    d = new Discovery({
      configPaths: [dir], trustDomain: 'cluster.local', grpcAddr: '127.0.0.1:0', secureGrpcAddr: '127.0.0.1:0', httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10, debounceMaxMs: 1000, clock: systemClock, logs: createLogFactory({ levels: 'silent' }), rescanIntervalMs: 200,
    });
    const addrs = await d.start();
    c = new AdsTestClient(envoyRoot(), addrs.grpc, 'sotw');
    c.send({ node: sidecarNode('client-1', 'bench'), typeUrl: TYPE_URL.endpoint, resourceNames: names });
    const first = await nextEds();
    assert.equal(first.resources.length, names.length);
  });
  after(async () => {
    c.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends only the moved cluster and generates nothing else', async () => {
    await d.ads.idle();
    const t0 = await triggers();
    const hits = d.ads.encoder.hits;
    const encodes = d.ads.encoder.encodes;
    replace('moving.yaml', workloadEntry('moving', '10.250.0.2'));
    const r = await nextEds();
    const sent = c.decode(r);
    assert.deepEqual(sent.map((x) => x.clusterName), [cluster('moving')]);
    assert.match(JSON.stringify(sent[0]), /10\.250\.0\.2/);
    await pushed(t0);
    assert.equal(c.buffered, 0, 'nothing else was pushed');
    assert.equal(d.ads.encoder.encodes - encodes, 1, 'one assignment encoded');
    assert.equal(d.ads.encoder.hits - hits, 0, 'no unchanged assignment was generated again (it would be found by its hash)');
  });

  it('a later full push compares with what the client holds after the partial one', async () => {
    await d.ads.idle();
    // A ServiceEntry edit is a config change: EDS is generated whole and diffed by resource.
    replace('services.yaml', [...Array.from({ length: SERVICES }, (_, i) => inline(i, i === 3 ? 9090 : 8080)), selecting('moving'), selecting('steady')].join('---\n'));
    let eds: DecodedResponse | undefined;
    for (let i = 0; i < 10 && !eds; i++) {
      const r = await c.next(20_000);
      c.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: names });
      if (r.typeUrl === TYPE_URL.endpoint) eds = r;
    }
    assert.ok(eds, 'an EDS push');
    assert.deepEqual(c.decode(eds).map((x) => x.clusterName), [cluster('svc-3')], 'the moved cluster is not sent again');
  });

  it('a change that moves no endpoint sends nothing', async () => {
    await d.ads.idle();
    const t0 = await triggers();
    // Same address, another annotation: the WorkloadEntry changed, its endpoint did not.
    replace('steady.yaml', workloadEntry('steady', '10.251.0.1').replace('metadata: {', 'metadata: {annotations: {note: x}, '));
    await pushed(t0);
    assert.equal(c.buffered, 0);
  });
});
