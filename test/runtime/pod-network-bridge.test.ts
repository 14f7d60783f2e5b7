import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { deleteNetns } from '../../src/runtime/netns.ts';
import { attachPodNetwork, createNodeNetwork, detachPodNetwork, randomBridgeMac } from '../../src/runtime/pod-network.ts';
import { rootSkipReason } from './netns-test-support.ts';

const skip = await rootSkipReason();

const mac = async (netns: string, dev: string): Promise<string> => /link\/ether (\S+)/.exec((await runHostCommand('ip', ['-n', netns, 'link', 'show', dev])).stdout)?.[1] ?? '';

describe('pod network bridge', () => {
  it('random bridge MACs are locally administered unicast addresses', () => {
    for (let i = 0; i < 50; i++) {
      const m = randomBridgeMac();
      assert.match(m, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      assert.equal(parseInt(m.slice(0, 2), 16) & 0x03, 0x02);
    }
  });

  // A bridge that takes its lowest port's MAC changes it when that pod goes, and every other
  // pod's ARP entry for the gateway points nowhere until it expires.
  it("keeps the gateway's MAC when pods come and go", { skip }, async () => {
    const tag = randomBytes(3).toString('hex');
    const node = { netns: `mzbt${tag}-node`, bridge: 'mzbr0', address: '10.250.77.1', prefixLength: 24 };
    const pods = [1, 2, 3].map((i) => ({ netns: `mzbt${tag}-p${i}`, hostVeth: `vp${i}`, address: `10.250.77.${10 + i}` }));
    try {
      await createNodeNetwork(node);
      const before = await mac(node.netns, node.bridge);
      for (const p of pods) await attachPodNetwork(node, p);
      assert.equal(await mac(node.netns, node.bridge), before);
      for (const p of pods.slice(0, 2)) {
        await detachPodNetwork(p);
        assert.equal(await mac(node.netns, node.bridge), before, `after ${p.netns} left`);
      }
    } finally {
      for (const p of pods) await deleteNetns(p.netns).catch(() => undefined);
      await deleteNetns(node.netns).catch(() => undefined);
    }
  });
});
