import { errorMessage } from '../lib/errors.ts';
import { KubeApiError, type KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';

/** Istio's lease names (pilot/pkg/leaderelection); a non-default revision appends `-REV`. */
export const NAMESPACE_CONTROLLER_LEASE = 'istio-namespace-controller-election';
export const VALIDATION_CONTROLLER_LEASE = 'istio-validation-controller-election';

export interface LeaderElectionOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  /** This replica (the pod name). */
  identity: string;
  /** Lease duration (istiod: 30 s); renew every quarter, give up leadership after half without a renewal. */
  leaseDurationMs: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');

/**
 * coordination.k8s.io/v1 Lease election, as client-go's leaderelection: try to acquire or renew
 * every `leaseDuration/4`; another holder's lease counts as expired when its record has not
 * changed for a whole lease duration of *our* clock (no trust in remote timestamps); a leader that
 * cannot renew for `leaseDuration/2` stops leading. A graceful close releases the lease so a
 * follower takes over at once; a killed leader is replaced within the lease duration.
 */
export class LeaderElection {
  private readonly o: LeaderElectionOptions;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;

  constructor(options: LeaderElectionOptions) {
    this.o = options;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(100, Math.floor(this.o.leaseDurationMs / 4)));
  }

  private async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading && !this.closed) {
          this.leading = true;
          this.o.log.info({ lease: this.o.name, identity: this.o.identity }, 'became leader');
          this.o.onStartedLeading();
        }
      } else if (this.leading && Date.now() - this.lastRenew > this.o.leaseDurationMs / 2) {
        this.stopLeading('lease taken by another replica or not renewable');
      }
    } catch (err) {
      this.o.log.warn({ lease: this.o.name, err: errorMessage(err) }, 'leader election: cannot reach the lease');
      if (this.leading && Date.now() - this.lastRenew > this.o.leaseDurationMs / 2) this.stopLeading('could not renew the lease in time');
    }
    this.schedule();
  }

  private stopLeading(reason: string): void {
    this.leading = false;
    this.o.log.warn({ lease: this.o.name, reason }, 'stopped leading');
    this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const seconds = Math.max(1, Math.round(this.o.leaseDurationMs / 1000));
    let lease: Lease;
    try {
      lease = await this.o.api.request<Lease>('GET', `${this.path}/${this.o.name}`);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
      const created: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { holderIdentity: this.o.identity, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await this.o.api.request('POST', this.path, { body: created });
        return true;
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${spec.leaseTransitions ?? 0}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.o.identity;
    const durationMs = (spec.leaseDurationSeconds ?? seconds) * 1000;
    if (!mine && holder !== '' && now < this.observed.at + durationMs) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: seconds,
        renewTime: microTime(now),
        ...(mine ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === '' && spec.leaseTransitions === undefined ? 0 : 1) }),
      },
    };
    try {
      await this.o.api.request('PUT', `${this.path}/${this.o.name}`, { body: next });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) return false;
      throw e;
    }
  }

  /** Stop; a leader releases the lease (holder emptied) so another replica takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    this.o.onStoppedLeading();
    try {
      const lease = await this.o.api.request<Lease>('GET', `${this.path}/${this.o.name}`, { timeoutMs: 2000 });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = Date.now();
      await this.o.api.request('PUT', `${this.path}/${this.o.name}`, { body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } }, timeoutMs: 2000 });
    } catch (err) {
      this.o.log.warn({ lease: this.o.name, err: errorMessage(err) }, 'could not release the lease');
    }
  }
}
