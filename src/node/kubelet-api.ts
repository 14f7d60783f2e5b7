import type { Clock, TimerHandle } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';
import { KubeletServer } from './kubelet-server.ts';
import { clusterCa, requestServingCertificate, rotationDelay } from './kubelet-serving-certificate.ts';
import type { NodePod } from './node-pod.ts';
import { PodStreams } from './pod-streams.ts';

export interface KubeletApiOptions {
  api: KubeApi;
  nodeName: string;
  nodeBinary: string;
  cliEntry: string;
  port: number;
  clock: Clock;
  log: Logger;
  findPod(namespace: string, name: string): NodePod | undefined;
}

/** setTimeout's limit is under 25 days: longer waits are taken a day at a time. */
const MAX_TIMER_MS = 86_400_000;

/**
 * The node's kubelet API over its lifetime: started once the cluster signed its serving
 * certificate (pods run meanwhile), serving logs, exec, attach and port-forward from the node's
 * pods, and the certificate rotated as the kubelet's certificate manager does (a new CSR at a
 * jittered 70-90 % of the current one's validity, the server's context swapped for new
 * connections; a failed attempt is tried again a minute later).
 */
export class KubeletApi {
  private readonly o: KubeletApiOptions;
  private server: KubeletServer | undefined;
  private rotationTimer: TimerHandle | undefined;
  private readonly closing = new AbortController();
  private address = '';

  constructor(o: KubeletApiOptions) {
    this.o = o;
  }

  private get closed(): boolean {
    return this.closing.signal.aborted;
  }

  async start(address: string): Promise<void> {
    this.address = address;
    const o = this.o;
    try {
      const ca = clusterCa(o.api);
      if (!ca) throw new Error('the kubeconfig names no cluster CA to check the API server\'s client certificate against');
      const cert = await requestServingCertificate({ api: o.api, nodeName: o.nodeName, address, log: o.log, signal: this.closing.signal });
      if (this.closed) return;
      const streams = new PodStreams({ nodeName: o.nodeName, nodeBinary: o.nodeBinary, cliEntry: o.cliEntry, findPod: o.findPod });
      const server = new KubeletServer({
        api: o.api,
        nodeName: o.nodeName,
        address,
        port: o.port,
        keyPem: cert.keyPem,
        certPem: cert.certPem,
        clientCa: ca,
        container: (ns, name, container) => streams.logSource(ns, name, container),
        streaming: streams,
        log: o.log,
      });
      await server.start();
      this.server = server;
      if (this.closed) await server.close();
      else this.scheduleRotation(cert.certPem);
    } catch (err) {
      if (!this.closed) o.log.error({ err: errorMessage(err) }, 'kubelet API not started: kubectl logs/exec/port-forward do not work on this node');
    }
  }

  private scheduleRotation(certPem: string, retryMs?: number): void {
    if (this.closed) return;
    const delay = retryMs ?? rotationDelay(certPem, this.o.clock.now(), Math.random());
    const step = Math.min(delay, MAX_TIMER_MS);
    this.rotationTimer = this.o.clock.setTimer(() => {
      if (step < delay) return this.scheduleRotation(certPem, retryMs === undefined ? undefined : delay - step);
      void this.rotate(certPem);
    }, step);
  }

  private async rotate(certPem: string): Promise<void> {
    try {
      const next = await requestServingCertificate({ api: this.o.api, nodeName: this.o.nodeName, address: this.address, log: this.o.log, signal: this.closing.signal });
      if (this.closed) return;
      this.server?.setCertificate(next.keyPem, next.certPem);
      this.o.log.info({ csr: next.csrName }, 'kubelet serving certificate rotated');
      this.scheduleRotation(next.certPem);
    } catch (err) {
      if (this.closed) return;
      this.o.log.warn({ err: errorMessage(err) }, 'kubelet serving certificate rotation failed; trying again in a minute');
      this.scheduleRotation(certPem, 60_000);
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.rotationTimer?.cancel();
    await this.server?.close();
  }
}
