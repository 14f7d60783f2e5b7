import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { PushContext } from '../push/push-context.ts';

/**
 * A generated xDS resource in protobuf JSON form (camelCase field names, `Any` as
 * `{'@type': typeUrl, ...fields}`), encoded by the xDS server with Envoy's protobuf types.
 */
export interface GeneratedResource {
  name: string;
  resource: Record<string, unknown>;
  /** Other names the resource answers to (delta xDS `aliases`: a workload API `network/IP`). */
  aliases?: readonly string[];
  /**
   * Sent to a client that subscribed by name although it did not name it (Istio's on-demand
   * workload API: the workloads behind a subscribed service VIP, the workloads of its node).
   */
  implicit?: boolean;
}

export interface GenerateRequest {
  /** Names the proxy subscribed to; undefined means wildcard (all it should see). */
  names?: readonly string[];
}

/** One generator per type URL; pure: same push context + proxy → same resources. */
export interface Generator {
  readonly typeUrl: string;
  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[];
}
