import { TYPE_URL } from '../../src/api/xds/type-urls.ts';

/** The xDS types a fuzz record can carry (record byte 0 modulo this list). */
export const XDS_TYPES: readonly string[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret];

/** A fuzz input as xDS updates: records of [type byte][length u16 BE][protobuf bytes]. */
export function splitRecords(data: Buffer): { typeUrl: string; bytes: Buffer }[] {
  const out: { typeUrl: string; bytes: Buffer }[] = [];
  for (let i = 0; i + 3 <= data.length && out.length < 8; ) {
    const typeUrl = XDS_TYPES[data[i] % XDS_TYPES.length];
    const len = data.readUInt16BE(i + 1);
    const bytes = data.subarray(i + 3, Math.min(data.length, i + 3 + len));
    out.push({ typeUrl, bytes });
    i += 3 + len;
  }
  return out;
}

export function record(typeUrl: string, bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(3);
  head[0] = XDS_TYPES.indexOf(typeUrl);
  head.writeUInt16BE(Math.min(bytes.length, 0xffff), 1);
  return Buffer.concat([head, Buffer.from(bytes)]);
}
