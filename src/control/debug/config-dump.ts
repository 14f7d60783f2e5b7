import type protobuf from 'protobufjs';
import { TYPE_URL, messageNameOf } from '../../api/xds/type-urls.ts';
import { protoObjectToJson } from '../../api/xds/proto-object-to-json.ts';
import type { XdsConnection } from '../xds/xds-connection.ts';

const TO_JSON: protobuf.IConversionOptions = { json: true, enums: String, longs: String, bytes: String, defaults: false, arrays: false };

/**
 * Envoy's admin ConfigDump shape (envoy.admin.v3.*ConfigDump), built from what was last sent to
 * the proxy on its stream, so `proxy-config` shows what the proxy really has been given.
 */
export function configDump(root: protobuf.Root, conn: XdsConnection): Record<string, unknown> {
  const decode = (typeUrl: string, value: Uint8Array): Record<string, unknown> => {
    const t = root.lookupType(messageNameOf(typeUrl));
    return { '@type': typeUrl, ...protoObjectToJson(t, t.toObject(t.decode(value), TO_JSON)) };
  };
  const entries = (typeUrl: string): { version: string; lastUpdated: string | undefined; resource: Record<string, unknown>; name: string }[] => {
    const w = conn.watched.get(typeUrl);
    if (!w) return [];
    const lastUpdated = w.sentAt !== undefined ? new Date(w.sentAt).toISOString() : undefined;
    return w.lastResources
      .values()
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((e) => ({ name: e.name, version: w.versionSent ?? '', lastUpdated, resource: decode(typeUrl, e.value) }));
  };
  const configs: Record<string, unknown>[] = [];
  configs.push({
    '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
    versionInfo: conn.watched.get(TYPE_URL.cluster)?.versionSent ?? '',
    dynamicActiveClusters: entries(TYPE_URL.cluster).map((e) => ({ versionInfo: e.version, cluster: e.resource, lastUpdated: e.lastUpdated })),
  });
  configs.push({
    '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
    versionInfo: conn.watched.get(TYPE_URL.listener)?.versionSent ?? '',
    dynamicListeners: entries(TYPE_URL.listener).map((e) => ({
      name: e.name,
      activeState: { versionInfo: e.version, listener: e.resource, lastUpdated: e.lastUpdated },
    })),
  });
  configs.push({
    '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
    dynamicRouteConfigs: entries(TYPE_URL.route).map((e) => ({ versionInfo: e.version, routeConfig: e.resource, lastUpdated: e.lastUpdated })),
  });
  configs.push({
    '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
    dynamicEndpointConfigs: entries(TYPE_URL.endpoint).map((e) => ({ versionInfo: e.version, endpointConfig: e.resource, lastUpdated: e.lastUpdated })),
  });
  configs.push({
    '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    dynamicActiveSecrets: entries(TYPE_URL.secret).map((e) => ({ name: e.name, versionInfo: e.version, secret: e.resource, lastUpdated: e.lastUpdated })),
  });
  return { configs };
}
