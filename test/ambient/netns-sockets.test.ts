import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Server, Socket } from 'node:net';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { NetworkNamespace } from '../../src/lib/network-namespace.ts';
import { createListenerFd, createSocketFd } from '../../src/lib/socket-fd.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { rootSkipReason } from '../runtime/netns-test-support.ts';

/**
 * The in-pod mechanism ztunnel relies on, in one Node process: setns(2) into a pod's network
 * namespace on the main thread, create sockets there through FFI (listeners, marked outbound
 * sockets, UDP), hand them to Node, and come back; the root namespace is unaffected.
 */
const skip = await rootSkipReason();

describe('sockets created inside another network namespace', { skip }, () => {
  const name = `mzlab-${randomBytes(3).toString('hex')}`;
  let home: NetworkNamespace;
  let pod: NetworkNamespace;
  const closers: (() => void)[] = [];

  before(async () => {
    await runHostCommand('ip', ['netns', 'add', name]);
    await runHostCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    home = NetworkNamespace.current();
    pod = NetworkNamespace.open(`/var/run/netns/${name}`);
  });
  after(async () => {
    for (const c of closers) c();
    pod?.close();
    home?.close();
    await runHostCommand('ip', ['netns', 'delete', name], { allowFailure: true });
  });

  it('listens in the pod only, connects from inside with SO_MARK, and binds UDP there', async () => {
    // The root namespace holds the port the whole time (a port picked at random could be taken
    // there by anything else on a busy machine); the pod's listener on the same port still binds.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
    closers.push(() => probe.close());
    const port = (probe.address() as { port: number }).port;
    const fd = pod.run(home, () => createListenerFd('0.0.0.0', port));
    const server: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => server.listen({ fd }, resolve));
    closers.push(() => server.close());

    const cfd = pod.run(home, () => createSocketFd({ mark: 0x539 }));
    const client = new Socket({ fd: cfd, readable: true, writable: true });
    const echoed = await new Promise<string>((resolve, reject) => {
      client.once('error', reject);
      client.connect(port, '127.0.0.1', () => client.end('ping'));
      let got = '';
      client.on('data', (d) => (got += d));
      client.on('end', () => resolve(got));
    });
    assert.equal(echoed, 'ping');

    const ufd = pod.run(home, () => createSocketFd({ protocol: 'udp', bind: { address: '127.0.0.1', port } }));
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind({ fd: ufd }, resolve));
    closers.push(() => udp.close());
    udp.on('message', (m, rinfo) => udp.send(m, rinfo.port, rinfo.address));
    const out = await runHostCommand('ip', ['netns', 'exec', name, 'sh', '-c', `printf hello | timeout 5 nc -u -w1 127.0.0.1 ${port} || python3 -c "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(5);s.sendto(b'hello',('127.0.0.1',${port}));print(s.recv(99).decode())"`], { allowFailure: true });
    assert.match(out.stdout, /hello/);
  });
});
