import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { ResponseHeadParser } from '../../bench/controlplane/response-head-parser.ts';

describe('ResponseHeadParser (the ADS simulator reads only the envelope)', () => {
  const Resp = loadEnvoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const wire = Buffer.from(
    Resp.encode(
      Resp.fromObject({
        versionInfo: '2026-12-05T23:00:00Z/7',
        resources: [1, 2, 3].map((i) => ({ typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', value: Buffer.alloc(200 * i, i) })),
        canary: true,
        typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
        nonce: 'n-ü-42',
        controlPlane: { identifier: 'mizzen' },
      }),
    ).finish(),
  );
  const want = { versionInfo: '2026-12-05T23:00:00Z/7', typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', nonce: 'n-ü-42', resources: 3, bytes: wire.length };

  it('reads the same envelope however the message is cut into parts', () => {
    const p = new ResponseHeadParser();
    for (let cut = 1; cut < wire.length; cut += 7) {
      assert.equal(p.push(wire.subarray(0, cut), false), undefined);
      assert.deepEqual(p.push(wire.subarray(cut), true), want, `cut at ${cut}`);
    }
    const bytes = [...wire];
    let head;
    bytes.forEach((b, i) => (head = p.push(Buffer.from([b]), i === bytes.length - 1)));
    assert.deepEqual(head, want);
  });

  it('reads an empty response and rejects one that ends inside a field', () => {
    const p = new ResponseHeadParser();
    assert.deepEqual(p.push(Buffer.alloc(0), true), { versionInfo: '', typeUrl: '', nonce: '', resources: 0, bytes: 0 });
    assert.throws(() => p.push(wire.subarray(0, 30), true), /ended inside a field/);
  });

  it('hands back the values of the resources of a captured type, however the message is cut', () => {
    const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
    const values = [1, 300, 5000].map((n, i) => Buffer.alloc(n, i + 1));
    const msg = Buffer.from(Resp.encode(Resp.fromObject({ versionInfo: 'v', resources: values.map((value) => ({ type_url: CDS, value })), typeUrl: CDS, nonce: 'n' })).finish());
    for (const cut of [1, 5, 17, 200, 400, msg.length - 3]) {
      const p = new ResponseHeadParser(new Set([CDS]));
      assert.equal(p.push(msg.subarray(0, cut), false), undefined);
      const head = p.push(msg.subarray(cut), true)!;
      assert.equal(head.resources, 3);
      assert.deepEqual(head.captured!.map((parts) => Buffer.concat(parts)), values, `cut at ${cut}`);
    }
    const other = new ResponseHeadParser(new Set([CDS]));
    assert.equal(other.push(wire, true)!.captured, undefined, 'route configurations are not captured');
  });
});
