import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flatten, scoreType, TRACING } from '../../bench/fidelity/xds-diff.ts';

describe('fidelity diff (bench/fidelity/xds-diff.ts)', () => {
  it('keys filter chains by name and match, endpoints by address, and compares domains as a set', () => {
    const f = flatten({
      filterChains: [{ name: 'a', filterChainMatch: { transportProtocol: 'tls' }, filters: [{ name: 'x' }] }, { name: 'a', filterChainMatch: { transportProtocol: 'raw_buffer' } }],
      virtualHosts: [{ name: 'v', domains: ['b', 'a'] }],
      endpoints: [{ locality: { zone: 'z' }, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } } } }] }],
    });
    assert.equal(f.get('filterChains[a|{"transportProtocol":"tls"}].filters[x].name'), '"x"');
    assert.ok(f.has('filterChains[a|{"transportProtocol":"raw_buffer"}].name'));
    assert.equal(f.get('virtualHosts[v].domains'), '["a","b"]');
    assert.ok([...f.keys()].some((k) => k.startsWith('endpoints[locality={"zone":"z"}|p0].lbEndpoints[10.0.0.1:80]')));
  });

  it('counts a field one side lacks, or with another value, as different; ignores stat prefixes; can leave tracing out', () => {
    const expected = { r: { name: 'r', statPrefix: 'x', a: 1, b: 2, tracing: { overallSampling: 100 } } };
    const actual = { r: { name: 'r', statPrefix: 'y', a: 1, b: 3, c: 4 } };
    const all = scoreType('T', [{ proxy: 'p', expected, actual }]);
    assert.deepEqual([all.equal, all.total], [2, 5]);
    assert.deepEqual(all.diffs.map((d) => d.path).sort(), ['b', 'c', 'tracing.overallSampling']);
    const noTracing = scoreType('T', [{ proxy: 'p', expected, actual }], [TRACING]);
    assert.deepEqual([noTracing.equal, noTracing.total], [2, 4]);
  });
});
