/** Check generated resources against Envoy's protobuf types: no unknown fields, and they encode and decode. */
import type protobuf from 'protobufjs';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import type { GeneratedResource } from '../../src/control/generate/generator.ts';

export function encodeProblems(root: protobuf.Root, typeUrl: string, resources: readonly GeneratedResource[]): string[] {
  const type = root.lookupType(messageNameOf(typeUrl));
  const problems: string[] = [];
  for (const r of resources) {
    const { object, unknownFields } = protoJsonToObject(type, r.resource);
    for (const u of unknownFields) problems.push(`${r.name}: unknown field ${u}`);
    try {
      const msg = type.fromObject(object);
      const err = type.verify(msg);
      if (err) problems.push(`${r.name}: ${err}`);
      const bytes = type.encode(msg).finish();
      type.decode(bytes);
    } catch (e) {
      problems.push(`${r.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}
