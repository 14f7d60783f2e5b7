import type { ConfigResource } from '../api/config-resource.ts';
import type { Logger } from '../lib/log.ts';
import { GuardRoutes } from './guard-routes.ts';
import { runHostCommand } from './host-command.ts';
import { AddressPool, formatIpv4, parseCidr } from './ipam.ts';
import { deleteNetns, runInNetns } from './netns.ts';
import { createNodeNetwork, type NodeNetwork } from './pod-network.ts';
import { serviceBackends, type EndpointPod, type ServiceView } from './service-endpoints.ts';

/** Istio's network label: on a pod (or its namespace) it says which network the pod is on. */
export const NETWORK_LABEL = 'topology.istio.io/network';

/** Where a pod of one network lives: its node namespace, its address pool, how it reaches discovery. */
export interface NetworkPlacement {
  name: string;
  node: NodeNetwork;
  pool: AddressPool;
  discoveryAddress: string;
}

interface ExtraNetwork extends NetworkPlacement {
  index: number;
  guard: GuardRoutes;
  /** The node-1 end of the link to this network's node (`nwINDEX`). */
  link: string;
}

export interface MeshNetworksOptions {
  prefix: string;
  /** The default network's pod CIDR; network k gets the k-th CIDR of that size after it. */
  podCidr: string;
  defaultNode: NodeNetwork;
  defaultPool: AddressPool;
  log: Logger;
}

/**
 * Istio's multi-network model on one machine. The default network is the mesh's node namespace
 * (and `istio-system`'s `topology.istio.io/network` names it); every other network a pod names
 * gets a node namespace of its own with its own bridge and pod CIDR (guarded by an unreachable
 * route, DESIGN §6), created on its first pod. The nodes are joined by one veth link each to the
 * default node, whose two ends hold one address each (the last host of each CIDR, a /32 with its
 * peer): the only addresses one network can reach in the other. Each node has an unreachable
 * route for the other networks' CIDRs, so pod addresses across networks cannot be reached;
 * traffic leaving over a link is masqueraded (replies need no route back). A network's link
 * address is its load-balancer address: a `LoadBalancer` Service labelled with a network gets it
 * as `status.loadBalancer.ingress`, and that node DNATs the Service's ports there to its ready
 * pods (random per connection) (Istio's east-west gateway: its address is what split-horizon EDS hands other networks).
 * Discovery runs in the default node: other networks' pods reach it at the default node's link
 * address, as a remote network reaches istiod through a gateway.
 */
export class MeshNetworks {
  private readonly o: MeshNetworksOptions;
  private readonly extra = new Map<string, ExtraNetwork>();
  private readonly indexes = new Map<string, number>();
  private readonly creating = new Map<string, Promise<ExtraNetwork>>();
  private readonly appliedRules = new Map<string, string>();
  private defaultName = '';

  constructor(options: MeshNetworksOptions) {
    this.o = options;
    options.defaultPool.reserve('network-link', this.linkAddress(0));
  }

  /** The default network's name (istio-system's label), '' when unnamed. */
  setDefaultName(name: string | undefined): void {
    this.defaultName = name ?? '';
  }

  /** The network a pod is on: its own label, else its namespace's, else the default network. */
  networkOf(podLabels: Readonly<Record<string, string>>, namespaceLabels: Readonly<Record<string, string>>): string {
    return podLabels[NETWORK_LABEL] ?? namespaceLabels[NETWORK_LABEL] ?? this.defaultName;
  }

  /** Every pod CIDR in use (the default one first). */
  cidrs(): string[] {
    return [this.o.podCidr, ...[...this.extra.values()].map((n) => n.pool.cidrText)];
  }

  private indexOf(name: string): number {
    if (name === this.defaultName) return 0;
    let k = this.indexes.get(name);
    if (k === undefined) this.indexes.set(name, (k = this.indexes.size + 1));
    return k;
  }

  private cidrAt(k: number): string {
    const c = parseCidr(this.o.podCidr);
    const size = 2 ** (32 - c.prefix);
    return `${formatIpv4((c.base + k * size) >>> 0)}/${c.prefix}`;
  }

  /** Network k's link address: the last host address of its CIDR. */
  private linkAddress(k: number): string {
    const c = parseCidr(this.cidrAt(k));
    return formatIpv4((c.base + 2 ** (32 - c.prefix) - 2) >>> 0);
  }

  /** A LoadBalancer Service labelled with a network gets that network's address as its status; undefined for others. */
  loadBalancerStatus(r: ConfigResource): { loadBalancer: { ingress: { ip: string }[] } } | undefined {
    const network = r.metadata.labels?.[NETWORK_LABEL];
    if (r.kind !== 'Service' || r.group !== '' || network === undefined || (r.spec as { type?: string }).type !== 'LoadBalancer') return undefined;
    return { loadBalancer: { ingress: [{ ip: this.linkAddress(this.indexOf(network)) }] } };
  }

  /** Where a pod of this network goes (the network's node is made on first use). */
  async placement(name: string): Promise<NetworkPlacement> {
    const k = this.indexOf(name);
    if (k === 0) return { name, node: this.o.defaultNode, pool: this.o.defaultPool, discoveryAddress: this.o.defaultNode.address };
    const have = this.extra.get(name);
    if (have) return have;
    let p = this.creating.get(name);
    if (!p) {
      p = this.create(name, k);
      this.creating.set(name, p);
      p.finally(() => this.creating.delete(name)).catch(() => {});
    }
    return p;
  }

