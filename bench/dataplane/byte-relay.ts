/**
 * The floor: a process that only pipes bytes (what any userspace proxy costs at least on this
 * machine: a wake-up and two copies per hop). argv: LISTEN_PORT TARGET_HOST TARGET_PORT [LISTEN_HOST]
 */
import { connect, createServer } from 'node:net';

const [listenPort, targetHost, targetPort, listenHost] = process.argv.slice(2);
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
server.listen(Number(listenPort), listenHost ?? '0.0.0.0', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
