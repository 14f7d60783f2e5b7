import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { GeneratorRegistry } from '../../src/control/generate/generator-registry.ts';
import type { ProxyInfo } from '../../src/control/xds/proxy-info.ts';
import { generateAll, proxy, pushContext, type EndpointSpec, type ServiceSpec } from '../support/generate-fixture.ts';

type Obj = Record<string, any>;

const SERVICES: ServiceSpec[] = [
  { name: 'reviews', vip: '10.96.0.20', ports: [{ port: 9080 }] },
  { name: 'db', namespace: 'data', ports: [{ port: 5432, protocol: 'TCP' }] }, // headless
  { name: 'address.internal', hostname: 'address.internal', vip: '198.51.100.1', ports: [{ port: 80 }], registry: 'ServiceEntry', resolution: 'NONE' },
  { name: 'auto.internal', hostname: 'auto.internal', ports: [{ port: 80 }], registry: 'ServiceEntry', resolution: 'DNS' },
  { name: 'external-svc-1', hostname: 'tcp-echo.external-1.svc.cluster.local', ports: [{ port: 9000, protocol: 'TCP' }], registry: 'ServiceEntry', resolution: 'DNS' },
  { name: 'external-svc-2', hostname: 'tcp-echo.external-2.svc.cluster.local', ports: [{ port: 9000, protocol: 'TCP' }], registry: 'ServiceEntry', resolution: 'DNS' },
  // the same host as a Kubernetes Service in another namespace: the proxy's own namespace wins
  { name: 'tcp-echo', namespace: 'external-1', vip: '10.96.0.30', ports: [{ port: 9000, protocol: 'TCP' }] },
  { name: 'wild', hostname: '*.wild.example', ports: [{ port: 443, protocol: 'TLS' }], registry: 'ServiceEntry', resolution: 'NONE' },
];
const ENDPOINTS: EndpointSpec[] = [
  { service: 'db', namespace: 'data', address: '10.244.0.40' },
  { service: 'db', namespace: 'data', address: '10.244.0.41', healthy: false },
];

function withMeta(p: ProxyInfo, metadata: Record<string, string>): ProxyInfo {
  return { ...p, metadata: { ...p.metadata, ...metadata } };
}

const DNS = withMeta(proxy({}), { DNS_CAPTURE: 'true', DNS_AUTO_ALLOCATE: 'true' });
const CAPTURE_ONLY = withMeta(proxy({}), { DNS_CAPTURE: 'true' });

function nameTable(p: ProxyInfo): Record<string, Obj> {
  const push = pushContext('', SERVICES, ENDPOINTS);
  const gen = new GeneratorRegistry().get(TYPE_URL.nameTable, p);
  assert.ok(gen, 'sidecars are served NDS');
  const out = gen.generate(p, push, {});
  assert.equal(out.length, 1);
  return (out[0]!.resource as Obj).table;
}

describe('NDS name table and auto-allocated ServiceEntry addresses (ISTIO_META_DNS_CAPTURE / DNS_AUTO_ALLOCATE)', () => {
  it('answers Kubernetes services with their VIP (short name and namespace), headless ones with ready endpoints, ServiceEntries with their addresses', () => {
    const t = nameTable(CAPTURE_ONLY);
    assert.deepEqual(t['reviews.default.svc.cluster.local'], { ips: ['10.96.0.20'], registry: 'Kubernetes', shortname: 'reviews', namespace: 'default' });
    assert.deepEqual(t['db.data.svc.cluster.local']?.ips, ['10.244.0.40']);
    assert.deepEqual(t['address.internal'], { ips: ['198.51.100.1'], registry: 'External' });
    // without DNS_AUTO_ALLOCATE, hosts without addresses are left to upstream DNS
    assert.equal(t['auto.internal'], undefined);
    assert.equal(t['*.wild.example'], undefined);
    // the ServiceEntry in the proxy's namespace shadows the Kubernetes Service of the same host, and has no address
    assert.equal(t['tcp-echo.external-1.svc.cluster.local'], undefined);
  });

  it('with auto-allocation: 240.240.0.0/16 addresses for hosts without one, and listeners bound to them instead of one shared 0.0.0.0_9000', () => {
    const t = nameTable(DNS);
    const auto = t['auto.internal']?.ips as string[];
    assert.equal(auto.length, 1);
    assert.match(auto[0]!, /^240\.240\.\d+\.\d+$/);
    const e1 = t['tcp-echo.external-1.svc.cluster.local']?.ips?.[0] as string;
    const e2 = t['tcp-echo.external-2.svc.cluster.local']?.ips?.[0] as string;
    assert.match(e1, /^240\.240\./);
    assert.match(e2, /^240\.240\./);
    assert.notEqual(e1, e2);
    assert.equal(t['*.wild.example'], undefined, 'wildcards get no address');

    const push = pushContext('', SERVICES, ENDPOINTS);
    const names = (p: ProxyInfo): string[] => generateAll(p, push).listeners.map((l) => l.name);
    const withAuto = names(DNS);
    assert.ok(withAuto.includes(`${e1}_9000`) && withAuto.includes(`${e2}_9000`), `${e1} ${e2}: ${withAuto.join(" ")}`);
    const l1 = generateAll(DNS, push).listeners.find((l) => l.name === `${e1}_9000`)!.resource as Obj;
    assert.match(JSON.stringify(l1), /outbound\|9000\|\|tcp-echo\.external-1\.svc\.cluster\.local/);
    // the HTTP host gets its VIP as a virtual host domain
    const routes = generateAll(DNS, push).routes.find((r) => r.name === '80')!.resource as Obj;
    const vh = routes.virtualHosts.find((v: Obj) => v.name === 'auto.internal:80');
    assert.ok(vh.domains.includes(auto[0]), JSON.stringify(vh.domains));
    // a proxy without auto-allocation keeps the shared listener
    const plain = names(proxy({}));
    assert.ok(plain.includes('0.0.0.0_9000') || plain.includes('10.96.0.30_9000'));
    assert.ok(!plain.some((n) => n.startsWith('240.240.')), plain.join(' '));
  });
});
