// Istio's `tcp-echo` sample server (samples/tcp-echo, image registry.istio.io/release/tcp-echo-server),
// written here in Node with the same behaviour: `tcp-echo.ts PORTS PREFIX` listens on every port
// of the comma-separated PORTS and answers each line a client sends with `PREFIX LINE`.
import { createServer } from 'node:net';

const [portsArg = '9000', prefix = 'hello'] = process.argv.slice(2);
const ports = portsArg.split(',').map((p) => Number(p.trim())).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
if (ports.length === 0) {
  process.stderr.write(`usage: tcp-echo.ts PORT[,PORT...] PREFIX (got ${portsArg})\n`);
  process.exit(2);
}

for (const port of ports) {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        socket.write(`${prefix} ${line}\n`);
      }
    });
    socket.on('end', () => {
      if (pending) socket.write(`${prefix} ${pending}\n`);
      socket.end();
    });
  });
  server.listen(port, () => process.stdout.write(`listening on ${port}, prefix: ${prefix}\n`));
}
