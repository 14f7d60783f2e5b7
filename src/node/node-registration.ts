import { readFileSync } from 'node:fs';
import { arch, cpus, release, totalmem } from 'node:os';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { isNotFound, type KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';

type Obj = Record<string, any>;

export const NODE_VERSION = 'v1.36.3-mizzen.0.1.0';
/** The kubelet's defaults: lease renewed every 10 s for 40 s, status posted at least every minute. */
const LEASE_SECONDS = 40;
const RENEW_MS = 10_000;
const STATUS_MS = 60_000;

export interface NodeRegistrationOptions {
  api: KubeApi;
  name: string;
  /** Extra labels (`--node-labels`), e.g. topology.kubernetes.io/zone for locality. */
  labels: Record<string, string>;
  kubeletPort: number;
  clock: Clock;
  log: Logger;
  /** A podCIDR to set when the cluster allocates none (`--pod-cidr`). */
  podCidr?: string;
}

const read = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
};

const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le' };
const goArch = (): string => GO_ARCH[arch()] ?? arch();

/** The Node's capacity: this machine's CPUs and memory, 110 pods (the kubelet's default). */
export function nodeCapacity(): { cpu: number; memory: number; pods: number } {
  return { cpu: cpus().length, memory: totalmem(), pods: 110 };
}

/**
 * The kubelet's registration and heartbeats: the Node object (labels, capacity, node info, the
 * kubelet endpoint), its Ready condition, a Lease in kube-node-lease renewed every 10 s, and the
 * status posted when it changes and at least every minute.
 */
export class NodeRegistration {
  private readonly o: NodeRegistrationOptions;
  private leaseTimer: TimerHandle | undefined;
  private statusTimer: TimerHandle | undefined;
  private ready: { ok: boolean; message: string } = { ok: false, message: 'mizzen node is starting' };
  private address: string | undefined;
  private uid = '';
  private lastStatus = '';
  private lastStatusAt = 0;
  private closed = false;

  constructor(o: NodeRegistrationOptions) {
    this.o = o;
  }

