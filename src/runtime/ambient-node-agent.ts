import type { Logger } from '../lib/log.ts';
import { annotationFlag, BYPASS_INBOUND_ANNOTATION, DNS_CAPTURE_ANNOTATION } from './ambient-selection.ts';
import { inpodRouteCommands, inpodRouteRemovalCommands, renderInpodRemoval, renderInpodRules } from './inpod-rules.ts';
import { runInNetns } from './netns.ts';
import { ZdsServer } from './zds-server.ts';
import { renderResolvConf } from './pod-dns-files.ts';
import { writeNetnsEtcFile } from './pod-network.ts';

/**
 * istio-cni's node agent for `mizzen up`: enrolls ambient pods into the node's ztunnel. For a
 * pod it installs Istio's in-pod rules (traffic is blocked, not leaked, while no ztunnel serves
 * the pod: the redirect targets have no listener), tells ztunnel over ZDS with the pod's netns fd,
 * and marks the pod `ambient.istio.io/redirection: enabled` once ztunnel acked (`pending`
 * before). Un-enrolling removes the rules and tells ztunnel to drop the pod; the pod keeps
 * running in both directions.
 */
export interface AmbientPod {
  key: string;
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
  netns: string;
  annotations: Readonly<Record<string, string>>;
}

export type RedirectionState = 'pending' | 'enabled';

export interface AmbientNodeAgentOptions {
  zdsSocket: string;
  /** Sources never captured inbound (the node address: probes and port forwards). */
  exemptSources: readonly string[];
  /** Start the node's ztunnel (called once, when the first pod is enrolled). */
  startZtunnel: () => void;
  /** A pod's redirection state changed (its Pod object must show the annotation). */
  onChange: () => void;
  /** Redirect DNS to ztunnel's 15053 unless the pod says otherwise (Istio's default: on). */
  dnsCapture: boolean;
  /**
   * The cluster DNS address written into a captured pod's resolv.conf (Kubernetes' kube-dns
   * ClusterIP); its queries are redirected to ztunnel. Without it resolv.conf is left alone.
   */
  dnsServer?: string;
  log: Logger;
}

export class AmbientNodeAgent {
  private readonly o: AmbientNodeAgentOptions;
  readonly zds: ZdsServer;
  private readonly states = new Map<string, RedirectionState>();
  private readonly wanted = new Set<string>();
  private ztunnelStarted = false;
  private closed = false;

  constructor(o: AmbientNodeAgentOptions) {
    this.o = o;
    this.zds = new ZdsServer({ path: o.zdsSocket, log: o.log });
  }

  start(): void {
    this.zds.start();
  }

  state(key: string): RedirectionState | undefined {
    return this.states.get(key);
  }

  isEnrolled(key: string): boolean {
    return this.wanted.has(key);
  }

  /** Redirect the pod and hand it to ztunnel; resolves once ztunnel took it (or the pod was un-enrolled meanwhile). */
  async enroll(pod: AmbientPod, timeoutMs = 120_000): Promise<void> {
    if (this.wanted.has(pod.key)) return;
    this.wanted.add(pod.key);
    this.states.set(pod.key, 'pending');
    this.o.onChange();
    await runInNetns(pod.netns, 'nft', ['-f', '-'], {
      input: renderInpodRules({
        exemptSources: this.o.exemptSources,
        dnsCapture: annotationFlag(pod.annotations, DNS_CAPTURE_ANNOTATION, this.o.dnsCapture),
        bypassInbound: annotationFlag(pod.annotations, BYPASS_INBOUND_ANNOTATION, false),
      }),
    });
    for (const args of inpodRouteCommands()) await runInNetns(pod.netns, 'ip', args, { allowFailure: true });
    if (this.o.dnsServer && annotationFlag(pod.annotations, DNS_CAPTURE_ANNOTATION, this.o.dnsCapture)) {
      await writeNetnsEtcFile(pod.netns, 'resolv.conf', renderResolvConf(pod.namespace, 'cluster.local', this.o.dnsServer));
    }
    if (!this.ztunnelStarted) {
      this.ztunnelStarted = true;
      this.o.startZtunnel();
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed || !this.wanted.has(pod.key)) return;
      if (await this.zds.waitConnected(Math.max(0, deadline - Date.now()))) {
        try {
          await this.zds.add({ uid: pod.uid, info: { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount }, netnsPath: `/var/run/netns/${pod.netns}` });
          break;
        } catch (err) {
          this.o.log.warn({ pod: pod.key, err: (err as Error).message }, 'ztunnel did not take the pod yet (traffic stays blocked)');
        }
      }
      if (Date.now() > deadline) throw new Error(`no ztunnel took pod ${pod.key} within ${timeoutMs / 1000}s (see logs/ztunnel.log)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!this.wanted.has(pod.key)) return;
    this.states.set(pod.key, 'enabled');
    this.o.onChange();
    this.o.log.info({ pod: pod.key }, 'pod enrolled in ambient mode');
  }

  /** Remove the pod's redirection and tell ztunnel; its connections through ztunnel end. */
  async unenroll(pod: Pick<AmbientPod, 'key' | 'uid' | 'netns' | 'namespace'>, podGone = false): Promise<void> {
    if (!this.wanted.delete(pod.key)) return;
    this.states.delete(pod.key);
    if (!podGone) {
      if (this.o.dnsServer && pod.namespace) await writeNetnsEtcFile(pod.netns, 'resolv.conf', renderResolvConf(pod.namespace)).catch(() => {});
      await runInNetns(pod.netns, 'nft', ['-f', '-'], { input: renderInpodRemoval(), allowFailure: true });
      for (const args of inpodRouteRemovalCommands()) await runInNetns(pod.netns, 'ip', args, { allowFailure: true });
    }
    await this.zds.remove(pod.uid);
    this.o.onChange();
    this.o.log.info({ pod: pod.key }, podGone ? 'ambient pod removed' : 'pod left ambient mode');
  }

  close(): void {
    this.closed = true;
    this.zds.close();
  }
}
