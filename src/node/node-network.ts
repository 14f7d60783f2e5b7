import { MizzenError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { runHostCommand } from '../runtime/host-command.ts';
import { AddressPool, parseCidr } from '../runtime/ipam.ts';
import { createNetns, deleteNetns, runInNetns } from '../runtime/netns.ts';
import { randomBridgeMac, type NodeNetwork } from '../runtime/pod-network.ts';

/**
 * The network of one `mizzen node`: a node namespace with the pod bridge (the first address of
 * the Node's podCIDR), linked to the root namespace by a veth pair. The root namespace routes the
 * podCIDR into it (so the API server reaches webhooks, pods/proxy and probes at pod IPs), and the
 * node's own address (the last host address of the podCIDR: the Node's InternalIP, where the
 * kubelet API listens) sits on the root end. Pods reach that address through proxy ARP on the
 * bridge. Traffic between nodes on this machine goes through the root namespace, forwarded only
 * for packets that come in on a node veth, looked up in a table of node routes only, and refused
 * by a rule right after it when no node route matches: nothing from a pod can leave the machine.
 */

/** Routing table and rule priority for traffic forwarded between node veths (root namespace). */
export const NODE_ROUTE_TABLE = 28026;
const NODE_RULE_PRIORITY = 31000;

export interface KubeNodeNetworkOptions {
  /** Prefix of this node's namespaces (`mkXXXXXX`). */
  prefix: string;
  podCidr: string;
  log: Logger;
}

export class KubeNodeNetwork {
  readonly netns: string;
  readonly bridge = 'mzbr0';
  readonly podCidr: string;
  /** The bridge address in the node namespace (pods' default gateway). */
  readonly gateway: string;
  /** The root-namespace end of the node link: the Node's InternalIP. */
  readonly hostAddress: string;
  readonly hostVeth: string;
  readonly prefixLength: number;
  /** Pod addresses (gateway and host address reserved). */
  readonly podIps: AddressPool;
  private readonly log: Logger;
  private peers = new Map<string, string>();
  private created = false;

  constructor(o: KubeNodeNetworkOptions) {
    const cidr = parseCidr(o.podCidr);
    if (cidr.prefix > 28) throw new MizzenError('USAGE', `pod CIDR ${o.podCidr} is too small for a node (at most /28)`);
    this.podCidr = cidr.text;
    this.prefixLength = cidr.prefix;
    this.netns = `${o.prefix}-node`;
    this.hostVeth = `${o.prefix}h`;
    this.podIps = new AddressPool(cidr.text, { firstOffset: 2 });
    this.gateway = this.podIps.addressAt(1);
    this.hostAddress = this.podIps.addressAt(2 ** (32 - cidr.prefix) - 2);
    this.podIps.reserve('gateway', this.gateway);
    this.podIps.reserve('host', this.hostAddress);
    this.log = o.log;
  }

  /** What runtime/pod-network.ts attaches pods to. */
  get node(): NodeNetwork {
    return { netns: this.netns, bridge: this.bridge, address: this.gateway, prefixLength: this.prefixLength };
  }

  async create(): Promise<void> {
    const ns = this.netns;
    const ip = (args: string[]): Promise<unknown> => runHostCommand('ip', args);
    const sysctl = (target: string | undefined, key: string): Promise<unknown> =>
      target ? runInNetns(target, 'sysctl', ['-qw', `${key}=1`]) : runHostCommand('sysctl', ['-qw', `${key}=1`]);
    // The pod CIDR route is this node's claim on the address range: another node holding it fails here.
    const taken = await runHostCommand('ip', ['route', 'show', 'exact', this.podCidr], { allowFailure: true });
    if (taken.stdout.split('\n').some((l) => /\bdev\b/.test(l))) {
      throw new MizzenError('RUNTIME_FAILED', `pod CIDR ${this.podCidr} is already routed on this machine (${taken.stdout.trim()})`, {
        hint: 'another node (of another cluster?) uses the same pod CIDR: give each cluster its own --cluster-cidr',
      });
    }
    this.created = true;
    await createNetns(ns);
    await ip(['-n', ns, 'link', 'add', 'name', this.bridge, 'type', 'bridge']);
    // Its own MAC (see randomBridgeMac): replies to the API server, webhook calls included, were
    // lost for ~30 s after each pod deletion while the bridge took its lowest port's.
    await ip(['-n', ns, 'link', 'set', this.bridge, 'address', randomBridgeMac()]);
    await ip(['-n', ns, 'addr', 'add', `${this.gateway}/${this.prefixLength}`, 'dev', this.bridge]);
    await ip(['-n', ns, 'link', 'set', this.bridge, 'up']);
    await sysctl(ns, 'net.ipv4.ip_forward');
    await sysctl(ns, `net.ipv4.conf.${this.bridge}.proxy_arp`);
    await ip(['link', 'add', 'name', this.hostVeth, 'type', 'veth', 'peer', 'name', 'host0', 'netns', ns]);
    await ip(['addr', 'add', `${this.hostAddress}/32`, 'dev', this.hostVeth]);
    await removeRules(this.hostVeth);
    // Rules before forwarding, and refuse before allow: at no moment is a packet from the node looked up in `main`.
    await ip(['rule', 'add', 'iif', this.hostVeth, 'unreachable', 'priority', String(NODE_RULE_PRIORITY + 1)]);
    await ip(['rule', 'add', 'iif', this.hostVeth, 'lookup', String(NODE_ROUTE_TABLE), 'priority', String(NODE_RULE_PRIORITY)]);
    await ip(['link', 'set', this.hostVeth, 'up']);
    await sysctl(undefined, `net.ipv4.conf.${this.hostVeth}.forwarding`);
    await ip(['-n', ns, 'link', 'set', 'host0', 'up']);
    await ip(['-n', ns, 'route', 'add', `${this.hostAddress}/32`, 'dev', 'host0']);
    await ip(['route', 'add', this.podCidr, 'via', this.gateway, 'dev', this.hostVeth, 'onlink', 'src', this.hostAddress]);
    await ip(['route', 'add', this.podCidr, 'via', this.gateway, 'dev', this.hostVeth, 'onlink', 'table', String(NODE_ROUTE_TABLE)]);
    this.log.info({ podCidr: this.podCidr, address: this.hostAddress, netns: ns }, 'node network created');
  }

  /** Routes to the pod CIDRs of the other nodes on this machine (through the root namespace). */
  async setPeers(cidrs: readonly string[]): Promise<void> {
    const want = new Set(cidrs.filter((c) => c !== this.podCidr));
    for (const [cidr] of this.peers) {
      if (want.has(cidr)) continue;
      await runHostCommand('ip', ['-n', this.netns, 'route', 'del', cidr], { allowFailure: true });
      this.peers.delete(cidr);
    }
    for (const cidr of want) {
      if (this.peers.has(cidr)) continue;
      const r = await runHostCommand('ip', ['-n', this.netns, 'route', 'replace', cidr, 'via', this.hostAddress, 'dev', 'host0', 'onlink'], { allowFailure: true });
      if (r.code === 0) this.peers.set(cidr, cidr);
      else this.log.warn({ cidr, err: r.stderr.trim() }, 'cannot route to another node');
    }
  }

  /** Remove the node namespace (its veths and routes go with it) and the forwarding rule. */
  async destroy(): Promise<void> {
    if (!this.created) return;
    await deleteNetns(this.netns);
    await runHostCommand('ip', ['link', 'del', this.hostVeth], { allowFailure: true });
    await removeRules(this.hostVeth);
    this.created = false;
  }
}

/** Delete the forwarding rules of a node veth (both, however many times they were added). */
async function removeRules(veth: string): Promise<void> {
  for (const action of [['lookup', String(NODE_ROUTE_TABLE)], ['unreachable']]) {
    for (let i = 0; i < 10; i++) {
      const r = await runHostCommand('ip', ['rule', 'del', 'iif', veth, ...action], { allowFailure: true });
      if (r.code !== 0) break;
    }
  }
}

/** Remove what a node with this prefix left in the root namespace (after a crash). */
export async function removeNodeLinkLeftovers(prefix: string): Promise<void> {
  await runHostCommand('ip', ['link', 'del', `${prefix}h`], { allowFailure: true });
  await removeRules(`${prefix}h`);
}
