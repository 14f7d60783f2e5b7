import { TYPE_URL } from '../../api/xds/type-urls.ts';
import { labelsKey, type PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { gatewayListeners } from './gateway-listeners.ts';
import { grpcListener, grpcTargets } from './grpc-resources.ts';
import { grpcServerListener, isGrpcServerListenerName } from './grpc-security.ts';
import { boundInboundListeners, hboneInboundListener, inboundListener } from './inbound-listeners.ts';
import { sendsHbone } from './hbone-endpoints.ts';
import { outboundListeners } from './outbound-listeners.ts';
import { toResources } from './resource-list.ts';
import { waypointListeners } from './waypoint-resources.ts';
import { outboundTelemetryKey } from './telemetry-hcm.ts';

/** LDS: sidecar (virtualOutbound, virtualInbound, per-port outbound, `main_internal` for HBONE in), router (gateway servers), waypoint (`main_internal`), proxyless gRPC (`HOST:PORT` api listeners). */
export class ListenerGenerator implements Generator {
  readonly typeUrl = TYPE_URL.listener;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    const scope = push.scopeKey(proxy);
    if (proxy.generator === 'grpc') {
      const clients = grpcTargets(proxy, push, request.names).map((t) => push.cached(`lds|${scope}|${t.name}`, () => grpcListener(t)));
      // Server listeners depend on the workload itself (its ports, mTLS mode, policies).
      const serverKey = `lds-grpc-in|${proxy.namespace}|${proxy.ipAddresses.join(',')}|${labelsKey(proxy.labels)}`;
      const servers = (request.names ?? []).filter(isGrpcServerListenerName).map((n) => push.cached(`${serverKey}|${n}`, () => grpcServerListener(proxy, push, n)));
      return toResources([...clients, ...servers.filter((l): l is NonNullable<typeof l> => l !== undefined)], undefined);
    }
    if (proxy.type === 'waypoint') return toResources(push.cached(`lds-wp|${proxy.namespace}|${proxy.labels['gateway.networking.k8s.io/gateway-name'] ?? ''}`, () => waypointListeners(proxy, push)), request.names);
    if (proxy.type === 'router') return toResources(push.cached(`lds|${scope}`, () => gatewayListeners(proxy, push)), request.names);
    // Outbound listeners are shared within a scope; the inbound one depends on the workload itself.
    const inboundKey = `lds-in|${proxy.namespace}|${proxy.ipAddresses.join(',')}|${labelsKey(proxy.labels)}`;
    const outKey = `lds|${scope}|${outboundTelemetryKey(push, proxy)}`;
    const inbound = [push.cached(inboundKey, () => inboundListener(proxy, push)), ...push.cached(`${inboundKey}|bound`, () => boundInboundListeners(proxy, push))];
    // HBONE in (istiod: only for proxies that say ISTIO_META_ENABLE_HBONE=true; sidecars, not gateways)
    if (proxy.type === 'sidecar' && sendsHbone(proxy)) inbound.push(push.cached(`${inboundKey}|hbone`, () => hboneInboundListener(proxy, push)));
    return toResources([...push.cached(outKey, () => outboundListeners(proxy, push)), ...inbound], request.names);
  }
}
