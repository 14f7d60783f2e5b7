/**
 * Two network namespaces ("client pod" and "server pod") joined by a veth pair, for the data-plane
 * benchmark. Guarded: the pod CIDR is made unreachable in the root namespace first, so no packet
 * for these addresses can leave the machine; everything made here is removed by `destroy()`. The
 * guard is taken as `mizzen up` takes it (a registered holder under /run/mizzen/guards), so a mesh
 * or a test running meanwhile shares the route instead of finding one with no live holder.
 */
import { execFileSync } from 'node:child_process';
import { GuardRoutes } from '../../src/runtime/guard-routes.ts';

const POD_CIDR = '10.244.0.0/16';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface NetnsPair {
  client: string;
  server: string;
  clientIp: string;
  serverIp: string;
  destroy(): Promise<void>;
}

export async function createNetnsPair(tag: string): Promise<NetnsPair> {
  const guard = new GuardRoutes({ cidrs: [POD_CIDR], owner: `bench-netns-pair-${tag}` });
  await guard.acquire();
  const client = `mzb-${tag}-c`;
  const server = `mzb-${tag}-s`;
  const clientIp = '10.244.254.1';
  const serverIp = '10.244.254.2';
  const destroy = async (): Promise<void> => {
    for (const ns of [client, server]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    await guard.release();
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
    await destroy();
    throw err;
  }
  return { client, server, clientIp, serverIp, destroy };
}
