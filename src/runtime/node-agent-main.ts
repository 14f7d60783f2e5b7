// The node agent: runs inside the mesh's node namespace (`ip netns exec NODE node
// node-agent-main.ts SOCKET`) and dials pod addresses for processes outside it. A client
// connects to the Unix socket, writes one JSON line {"host": "10.244.0.5", "port": 9080}, reads
// "OK\n" (or "ERR message\n"), then the connection is a byte pipe to that address.
import { rmSync } from 'node:fs';
import net from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: node-agent-main.ts SOCKET\n');
  process.exit(2);
}
rmSync(socketPath, { force: true });

const server = net.createServer((client) => {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const nl = head.indexOf(10);
    if (nl < 0) {
      if (head.length > 4096) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    let target: { host?: unknown; port?: unknown };
    try {
      target = JSON.parse(head.subarray(0, nl).toString('utf8')) as { host?: unknown; port?: unknown };
    } catch {
      client.end('ERR bad request\n');
      return;
    }
    const rest = head.subarray(nl + 1);
    const upstream = net.connect({ host: String(target.host), port: Number(target.port) });
    upstream.once('connect', () => {
      client.write('OK\n');
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err) => {
      if (client.writable && upstream.connecting) client.end(`ERR ${err.message}\n`);
      else client.destroy();
    });
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  client.on('data', onData);
  client.on('error', () => {});
});
server.listen(socketPath, () => process.stdout.write(`node agent listening on ${socketPath}\n`));
const stop = (): void => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
