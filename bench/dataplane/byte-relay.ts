/**
 * The floor: a process that only pipes bytes (what any userspace proxy costs at least on this
 * machine: a wake-up and two copies per hop). argv: LISTEN_PORT TARGET_HOST TARGET_PORT [LISTEN_HOST]
 * [+ LISTEN_PORT TARGET_HOST TARGET_PORT [LISTEN_HOST]]... (one listener per group, all in this process).
 */
import { connect, createServer } from 'node:net';

const groups: string[][] = [[]];
for (const arg of process.argv.slice(2)) {
  if (arg === '+') groups.push([]);
  else groups[groups.length - 1].push(arg);
}
let listening = 0;
const servers = groups.map(([listenPort, targetHost, targetPort, listenHost]) => {
  const server = createServer({ noDelay: true }, (down) => {
    const up = connect({ host: targetHost, port: Number(targetPort), noDelay: true });
    down.pipe(up).pipe(down);
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  server.listen(Number(listenPort), listenHost ?? '0.0.0.0', () => {
    if (++listening === groups.length) process.stdout.write('ready\n');
  });
  return server;
});
process.on('SIGTERM', () => {
  let open = servers.length;
  for (const s of servers) s.close(() => --open === 0 && process.exit(0));
});
