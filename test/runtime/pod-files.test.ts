import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderHosts, renderResolvConf } from '../../src/runtime/pod-dns-files.ts';
import { renderServiceNatRules } from '../../src/runtime/service-nat-rules.ts';
import { serviceNatEntries } from '../../src/runtime/service-endpoints.ts';

describe('renderHosts', () => {
  it('resolves services as Kubernetes DNS does: short names only in the pod\'s own namespace', () => {
    const hosts = renderHosts({ name: 'client-1', namespace: 'default', ip: '10.244.0.9' }, [
      { name: 'reviews', namespace: 'default', vip: '10.96.0.12' },
      { name: 'web', namespace: 'other', vip: '10.96.0.20' },
    ]);
    assert.match(hosts, /^10\.96\.0\.12\treviews\.default\.svc\.cluster\.local reviews\.default\.svc reviews\.default reviews$/m);
    assert.match(hosts, /^10\.96\.0\.20\tweb\.other\.svc\.cluster\.local web\.other\.svc web\.other$/m);
    assert.match(hosts, /^10\.244\.0\.9\tclient-1$/m);
  });

  it('writes the Kubernetes search path', () => {
    assert.match(renderResolvConf('legacy'), /^search legacy\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
  });
});

describe('serviceNatEntries', () => {
  it('balances a Service port over its ready pods, resolving named target ports', () => {
    const entries = serviceNatEntries(
      [{ name: 'web', namespace: 'default', vip: '10.96.0.10', spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } }],
      [
        { namespace: 'default', labels: { app: 'web' }, ip: '10.244.0.3', ready: true, namedPorts: { http: 8080 } },
        { namespace: 'default', labels: { app: 'web' }, ip: '10.244.0.4', ready: false, namedPorts: { http: 8080 } },
        { namespace: 'other', labels: { app: 'web' }, ip: '10.244.0.5', ready: true, namedPorts: { http: 8080 } },
        { namespace: 'default', labels: { app: 'web' }, ip: '10.244.0.6', ready: true, namedPorts: { http: 8081 } },
      ],
    );
    assert.deepEqual(entries, [{ vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ address: '10.244.0.3', port: 8080 }, { address: '10.244.0.6', port: 8081 }] }]);
    const rules = renderServiceNatRules(entries, '10.96.0.0/16');
    assert.match(rules, /ip daddr 10\.96\.0\.10 tcp dport 80 dnat ip to numgen random mod 2 map \{ 0 : 10\.244\.0\.3 \. 8080, 1 : 10\.244\.0\.6 \. 8081 \}/);
    assert.match(rules, /ip daddr 10\.96\.0\.0\/16 meta l4proto tcp reject with tcp reset/);
  });
});
