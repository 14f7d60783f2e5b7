import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { runHostCommand } from './host-command.ts';
import { createNetns, deleteNetns } from './netns.ts';

/**
 * The network of a local mesh: a "node" namespace holding a bridge with the first pod-CIDR
 * address (and no route out), and one namespace per pod with a veth to that bridge. Pods route
 * everything via the node address, which reaches only the bridge: nothing leaves the machine.
 */
export interface NodeNetwork {
  netns: string;
  bridge: string;
  address: string;
  prefixLength: number;
}

/**
 * A random locally administered unicast MAC for a pod bridge. A bridge without an address of its
 * own takes its lowest port's: deleting that pod's veth would change the gateway's MAC under every
 * other pod, whose ARP entries then point nowhere until they expire (~30 s of lost packets to the
 * node namespace: control plane, probes, forwards).
 */
export function randomBridgeMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export async function createNodeNetwork(node: NodeNetwork): Promise<void> {
  await createNetns(node.netns);
  await runHostCommand('ip', ['-n', node.netns, 'link', 'add', 'name', node.bridge, 'type', 'bridge']);
  await runHostCommand('ip', ['-n', node.netns, 'link', 'set', node.bridge, 'address', randomBridgeMac()]);
  await runHostCommand('ip', ['-n', node.netns, 'addr', 'add', `${node.address}/${node.prefixLength}`, 'dev', node.bridge]);
  await runHostCommand('ip', ['-n', node.netns, 'link', 'set', node.bridge, 'up']);
}

export interface PodNetwork {
  netns: string;
  /** The veth end on the node side (unique within the node namespace, <= 15 chars). */
  hostVeth: string;
  address: string;
}

export async function attachPodNetwork(node: NodeNetwork, pod: PodNetwork): Promise<void> {
  await createNetns(pod.netns);
  await runHostCommand('ip', ['-n', node.netns, 'link', 'add', 'name', pod.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
  await runHostCommand('ip', ['-n', node.netns, 'link', 'set', pod.hostVeth, 'master', node.bridge, 'up']);
  await runHostCommand('ip', ['-n', pod.netns, 'addr', 'add', `${pod.address}/${node.prefixLength}`, 'dev', 'eth0']);
  await runHostCommand('ip', ['-n', pod.netns, 'link', 'set', 'eth0', 'up']);
  await runHostCommand('ip', ['-n', pod.netns, 'route', 'add', 'default', 'via', node.address, 'dev', 'eth0']);
}

/** Remove a pod's namespace (its veth pair goes with it) and its /etc/netns files. */
export async function detachPodNetwork(pod: Pick<PodNetwork, 'netns'>): Promise<void> {
  await deleteNetns(pod.netns);
}

/**
 * Write one of the files `ip netns exec` bind-mounts over /etc. The file is rewritten in place
 * (the same inode: a bind mount follows the inode, so a rename would not reach processes already
 * running) and only when its content changes. Running processes read it on every lookup (glibc
 * re-reads /etc/hosts), so it is never truncated first: the new content goes in one write at
 * offset 0 and the file is cut to its length afterwards. A reader racing the write sees the old
 * or the new names, never an empty file (an empty hosts file failed a lookup of a Service name
 * mid-rollout: "details are currently unavailable").
 */
export async function writeNetnsEtcFile(netns: string, name: string, content: string): Promise<void> {
  const dir = `/etc/netns/${netns}`;
  await mkdir(dir, { recursive: true });
  const fh = await open(`${dir}/${name}`, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const bytes = Buffer.from(content, 'utf8');
    const current = await fh.readFile();
    if (current.equals(bytes)) return;
    await fh.write(bytes, 0, bytes.length, 0);
    if (current.length > bytes.length) await fh.truncate(bytes.length);
  } finally {
    await fh.close();
  }
}
