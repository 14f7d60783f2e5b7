import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createNetns, deleteNetns, runInNetns } from '../../src/runtime/netns.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { rootSkipReason } from './netns-test-support.ts';

const skip = await rootSkipReason();
const probe = fileURLToPath(new URL('./fixtures/original-dst-probe.ts', import.meta.url));

describe('getOriginalDestination', { skip }, () => {
  const ns = `mzt-odst-${process.pid}`;

  before(async () => {
    await createNetns(ns);
    // Addresses that exist only inside this namespace: a veth pair with both ends inside it.
    await runHostCommand('ip', ['-n', ns, 'link', 'add', 'name', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    await runHostCommand('ip', ['-n', ns, 'link', 'set', 'd0', 'up']);
    await runHostCommand('ip', ['-n', ns, 'link', 'set', 'd1', 'up']);
    await runHostCommand('ip', ['-n', ns, 'addr', 'add', '10.255.0.1/24', 'dev', 'd0']);
    await runHostCommand('ip', ['-n', ns, 'addr', 'add', 'fd00:255::1/64', 'dev', 'd0', 'nodad']);
    await runInNetns(ns, 'nft', ['-f', '-'], {
      input: `table inet mzt_redirect {
  chain output {
    type nat hook output priority -100; policy accept;
    tcp dport 15001 return
    tcp dport { 7777, 8443 } redirect to :15001
  }
}
`,
    });
  });

  after(async () => {
    await deleteNetns(ns);
  });

  it('reads the IPv4 and IPv6 destination a client dialled before REDIRECT', async () => {
    const r = await runInNetns(ns, process.execPath, [probe, '10.255.0.99:7777', '[fd00:255::99]:8443']);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { target: string; result: unknown });
    assert.deepEqual(lines, [
      { target: '10.255.0.99:7777', result: { address: '10.255.0.99', port: 7777 } },
      { target: '[fd00:255::99]:8443', result: { address: 'fd00:255::99', port: 8443 } },
    ]);
  });

  it('returns the local address itself for a connection that was not redirected', async () => {
    const r = await runInNetns(ns, process.execPath, [probe, '127.0.0.1:15001']);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { target: '127.0.0.1:15001', result: { address: '127.0.0.1', port: 15001 } });
  });
});