  /** Create (or take over) the Node object; start heartbeats. */
  async register(): Promise<void> {
    const o = this.o;
    const labels = {
      'kubernetes.io/hostname': o.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': goArch(),
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': goArch(),
      ...o.labels,
    };
    let node: Obj;
    try {
      node = await o.api.request('GET', `/api/v1/nodes/${o.name}`);
      node = await o.api.request('PATCH', `/api/v1/nodes/${o.name}`, { body: { metadata: { labels } }, contentType: 'application/merge-patch+json' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      node = await o.api.request('POST', '/api/v1/nodes', {
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: o.name, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } }, spec: o.podCidr ? { podCIDR: o.podCidr, podCIDRs: [o.podCidr] } : {} },
      });
    }
    this.uid = String(node.metadata?.uid ?? '');
    await this.postStatus(true);
    await this.renewLease();
    this.scheduleLease();
    this.scheduleStatus();
    o.log.info({ node: o.name }, 'node registered');
  }

  /** The Node's podCIDR, once kube-controller-manager allocated it (or `--pod-cidr`). */
  async podCidr(): Promise<string> {
    let warned = 0;
    for (;;) {
      const node = await this.o.api.request<Obj>('GET', `/api/v1/nodes/${this.o.name}`).catch(() => undefined);
      const cidr = node?.spec?.podCIDR as string | undefined;
      if (cidr) return cidr;
      if (this.o.podCidr) {
        await this.o.api.request('PATCH', `/api/v1/nodes/${this.o.name}`, { body: { spec: { podCIDR: this.o.podCidr, podCIDRs: [this.o.podCidr] } }, contentType: 'application/merge-patch+json' }).catch(() => undefined);
      } else if (Date.now() - warned > 15_000) {
        warned = Date.now();
        this.o.log.warn({ node: this.o.name }, 'waiting for the Node\'s spec.podCIDR (kube-controller-manager --allocate-node-cidrs allocates it; or start mizzen node with --pod-cidr)');
      }
      if (this.closed) throw new Error('node closed');
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The node's address (InternalIP) and readiness; posted at once when changed. */
  async setReady(ok: boolean, message: string, address?: string): Promise<void> {
    this.ready = { ok, message };
    if (address) this.address = address;
    await this.postStatus(false);
  }

  private status(): Obj {
    const cap = nodeCapacity();
    const now = new Date(this.o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const resources = { cpu: String(cap.cpu), memory: `${Math.floor(cap.memory / 1024)}Ki`, pods: String(cap.pods) };
    const cond = (type: string, ok: boolean, reason: string, message: string): Obj => ({ type, status: ok ? 'True' : 'False', reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    const machineId = read('/etc/machine-id');
    const pretty = /PRETTY_NAME="?([^"\n]*)"?/.exec(read('/etc/os-release'))?.[1] ?? 'Linux';
    return {
      capacity: resources,
      allocatable: resources,
      conditions: [
        cond('MemoryPressure', false, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', false, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', false, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', this.ready.ok, this.ready.ok ? 'KubeletReady' : 'KubeletNotReady', this.ready.message),
      ],
      addresses: [...(this.address ? [{ type: 'InternalIP', address: this.address }] : []), { type: 'Hostname', address: this.o.name }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort } },
      // The API server then forwards kubectl's exec/attach/port-forward WebSockets to the node
      // as they are (Kubernetes >= 1.36) instead of translating them to SPDY.
      declaredFeatures: ['ExtendWebSocketsToKubelet'],
      nodeInfo: {
        machineID: machineId,
        systemUUID: machineId,
        bootID: read('/proc/sys/kernel/random/boot_id'),
        kernelVersion: release(),
        osImage: pretty,
        containerRuntimeVersion: 'mizzen://0.1.0',
        kubeletVersion: NODE_VERSION,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: goArch(),
      },
    };
  }

  /**
   * Post the status when something but the heartbeat times changed, or a minute passed. The
   * conditions keep their transition times from the object when their status did not change.
   */
  private async postStatus(force: boolean): Promise<void> {
    if (this.closed) return;
    const status = this.status();
    const key = JSON.stringify({ ...status, conditions: status.conditions.map((c: Obj) => [c.type, c.status, c.message]) });
    if (!force && key === this.lastStatus && this.o.clock.now() - this.lastStatusAt < STATUS_MS) return;
    const node = await this.o.api.request<Obj>('GET', `/api/v1/nodes/${this.o.name}`).catch(() => undefined);
    for (const c of status.conditions as Obj[]) {
      const prev = ((node?.status?.conditions ?? []) as Obj[]).find((p) => p.type === c.type);
      if (prev && prev.status === c.status) c.lastTransitionTime = prev.lastTransitionTime;
    }
    await this.o.api.request('PATCH', `/api/v1/nodes/${this.o.name}/status`, { body: { status }, contentType: 'application/merge-patch+json' });
    this.lastStatus = key;
    this.lastStatusAt = this.o.clock.now();
  }

  private async renewLease(): Promise<void> {
    const o = this.o;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${o.name}`;
    const renewTime = new Date(o.clock.now()).toISOString().replace('Z', '000Z');
    try {
      await o.api.request('PATCH', path, { body: { spec: { holderIdentity: o.name, leaseDurationSeconds: LEASE_SECONDS, renewTime } }, contentType: 'application/merge-patch+json' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await o.api.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: o.name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: o.name, uid: this.uid }] },
          spec: { holderIdentity: o.name, leaseDurationSeconds: LEASE_SECONDS, renewTime },
        },
      });
    }
  }

  private scheduleLease(): void {
    if (this.closed) return;
    this.leaseTimer = this.o.clock.setTimer(() => {
      void this.renewLease()
        .catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'node lease not renewed'))
        .finally(() => this.scheduleLease());
    }, RENEW_MS);
  }

  private scheduleStatus(): void {
    if (this.closed) return;
    this.statusTimer = this.o.clock.setTimer(() => {
      void this.postStatus(false)
        .catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'node status not posted'))
        .finally(() => this.scheduleStatus());
    }, RENEW_MS);
  }

  /** Stop heartbeats; the Node becomes NotReady when its lease runs out, as a stopped kubelet's. */
  async close(message: string): Promise<void> {
    this.ready = { ok: false, message };
    await this.postStatus(true).catch(() => undefined);
    this.closed = true;
    this.leaseTimer?.cancel();
    this.statusTimer?.cancel();
  }
}
