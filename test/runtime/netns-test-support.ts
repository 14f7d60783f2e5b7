import { runHostCommand } from '../../src/runtime/host-command.ts';

/**
 * Why a network-namespace test cannot run here (not Linux, not root, no nft), or false when it
 * can. CI runs as root, so these tests run there.
 */
export async function rootSkipReason(): Promise<string | false> {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nft)';
  for (const tool of ['ip', 'nft', 'setpriv']) {
    const r = await runHostCommand('sh', ['-c', `command -v ${tool}`], { allowFailure: true });
    if (r.code !== 0) return `needs ${tool} (apt-get install iproute2 nftables util-linux)`;
  }
  return false;
}