  private async create(name: string, k: number): Promise<ExtraNetwork> {
    const cidr = this.cidrAt(k);
    const pool = new AddressPool(cidr, { firstOffset: 2 });
    const node: NodeNetwork = { netns: `${this.o.prefix}-node${k}`, bridge: 'mzbr0', address: pool.addressAt(1), prefixLength: parseCidr(cidr).prefix };
    pool.reserve('node', node.address);
    const far = this.linkAddress(k);
    const near = this.linkAddress(0);
    pool.reserve('network-link', far);
    const guard = new GuardRoutes({ cidrs: [cidr], owner: `${this.o.prefix}.network${k}` });
    await guard.acquire();
    const link = `nw${k}`;
    const n: ExtraNetwork = { name, index: k, node, pool, discoveryAddress: near, guard, link };
    this.extra.set(name, n);
    const d = this.o.defaultNode.netns;
    await createNodeNetwork(node);
    await runHostCommand('ip', ['-n', d, 'link', 'add', 'name', link, 'type', 'veth', 'peer', 'name', 'nw0', 'netns', node.netns]);
    await runHostCommand('ip', ['-n', d, 'addr', 'add', near, 'peer', `${far}/32`, 'dev', link]);
    await runHostCommand('ip', ['-n', node.netns, 'addr', 'add', far, 'peer', `${near}/32`, 'dev', 'nw0']);
    await runHostCommand('ip', ['-n', d, 'link', 'set', link, 'up']);
    await runHostCommand('ip', ['-n', node.netns, 'link', 'set', 'nw0', 'up']);
    for (const ns of [d, node.netns]) await runInNetns(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    // no pod address of one network is reachable from another: only the /32 link peers route
    await runHostCommand('ip', ['-n', d, 'route', 'add', 'unreachable', cidr]);
    for (const other of this.cidrs().filter((c) => c !== cidr)) await runHostCommand('ip', ['-n', node.netns, 'route', 'add', 'unreachable', other], { allowFailure: true });
    for (const other of this.extra.values()) if (other !== n) await runHostCommand('ip', ['-n', other.node.netns, 'route', 'add', 'unreachable', cidr], { allowFailure: true });
    this.o.log.info({ network: name, cidr, netns: node.netns, address: far }, 'network node created');
    return n;
  }

  /**
   * Each node's NAT: masquerade what leaves over a link, and DNAT its link address on the ports
   * of its network's LoadBalancer Services to a ready pod of each (re-applied when it changes).
   */
  async syncRules(services: readonly ServiceView[], pods: readonly EndpointPod[]): Promise<void> {
    if (this.extra.size === 0) return;
    const nodes: { netns: string; address: string; links: string[]; network: string; pool?: AddressPool }[] = [
      { netns: this.o.defaultNode.netns, address: this.linkAddress(0), links: [...this.extra.values()].map((n) => n.link), network: this.defaultName, pool: this.o.defaultPool },
      ...[...this.extra.values()].map((n) => ({ netns: n.node.netns, address: this.linkAddress(n.index), links: ['nw0'], network: n.name, pool: n.pool })),
    ];
    for (const node of nodes) {
      const dnat: string[] = [];
      for (const s of services) {
        if (s.spec.type !== 'LoadBalancer') continue;
        if (this.serviceNetwork(s) !== node.network) continue;
        for (const port of s.spec.ports ?? []) {
          const here = serviceBackends(s, port, pods.filter((p) => node.pool?.contains(p.ip)));
          const rule = `    ip daddr ${node.address} tcp dport ${port.port} dnat ip to`;
          if (here.length === 1) dnat.push(`${rule} ${here[0]!.address}:${here[0]!.port}`);
          // as a cloud load balancer spreads connections over the gateway's pods
          else if (here.length > 1) dnat.push(`${rule} numgen random mod ${here.length} map { ${here.map((b, i) => `${i} : ${b.address} . ${b.port}`).join(', ')} }`);
        }
      }
      const text = [
        'table ip mizzen_networks {}',
        'flush table ip mizzen_networks',
        'table ip mizzen_networks {',
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        ...dnat,
        '  }',
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        ...node.links.map((l) => `    oifname "${l}" masquerade`),
        '  }',
        '}',
        '',
      ].join('\n');
      if (this.appliedRules.get(node.netns) === text) continue;
      try {
        await runInNetns(node.netns, 'nft', ['-f', '-'], { input: text });
        this.appliedRules.set(node.netns, text);
      } catch (err) {
        this.o.log.warn({ netns: node.netns, err: (err as Error).message }, 'cannot update the network node rules (gateway DNAT, link masquerade)');
      }
    }
  }

  private readonly labelsOf = new Map<string, string>();

  /** Service network labels, recorded by the runtime when Services are stored. */
  noteService(r: ConfigResource): void {
    const key = `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
    const n = r.metadata.labels?.[NETWORK_LABEL];
    if (n === undefined) this.labelsOf.delete(key);
    else this.labelsOf.set(key, n);
  }

  private serviceNetwork(s: ServiceView): string | undefined {
    return this.labelsOf.get(`${s.namespace}/${s.name}`);
  }

  /** A pod's address goes back to whichever pool gave it. */
  release(owner: string): void {
    this.o.defaultPool.release(owner);
    for (const n of this.extra.values()) n.pool.release(owner);
  }

  /** Remove the extra nodes (their namespaces take the link and rules with them) and their guards. */
  async close(): Promise<void> {
    for (const n of this.extra.values()) {
      await deleteNetns(n.node.netns);
      await n.guard.release();
    }
    this.extra.clear();
  }
}
