/**
 * Two network namespaces ("client pod" and "server pod") joined by a veth pair, for the data-plane
 * benchmark. Guarded: the pod CIDR is made unreachable in the root namespace first, so no packet
 * for these addresses can leave the machine; everything made here is removed by `destroy()`.
 */
import { execFileSync } from 'node:child_process';

const POD_CIDR = '10.244.0.0/16';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface NetnsPair {
  client: string;
  server: string;
  clientIp: string;
  serverIp: string;
  destroy(): void;
}

export function createNetnsPair(tag: string): NetnsPair {
  let addedGuard = false;
  if (!ip('route', 'show', 'type', 'unreachable').includes(POD_CIDR.split('/')[0])) {
    ip('route', 'add', 'unreachable', POD_CIDR);
    addedGuard = true;
  }
  const client = `mzb-${tag}-c`;
  const server = `mzb-${tag}-s`;
  const clientIp = '10.244.254.1';
  const serverIp = '10.244.254.2';
  const destroy = (): void => {
    for (const ns of [client, server]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    if (addedGuard) {
      try {
        ip('route', 'del', 'unreachable', POD_CIDR);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip('netns', 'add', client);
    ip('netns', 'add', server);
    ip('link', 'add', `mzbc${tag}`.slice(0, 15), 'netns', client, 'type', 'veth', 'peer', 'name', `mzbs${tag}`.slice(0, 15), 'netns', server);
    for (const [ns, dev, addr] of [
      [client, `mzbc${tag}`.slice(0, 15), clientIp],
      [server, `mzbs${tag}`.slice(0, 15), serverIp],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { client, server, clientIp, serverIp, destroy };
}
