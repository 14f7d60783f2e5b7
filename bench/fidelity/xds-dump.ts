import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { protoObjectToJson } from '../../src/api/xds/proto-object-to-json.ts';
import { TYPE_URL, messageNameOf } from '../../src/api/xds/type-urls.ts';
import { jsonToStruct } from '../../src/control/xds/proxy-info.ts';

/**
 * One ADS (SotW) conversation posing as a sidecar: wildcard CDS and LDS, then EDS for the EDS
 * clusters and RDS for the route configs the listeners name, each ACKed; returns every resource
 * as proto3 JSON (what `istioctl proxy-config -o json` shows). Works against any xDS server.
 */
export interface SidecarNode {
  id: string;
  metadata: Record<string, unknown>;
}

export type XdsDump = Record<string, Record<string, Record<string, unknown>>>;

const TO_JSON: protobuf.IConversionOptions = { json: true, enums: String, longs: String, bytes: String, defaults: false, arrays: false };
const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export async function dumpXds(root: protobuf.Root, address: string, node: SidecarNode, timeoutMs = 30_000): Promise<XdsDump> {
  const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const Resp = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const Ctor = grpc.makeGenericClientConstructor({}, ADS);
  const client = new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
  const stream = client.makeBidiStreamRequest(
    `/${ADS}/StreamAggregatedResources`,
    (m: Record<string, unknown>) => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
    (b: Buffer) => Resp.toObject(Resp.decode(b), { longs: String, defaults: true, arrays: true }) as { typeUrl: string; versionInfo: string; nonce: string; resources: { type_url: string; value: Uint8Array }[] },
  );
  const out: XdsDump = {};
  const wanted = new Map<string, string[] | undefined>([[TYPE_URL.cluster, undefined], [TYPE_URL.listener, undefined]]);
  const nodeMsg = { id: node.id, cluster: String(node.metadata.WORKLOAD_NAME ?? 'unknown'), metadata: jsonToStruct(node.metadata), userAgentName: 'envoy', userAgentVersion: '1.37.0' };
  let first = true;
  const request = (typeUrl: string, names: string[] | undefined, ack?: { version: string; nonce: string }): void => {
    stream.write({ ...(first ? { node: nodeMsg } : {}), typeUrl, resourceNames: names ?? [], versionInfo: ack?.version ?? '', responseNonce: ack?.nonce ?? '' });
    first = false;
  };
  return new Promise<XdsDump>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`xDS dump from ${address} for ${node.id}: timed out; have ${Object.keys(out).map(messageNameOf).join(', ')}`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.on('error', () => {});
      stream.cancel();
      client.close();
      if (err) reject(err);
      else resolve(out);
    };
    const done = (): boolean => [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.endpoint, TYPE_URL.route].every((t) => out[t] !== undefined && (!wanted.has(t) || wanted.get(t) === undefined || (wanted.get(t) ?? []).every((n) => out[t]![n] !== undefined)));
    stream.on('error', (err: Error) => finish(err));
    stream.on('data', (r) => {
      const type = root.lookupType(messageNameOf(r.typeUrl));
      const resources: Record<string, Record<string, unknown>> = {};
      for (const any of r.resources) {
        const obj = protoObjectToJson(type, type.toObject(type.decode(any.value), TO_JSON));
        resources[String(obj.name ?? obj.clusterName ?? '')] = obj;
      }
      out[r.typeUrl] = { ...(out[r.typeUrl] ?? {}), ...resources };
      request(r.typeUrl, wanted.get(r.typeUrl), { version: r.versionInfo, nonce: r.nonce });
      if (r.typeUrl === TYPE_URL.cluster) {
        const names = Object.values(resources).filter((c) => c.type === 'EDS').map((c) => String((c.edsClusterConfig as { serviceName?: string } | undefined)?.serviceName ?? c.name)).sort();
        if (!wanted.has(TYPE_URL.endpoint)) {
          wanted.set(TYPE_URL.endpoint, names);
          if (names.length > 0) request(TYPE_URL.endpoint, names);
          else out[TYPE_URL.endpoint] = {};
        }
      }
      if (r.typeUrl === TYPE_URL.listener) {
        const names = [...new Set(JSON.stringify(resources).match(/"routeConfigName":"[^"]*"/g) ?? [])].map((m) => JSON.parse(`{${m}}`).routeConfigName as string).sort();
        if (!wanted.has(TYPE_URL.route)) {
          wanted.set(TYPE_URL.route, names);
          if (names.length > 0) request(TYPE_URL.route, names);
          else out[TYPE_URL.route] = {};
        }
      }
      if (done()) setTimeout(() => finish(), 300);
    });
    request(TYPE_URL.cluster, undefined);
    request(TYPE_URL.listener, undefined);
  });
}
