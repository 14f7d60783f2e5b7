/**
 * Writes the generated part of the seed corpus (`node fuzz/make-seeds.ts`): CSRs made with the
 * project's own builder, and xDS resources discovery generates for a small mesh, encoded as the
 * proxy receives them. Hand-written seeds (HTTP, YAML, HBONE) are committed as they are.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCertificationRequest } from '../src/lib/certification-request.ts';
import { splitPem } from '../src/lib/pem.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
const write = (target: string, name: string, data: Buffer): void => {
  mkdirSync(join(root, target), { recursive: true });
  writeFileSync(join(root, target, name), data);
};

const keys = {
  'ec-p256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  'ec-p384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  'rsa-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }),
};
for (const [name, k] of Object.entries(keys)) {
  const pem = createCertificationRequest({ privateKey: k.privateKey, publicKey: k.publicKey, altNames: { uris: ['spiffe://cluster.local/ns/default/sa/reviews'], dns: ['reviews.default.svc'] }, organization: 'mizzen' });
  write('csr', name, splitPem(pem)[0].der);
}
process.stdout.write('seeds written\n');

// xDS: what discovery generates for a sidecar and a gateway of a Bookinfo-like mesh, one record per resource
const { protoJsonToObject } = await import('../src/api/xds/proto-json.ts');
const { generateAll, proxy, pushContext } = await import('../test/support/generate-fixture.ts');
const { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } = await import('../test/generate/rich-mesh.ts');
const { codec } = await import('../test/proxy/support/proxy-harness.ts');
const { record } = await import('./targets/xds-records.ts');
const { TYPE_URL } = await import('../src/api/xds/type-urls.ts');
const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
const proxies = {
  sidecar: proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' }),
  gateway: proxy({ type: 'router', ip: '10.244.0.50', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, pod: 'gw' }),
};
let n = 0;
for (const [who, p] of Object.entries(proxies)) {
  const res = generateAll(p, push);
  const groups: [string, readonly { resource: unknown }[]][] = [[TYPE_URL.cluster, res.clusters], [TYPE_URL.endpoint, res.endpoints], [TYPE_URL.listener, res.listeners], [TYPE_URL.route, res.routes]];
  for (const [typeUrl, list] of groups) {
    list.forEach((r, i) => {
      const bytes = codec().encode(typeUrl, protoJsonToObject(codec().typeOfUrl(typeUrl), r.resource as never).object as never);
      if (bytes.length > 30_000) return;
      write('xds-apply', `${who}-${typeUrl.split('.').pop()}-${i}`, record(typeUrl, bytes));
      n++;
    });
  }
}
process.stdout.write(`${n} xDS seeds written\n`);
