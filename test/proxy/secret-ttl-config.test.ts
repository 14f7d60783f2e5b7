import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyConfig, type ProxyFlags } from '../../src/cli/proxy-config.ts';
import { proxyMetadata } from '../../src/runtime/sidecar-command.ts';

const FLAGS: ProxyFlags = { discovery: '127.0.0.1:15010', adminPort: '15000', readinessPort: '15021', prometheusPort: '15090', ca: false, xdsProtocol: 'delta', drainGrace: '5' };

describe("the workload certificate lifetime (istio-agent's SECRET_TTL through ProxyConfig proxyMetadata)", () => {
  it('reads SECRET_TTL as a Go duration; unset asks for the CA default (0)', () => {
    assert.equal(proxyConfig('sidecar', FLAGS, {}).secretTtlSeconds, 0);
    assert.equal(proxyConfig('sidecar', FLAGS, { SECRET_TTL: '2m' }).secretTtlSeconds, 120);
    assert.equal(proxyConfig('sidecar', FLAGS, { SECRET_TTL: '24h0m0s' }).secretTtlSeconds, 86_400);
    assert.throws(() => proxyConfig('sidecar', FLAGS, { SECRET_TTL: 'soon' }), /SECRET_TTL must be a duration/);
    assert.throws(() => proxyConfig('sidecar', FLAGS, { SECRET_TTL: '10ms' }), /SECRET_TTL must be a duration/);
  });

  it("mizzen up turns the pod's ProxyConfig proxyMetadata into the sidecar's environment, as Istio's injector does", () => {
    assert.deepEqual(proxyMetadata({ proxyMetadata: { SECRET_TTL: '2m', ISTIO_META_DNS_CAPTURE: 'true', N: 3 } }), { SECRET_TTL: '2m', ISTIO_META_DNS_CAPTURE: 'true' });
    assert.deepEqual(proxyMetadata({}), {});
  });
});
