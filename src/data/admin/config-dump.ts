import type protobuf from 'protobufjs';
import { protoObjectToJson } from '../../api/xds/proto-object-to-json.ts';
import { TYPE_URL, messageNameOf } from '../../api/xds/type-urls.ts';
import type { AcceptedResource } from '../xds-client/config-applier.ts';
import type { Obj } from '../xds-client/proto-values.ts';
import type { TlsSecret } from '../tls/secret-provider.ts';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

const TO_JSON: protobuf.IConversionOptions = { json: true, enums: String, longs: String, bytes: String, defaults: false, arrays: false };

/**
 * A decoded resource as Envoy's admin prints it (proto3 JSON): the stored object is re-read
 * through its message type (so 64-bit integers print as strings) and then durations become
 * `"10s"`, wrappers plain values, Structs plain JSON and `Any`s `{'@type', ...}`.
 */
function typedIn(root: protobuf.Root, typeUrl: string, r: Obj): Obj {
  const t = root.lookupType(messageNameOf(typeUrl));
  let obj: Obj;
  try {
    obj = t.toObject(t.fromObject(r), TO_JSON);
  } catch {
    obj = r; // not re-encodable (should not happen for accepted resources): convert as stored
  }
  return { '@type': typeUrl, ...protoObjectToJson(t, obj) };
}

function latest(list: Iterable<AcceptedResource>): string {
  let v = '';
  let at = '';
  for (const r of list) if (r.lastUpdated >= at) { at = r.lastUpdated; v = r.version; }
  return v;
}

/** Envoy's /config_dump shape from accepted xDS resources (private keys redacted). */
export function buildConfigDump(opts: {
  /** The Envoy protos the resources were decoded with (EnvoyCodec.root). */
  root: protobuf.Root;
  node: Obj;
  accepted: ReadonlyMap<string, ReadonlyMap<string, AcceptedResource>>;
  localSecrets: readonly { name: string; secret: TlsSecret }[];
  includeEds: boolean;
  resource?: string;
}): Obj {
  const typed = (typeUrl: string, r: Obj): Obj => typedIn(opts.root, typeUrl, r);
  const get = (t: string): AcceptedResource[] => [...(opts.accepted.get(t)?.values() ?? [])];
  const clusters = get(TYPE_URL.cluster);
  const listeners = get(TYPE_URL.listener);
  const routes = get(TYPE_URL.route);
  const endpoints = get(TYPE_URL.endpoint);
  const secrets = get(TYPE_URL.secret);
  const configs: Obj[] = [
    { '@type': `${ADMIN}BootstrapConfigDump`, bootstrap: { node: opts.node }, lastUpdated: new Date().toISOString() },
    {
      '@type': `${ADMIN}ClustersConfigDump`,
      versionInfo: latest(clusters),
      dynamicActiveClusters: clusters.map((c) => ({ versionInfo: c.version, cluster: typed(TYPE_URL.cluster, c.resource), lastUpdated: c.lastUpdated })),
    },
    {
      '@type': `${ADMIN}ListenersConfigDump`,
      versionInfo: latest(listeners),
      dynamicListeners: listeners.map((l) => ({ name: l.name, activeState: { versionInfo: l.version, listener: typed(TYPE_URL.listener, l.resource), lastUpdated: l.lastUpdated } })),
    },
    {
      '@type': `${ADMIN}RoutesConfigDump`,
      dynamicRouteConfigs: routes.map((r) => ({ versionInfo: r.version, routeConfig: typed(TYPE_URL.route, r.resource), lastUpdated: r.lastUpdated })),
    },
    {
      '@type': `${ADMIN}SecretsConfigDump`,
      dynamicActiveSecrets: [
        ...opts.localSecrets.map((s) => ({ name: s.name, versionInfo: '', lastUpdated: '', secret: secretDump(s.name, s.secret) })),
        ...secrets.map((s) => ({ name: s.name, versionInfo: s.version, lastUpdated: s.lastUpdated, secret: redact(typed(TYPE_URL.secret, s.resource)) })),
      ],
    },
  ];
  if (opts.includeEds) {
    configs.push({
      '@type': `${ADMIN}EndpointsConfigDump`,
      dynamicEndpointConfigs: endpoints.map((e) => ({ versionInfo: e.version, endpointConfig: typed(TYPE_URL.endpoint, e.resource), lastUpdated: e.lastUpdated })),
    });
  }
  if (opts.resource) {
    const key = opts.resource;
    return { configs: configs.flatMap((c) => (Array.isArray(c[key]) ? (c[key] as Obj[]) : [])) };
  }
  return { configs };
}

const REDACTED = Buffer.from('[redacted]').toString('base64');

function secretDump(name: string, s: TlsSecret): Obj {
  if (s.kind === 'certificate') {
    return { '@type': TYPE_URL.secret, name, tlsCertificate: { certificateChain: { inlineBytes: Buffer.from(s.certChain).toString('base64') }, privateKey: { inlineBytes: REDACTED } } };
  }
  return { '@type': TYPE_URL.secret, name, validationContext: { trustedCa: { inlineBytes: Buffer.from(s.trustedCa).toString('base64') } } };
}

function redact(s: Obj): Obj {
  const tc = s.tlsCertificate as Obj | undefined;
  if (!tc) return s;
  return { ...s, tlsCertificate: { ...tc, privateKey: { inlineBytes: REDACTED } } };
}
