import { ZdsCodec } from '../../../api/workload/zds-codec.ts';
import { closeFd } from '../../../lib/socket-fd.ts';
import { SeqpacketSocket } from '../../../lib/unix-seqpacket.ts';
import type { Logger } from '../../../lib/log.ts';
import type { WorkloadProxyManager } from './workload-proxy-manager.ts';

/**
 * ztunnel's side of ZDS (zt:src/inpod/protocol.rs, workloadmanager.rs): connect to the node
 * agent's socket, say ZdsHello{V1}, then for each request start or stop pod proxies and answer
 * an Ack (with the error text when it failed). Reconnects with backoff when the agent goes away.
 */
export class ZdsClient {
  private readonly path: string;
  private readonly manager: WorkloadProxyManager;
  private readonly log: Logger;
  private readonly codec = new ZdsCodec();
  private socket: SeqpacketSocket | undefined;
  private closed = false;
  private retryMs = 100;
  private timer: NodeJS.Timeout | undefined;
  connected = false;

  constructor(o: { path: string; manager: WorkloadProxyManager; log: Logger }) {
    this.path = o.path;
    this.manager = o.manager;
    this.log = o.log;
  }

  start(): void {
    this.closed = false;
    void this.run();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      let s: SeqpacketSocket;
      try {
        s = SeqpacketSocket.connect(this.path);
      } catch (err) {
        this.log.debug({ path: this.path, err: (err as Error).message }, 'node agent not reachable yet');
        await this.sleep();
        continue;
      }
      this.socket = s;
      this.connected = true;
      this.retryMs = 100;
      this.manager.connected();
      this.log.info({ path: this.path }, 'connected to the node agent (ZDS)');
      try {
        s.send(this.codec.encodeHello());
        for (;;) {
          const m = await s.receive();
          if (!m) break;
          await this.handle(s, m.data, m.fds);
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'ZDS connection failed');
      } finally {
        this.connected = false;
        s.close();
        this.socket = undefined;
      }
      if (!this.closed) this.log.warn('node agent connection lost; reconnecting');
      await this.sleep();
    }
  }

  private async handle(s: SeqpacketSocket, data: Buffer, fds: number[]): Promise<void> {
    let error = '';
    try {
      const req = this.codec.decodeRequest(data);
      if ('add' in req) {
        if (fds.length !== 1) throw new Error('AddWorkload without exactly one network namespace fd');
        await this.manager.add(req.add.uid, req.add.workloadInfo, fds[0]!);
        fds = [];
      } else if ('keep' in req) this.manager.keep(req.keep.uid);
      else if ('del' in req) this.manager.del(req.del.uid);
      else this.manager.snapshotSent();
    } catch (err) {
      error = (err as Error).message;
      this.log.warn({ err: error }, 'ZDS request failed (NACK)');
    } finally {
      for (const fd of fds) closeFd(fd);
    }
    s.send(this.codec.encodeAck(error));
  }

  private sleep(): Promise<void> {
    const ms = this.retryMs;
    this.retryMs = Math.min(5000, this.retryMs * 2);
    return new Promise((r) => {
      this.timer = setTimeout(r, ms);
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
  }
}
