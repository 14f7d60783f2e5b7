import type protobuf from 'protobufjs';
import { loadWorkloadRoot } from './workload-protos.ts';

/**
 * ZDS messages (istio.workload.zds): the node agent sends WorkloadRequest (add, keep, del,
 * snapshot_sent), ztunnel answers WorkloadResponse{ack} and opens with ZdsHello{V1}.
 */
export interface ZdsWorkloadInfo {
  name: string;
  namespace: string;
  serviceAccount: string;
}

export type ZdsRequest =
  | { add: { uid: string; workloadInfo?: ZdsWorkloadInfo } }
  | { keep: { uid: string } }
  | { del: { uid: string } }
  | { snapshotSent: Record<string, never> };

export class ZdsCodec {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;
  private readonly hello: protobuf.Type;

  constructor(root: protobuf.Root = loadWorkloadRoot()) {
    this.request = root.lookupType('istio.workload.zds.WorkloadRequest');
    this.response = root.lookupType('istio.workload.zds.WorkloadResponse');
    this.hello = root.lookupType('istio.workload.zds.ZdsHello');
  }

  encodeRequest(r: ZdsRequest): Uint8Array {
    return this.request.encode(this.request.fromObject(r)).finish();
  }

  decodeRequest(b: Uint8Array): ZdsRequest {
    const o = this.request.toObject(this.request.decode(b), { defaults: false }) as Record<string, Record<string, unknown> | undefined>;
    if (o.add) return { add: { uid: String(o.add.uid ?? ''), ...(o.add.workloadInfo ? { workloadInfo: info(o.add.workloadInfo as Record<string, unknown>) } : {}) } };
    if (o.keep) return { keep: { uid: String(o.keep.uid ?? '') } };
    if (o.del) return { del: { uid: String(o.del.uid ?? '') } };
    if (o.snapshotSent) return { snapshotSent: {} };
    throw new Error('ZDS request without payload');
  }

  /** Ack; an error text makes it a NACK. */
  encodeAck(error = ''): Uint8Array {
    return this.response.encode(this.response.fromObject({ ack: { error } })).finish();
  }

  /** The ack's error ('' for success); throws when the message is no ack. */
  decodeAck(b: Uint8Array): string {
    const o = this.response.toObject(this.response.decode(b), { defaults: true }) as { ack?: { error?: string } };
    if (!o.ack) throw new Error('ZDS response without ack');
    return o.ack.error ?? '';
  }

  encodeHello(): Uint8Array {
    return this.hello.encode(this.hello.fromObject({ version: 'V1' })).finish();
  }

  decodeHello(b: Uint8Array): number {
    return Number((this.hello.toObject(this.hello.decode(b), { enums: Number }) as { version?: number }).version ?? 0);
  }
}

function info(o: Record<string, unknown>): ZdsWorkloadInfo {
  return { name: String(o.name ?? ''), namespace: String(o.namespace ?? ''), serviceAccount: String(o.serviceAccount ?? '') };
}
