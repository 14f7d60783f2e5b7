import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ztunnelModes } from '../../bench/dataplane/ztunnel-modes.ts';
import { pinningsFrom } from '../../bench/dataplane/pinning.ts';

describe("the data-plane benchmark's ztunnel modes", () => {
  it("skips Istio's ztunnel modes with the way to build it when the binary is absent, and runs ours regardless", () => {
    const modes = ztunnelModes({ istioBinary: '/nonexistent/ztunnel' });
    const byName = new Map(modes.map((m) => [m.name, m]));
    for (const name of ['istio-ztunnel', 'istio-ztunnel-1t']) {
      const reason = byName.get(name)?.skipReason?.();
      assert.ok(typeof reason === 'string' && reason.includes('/nonexistent/ztunnel') && reason.includes('scripts/ztunnel.sh'), `${name}: ${String(reason)}`);
    }
    for (const name of ['ztunnel', 'ztunnel-2node', 'ztunnel-100pods']) assert.equal(byName.get(name)?.skipReason?.() ?? false, false, name);
    // a binary that exists is not skipped (any executable path stands in: the mode only checks it is there)
    const present = ztunnelModes({ istioBinary: process.execPath }).find((m) => m.name === 'istio-ztunnel');
    assert.equal(present?.skipReason?.(), false);
  });

  it('knows the unpinned placement (every process on both CPUs) beside per-pod and shared', () => {
    assert.deepEqual(pinningsFrom('per-pod,unpinned').map((p) => [p.name, p.server, p.loadgen]), [['per-pod', '0', '1'], ['unpinned', '0-1', '0-1']]);
    assert.throws(() => pinningsFrom('nowhere'), /unknown pinning nowhere/);
  });
});
