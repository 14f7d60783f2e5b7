import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { discoveryPodObject } from '../../src/runtime/addons/prometheus-addon.ts';
import { renderPrometheusConfig } from '../../src/runtime/addons/prometheus-config.ts';
import { kubernetesPodTargets } from '../../src/runtime/addons/kubernetes-sd-targets.ts';
import { applyPrometheusMerge, meshPrometheusMerge } from '../../src/runtime/prometheus-merge.ts';
import { rootSkipReason } from './netns-test-support.ts';
import { cli } from './tracing-support.ts';

const configMap = (mesh: string): ConfigResource => {
  const metadata = { name: 'istio', namespace: 'istio-system' };
  return { apiVersion: 'v1', kind: 'ConfigMap', group: '', version: 'v1', metadata, spec: {}, raw: { metadata, data: { mesh } } };
};

describe("Istio's injector: metrics merging annotations", () => {
  it('points an injected pod at the agent (15020) and hands the app\'s own settings to ISTIO_PROMETHEUS_ANNOTATIONS', () => {
    assert.deepEqual(applyPrometheusMerge({}, true), { annotations: { 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/scrape': 'true' } });
    const app = applyPrometheusMerge({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9080', 'prometheus.io/path': '/m', other: 'x' }, true);
    assert.equal(app.annotations['prometheus.io/port'], '15020');
    assert.equal(app.annotations.other, 'x');
    assert.deepEqual(JSON.parse(app.env!), { scrape: 'true', path: '/m', port: '9080' });
  });
  it('leaves pods alone that opt out, when merging is off, or when already pointing at the agent', () => {
    assert.deepEqual(applyPrometheusMerge({ 'prometheus.io/scrape': 'false' }, true).annotations, { 'prometheus.io/scrape': 'false' });
    assert.deepEqual(applyPrometheusMerge({}, false).annotations, {});
    assert.equal(applyPrometheusMerge({ 'prometheus.istio.io/merge-metrics': 'true' }, false).annotations['prometheus.io/port'], '15020');
    assert.deepEqual(applyPrometheusMerge({ 'prometheus.istio.io/merge-metrics': 'false' }, true).annotations, { 'prometheus.istio.io/merge-metrics': 'false' });
    assert.equal(applyPrometheusMerge({ 'prometheus.io/port': '15020' }, true).env, undefined);
    assert.equal(meshPrometheusMerge([configMap('enablePrometheusMerge: false\n')]), false);
    assert.equal(meshPrometheusMerge([configMap('trustDomain: x\n')]), true);
  });
});

describe('Prometheus addon configuration', () => {
  it("gives pods Kubernetes SD's labels (sanitized names, one target per container port)", () => {
    const metadata = { name: 'reviews-v1-abc', namespace: 'default', labels: { app: 'reviews', 'security.istio.io/tlsMode': 'istio' }, annotations: applyPrometheusMerge({}, true).annotations };
    const spec = { nodeName: 'mizzen-node', containers: [{ name: 'reviews', ports: [{ containerPort: 9080 }] }, { name: 'istio-proxy', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] }] };
    const pod: ConfigResource = { apiVersion: 'v1', kind: 'Pod', group: '', version: 'v1', metadata, spec, raw: { metadata, spec, status: { phase: 'Running', podIP: '10.244.0.9', conditions: [{ type: 'Ready', status: 'True' }] } } };
    const groups = kubernetesPodTargets([pod, discoveryPodObject('10.244.0.1')]);
    assert.deepEqual(groups.slice(0, 2).map((g) => g.targets[0]), ['10.244.0.9:9080', '10.244.0.9:15090']);
    const l = groups[1]!.labels;
    assert.equal(l.__meta_kubernetes_pod_label_security_istio_io_tlsMode, 'istio');
    assert.equal(l.__meta_kubernetes_pod_annotation_prometheus_io_port, '15020');
    assert.equal(l.__meta_kubernetes_pod_container_port_name, 'http-envoy-prom');
    assert.equal(l.__meta_kubernetes_pod_ready, 'true');
    assert.ok(groups.some((g) => g.labels.__meta_kubernetes_pod_annotation_prometheus_io_port === '15014' && g.labels.__meta_kubernetes_namespace === 'istio-system'));
  });

  it('is a configuration promtool accepts', { skip: existsSync('/usr/bin/promtool') ? false : 'promtool is not installed (apt-get install prometheus)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-prom-'));
    try {
      writeFileSync(join(dir, 'pods.json'), '[]\n');
      writeFileSync(join(dir, 'prometheus.yml'), renderPrometheusConfig({ selfAddress: '10.244.0.1:9090', podTargetsFile: join(dir, 'pods.json'), intervalSeconds: 5 }));
      const out = execFileSync('/usr/bin/promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      assert.match(out, /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mizzen up --addons and --dashboard-port', { skip: await rootSkipReason() }, () => {
  it('refuses an unknown addon and a bad port before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-addons-'));
    try {
      const bad = await cli(['up', '-d', '.', '--addons', 'prometheus,grafana'], dir);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--addons grafana: unknown addon \(known: prometheus\)/);
      const port = await cli(['up', '-d', '.', '--dashboard-port', 'x'], dir);
      assert.equal(port.code, 1);
      assert.match(port.stderr, /--dashboard-port must be a port, 0 \(any\) or none/);
      assert.ok(!existsSync(join(dir, '.mizzen')), 'no state directory was made');
      const none = await cli(['dashboard'], dir);
      assert.equal(none.code, 1, 'no mesh: mizzen dashboard says so');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
