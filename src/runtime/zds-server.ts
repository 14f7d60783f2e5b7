import { closeSync, openSync, rmSync } from 'node:fs';
import { ZdsCodec, type ZdsWorkloadInfo } from '../api/workload/zds-codec.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { SeqpacketListener, type SeqpacketSocket } from '../lib/unix-seqpacket.ts';

/**
 * The node agent's ZDS server (istio-cni's ztunnelserver): ztunnel connects to this SEQPACKET
 * socket and says hello; the agent replays every enrolled pod (AddWorkload with the pod's network
 * namespace fd), sends SnapshotSent, and from then on AddWorkload/DelWorkload as pods are
 * enrolled or leave, each waiting for ztunnel's Ack. With several ztunnels connected (an
 * upgrade), the newest one is told. `add` resolves once a ztunnel has taken the pod: that is
 * when the pod may be annotated `ambient.istio.io/redirection: enabled`.
 */
export interface EnrolledPod {
  uid: string;
  info: ZdsWorkloadInfo;
  /** Path of the pod's network namespace (`/var/run/netns/NAME`). */
  netnsPath: string;
}

interface Peer {
  socket: SeqpacketSocket;
  ready: boolean;
  /** Requests are sent one at a time: each waits for its ack. */
  queue: Promise<unknown>;
}

const ACCEPT_POLL_MS = 100;

export class ZdsServer {
  readonly path: string;
  private readonly log: Logger;
  private readonly codec = new ZdsCodec();
  private readonly pods = new Map<string, EnrolledPod>();
  private readonly peers: Peer[] = [];
  private listener: SeqpacketListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(o: { path: string; log?: Logger }) {
    this.path = o.path;
    this.log = o.log ?? silentLogger();
  }

  start(): void {
    rmSync(this.path, { force: true });
    this.listener = new SeqpacketListener(this.path);
    this.timer = setInterval(() => this.accept(), ACCEPT_POLL_MS);
    this.timer.unref();
  }

  /** A ztunnel is connected and has the current snapshot. */
  get connected(): boolean {
    return this.peers.some((p) => p.ready);
  }

  /** Resolves when a ztunnel is connected and synced (or after timeoutMs: false). */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Enroll a pod; resolves when the current ztunnel acked it; rejects on its NACK or when none is connected. */
  async add(pod: EnrolledPod): Promise<void> {
    this.pods.set(pod.uid, pod);
    // A ztunnel that went away is noticed when it does not answer: try the next one.
    for (let peer = this.current(); peer; peer = this.current()) {
      try {
        await this.send(peer, { add: { uid: pod.uid, workloadInfo: pod.info } }, pod.netnsPath);
        return;
      } catch (err) {
        if (this.peers.includes(peer)) throw err;
      }
    }
    throw new Error('no ztunnel connection');
  }

  /** Un-enroll a pod (pod deleted, or labelled out); ztunnel stops its proxies at once. */
  async remove(uid: string): Promise<void> {
    if (!this.pods.delete(uid)) return;
    const peer = this.current();
    if (peer) await this.send(peer, { del: { uid } }).catch((err: Error) => this.log.warn({ uid, err: err.message }, 'ztunnel did not take DelWorkload'));
  }

  has(uid: string): boolean {
    return this.pods.has(uid);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const p of this.peers.splice(0)) p.socket.close();
    this.listener?.close();
    this.listener = undefined;
    rmSync(this.path, { force: true });
  }

  private current(): Peer | undefined {
    for (let i = this.peers.length - 1; i >= 0; i--) if (this.peers[i]!.ready) return this.peers[i];
    return undefined;
  }

  private accept(): void {
    let s: SeqpacketSocket | undefined;
    while ((s = this.listener?.tryAccept())) void this.serve(s);
  }

  private async serve(socket: SeqpacketSocket): Promise<void> {
    const peer: Peer = { socket, ready: false, queue: Promise.resolve() };
    try {
      const hello = await socket.receive();
      if (!hello) return socket.close();
      const version = this.codec.decodeHello(hello.data);
      if (version !== 1) this.log.warn({ version }, 'ztunnel speaks an unknown ZDS version; trying V1');
      this.peers.push(peer);
      for (const pod of [...this.pods.values()]) {
        await this.send(peer, { add: { uid: pod.uid, workloadInfo: pod.info } }, pod.netnsPath, true).catch((err: Error) =>
          this.log.warn({ pod: `${pod.info.namespace}/${pod.info.name}`, err: err.message }, 'ztunnel refused a pod of the snapshot'),
        );
      }
      await this.send(peer, { snapshotSent: {} }, undefined, true);
      peer.ready = true;
      this.log.info({ pods: this.pods.size }, 'ztunnel connected and synced (ZDS)');
      for (const w of this.waiters.splice(0)) w();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'ZDS connection failed');
      this.drop(peer);
    }
  }

  private drop(peer: Peer): void {
    const i = this.peers.indexOf(peer);
    if (i >= 0) this.peers.splice(i, 1);
    peer.socket.close();
  }

  /** Send one request (with the netns fd for adds) and wait for the ack. */
  private send(peer: Peer, req: Parameters<ZdsCodec['encodeRequest']>[0], netnsPath?: string, direct = false): Promise<void> {
    const run = async (): Promise<void> => {
      let fd: number | undefined;
      try {
        if (netnsPath) fd = openSync(netnsPath, 'r');
        peer.socket.send(this.codec.encodeRequest(req), fd === undefined ? [] : [fd]);
      } catch (err) {
        this.drop(peer);
        throw err;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      const reply = await peer.socket.receive();
      if (!reply) {
        this.drop(peer);
        throw new Error('ztunnel closed the connection before it answered');
      }
      const error = this.codec.decodeAck(reply.data);
      if (error) throw new Error(`ztunnel refused: ${error}`);
    };
    if (direct) return run();
    const next = peer.queue.then(run, run);
    peer.queue = next.catch(() => {});
    return next;
  }
}
