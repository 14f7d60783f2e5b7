import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZdsCodec } from '../../src/api/workload/zds-codec.ts';
import { SeqpacketListener, SeqpacketSocket } from '../../src/lib/unix-seqpacket.ts';

/** ZDS transport: SOCK_SEQPACKET messages with a network namespace fd passed as SCM_RIGHTS. */
describe('ZDS over a SEQPACKET Unix socket', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  it('carries AddWorkload with the netns fd, acks, and reports the peer closing', async () => {
    const path = join(tmpdir(), `mizzen-zds-${process.pid}.sock`);
    const codec = new ZdsCodec();
    const listener = new SeqpacketListener(path);
    try {
      const ztunnel = SeqpacketSocket.connect(path);
      let agent: SeqpacketSocket | undefined;
      for (let i = 0; i < 200 && !agent; i++) {
        agent = listener.tryAccept();
        if (!agent) await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(agent, 'accepted');
      ztunnel.send(codec.encodeHello());
      const hello = await agent.receive();
      assert.equal(codec.decodeHello(hello!.data), 1);
      const netns = openSync('/proc/self/ns/net', 'r');
      agent.send(codec.encodeRequest({ add: { uid: 'pod-uid-1', workloadInfo: { name: 'p', namespace: 'ns', serviceAccount: 'sa' } } }), [netns]);
      const msg = await ztunnel.receive();
      assert.deepEqual(codec.decodeRequest(msg!.data), { add: { uid: 'pod-uid-1', workloadInfo: { name: 'p', namespace: 'ns', serviceAccount: 'sa' } } });
      assert.equal(msg!.fds.length, 1);
      assert.equal(readlinkSync(`/proc/self/fd/${msg!.fds[0]}`), readlinkSync('/proc/self/ns/net'), 'the fd refers to the same network namespace');
      ztunnel.send(codec.encodeAck());
      assert.equal(codec.decodeAck((await agent.receive())!.data), '');
      agent.send(codec.encodeRequest({ del: { uid: 'pod-uid-1' } }));
      assert.deepEqual(codec.decodeRequest((await ztunnel.receive())!.data), { del: { uid: 'pod-uid-1' } });
      ztunnel.send(codec.encodeAck('no such workload'));
      assert.equal(codec.decodeAck((await agent.receive())!.data), 'no such workload');
      const pending = agent.receive();
      ztunnel.close();
      assert.equal(await pending, undefined);
      agent.close();
    } finally {
      listener.close();
      rmSync(path, { force: true });
    }
  });
});
