import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';
import { gatewayListeners } from './gateway-listeners.ts';
import { grpcListener, grpcTargets } from './grpc-resources.ts';
import { inboundListener } from './inbound-listeners.ts';
import { outboundListeners } from './outbound-listeners.ts';
import { toResources } from './resource-list.ts';

/** LDS: sidecar (virtualOutbound, virtualInbound, per-port outbound), router (gateway servers), proxyless gRPC (`HOST:PORT` api listeners). */
export class ListenerGenerator implements Generator {
  readonly typeUrl = TYPE_URL.listener;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    if (proxy.generator === 'grpc') return toResources(grpcTargets(proxy, push, request.names).map(grpcListener), undefined);
    if (proxy.type === 'router') return toResources(gatewayListeners(proxy, push), request.names);
    return toResources([...outboundListeners(proxy, push), inboundListener(proxy, push)], request.names);
  }
}
