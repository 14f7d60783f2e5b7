import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { Cluster } from '../../src/data/upstream/cluster.ts';
import { compileCluster } from '../../src/data/upstream/cluster-config.ts';
import { UpstreamConnector } from '../../src/data/upstream/upstream-connector.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { TlsContextFactory } from '../../src/data/tls/tls-context-factory.ts';

function passthrough(): { cluster: Cluster; close: () => void } {
  const tls = new TlsContextFactory(new MapSecretProvider());
  const cfg = compileCluster({ name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 10 } });
  const cluster = new Cluster(cfg, new UpstreamConnector(tls), new ManualClock());
  return { cluster, close: () => { cluster.close(); tls.close(); } };
}

describe('Cluster original destination hosts', () => {
  it('returns one host per destination, in every accepted spelling', () => {
    const { cluster, close } = passthrough();
    const a = cluster.hostFor('10.0.0.1:8080', undefined, undefined)!;
    assert.equal(a.key, '10.0.0.1:8080');
    assert.equal(a.address, '10.0.0.1');
    assert.equal(a.port, 8080);
    assert.equal(cluster.originalDestinationHostFor('10.0.0.1:8080'), a);
    assert.equal(cluster.originalDestinationHost('10.0.0.1', 8080), a);
    const v6 = cluster.originalDestinationHostFor('[fd00::1]:9080')!;
    assert.equal(v6.key, '[fd00::1]:9080');
    assert.equal(v6.address, 'fd00::1');
    // the downstream local address fallback is written without brackets
    assert.equal(cluster.originalDestinationHostFor('fd00::1:9080'), v6);
    assert.equal(cluster.hostFor('[fd00::1]:9080', undefined, undefined), v6);
    assert.notEqual(cluster.originalDestinationHostFor('10.0.0.1:8081'), a);
    assert.equal(cluster.hosts.length, 3);
    close();
  });

  it('refuses destinations without a valid port', () => {
    const { cluster, close } = passthrough();
    for (const bad of ['', '10.0.0.1', '10.0.0.1:', ':80', '10.0.0.1:0', '10.0.0.1:http', '10.0.0.1:70000', '10.0.0.1:1.5']) {
      assert.equal(cluster.originalDestinationHostFor(bad), undefined, bad);
    }
    assert.equal(cluster.hosts.length, 0);
    close();
  });

  it('keeps at most 1,024 hosts, evicting and draining the oldest', () => {
    const { cluster, close } = passthrough();
    const first = cluster.originalDestinationHostFor('10.1.0.0:80')!;
    const pool = cluster.pool(first);
    for (let i = 1; i < 1024; i++) cluster.originalDestinationHostFor(`10.1.${i >> 8}.${i & 255}:80`);
    assert.equal(cluster.hosts.length, 1024);
    assert.equal(cluster.originalDestinationHostFor('10.1.0.0:80'), first, 'a known destination is not re-created');
    assert.equal(cluster.hosts.length, 1024);
    const second = cluster.hosts[1];
    cluster.originalDestinationHostFor('10.2.0.0:80');
    assert.equal(cluster.hosts.length, 1024);
    assert.ok(!cluster.hosts.includes(first), 'the oldest host is evicted');
    assert.equal((pool as unknown as { draining: boolean }).draining, true, 'its pool is drained');
    const again = cluster.originalDestinationHostFor('10.1.0.0:80')!;
    assert.notEqual(again, first, 'an evicted destination gets a new host');
    assert.equal(again.key, '10.1.0.0:80');
    assert.ok(!cluster.hosts.includes(second), 'which evicts the next oldest');
    assert.equal(cluster.originalDestinationHostFor(second.key) === second, false);
    assert.equal(cluster.hosts.length, 1024);
    close();
  });
});
