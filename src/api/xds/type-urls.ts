/** Envoy v3 (and Istio) xDS type URLs. */
export const TYPE_URL = Object.freeze({
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  workloadAddress: 'type.googleapis.com/istio.workload.Address',
  authorization: 'type.googleapis.com/istio.security.Authorization',
  /** Istio's NDS: the DNS name table a sidecar's DNS proxy answers from (ISTIO_META_DNS_CAPTURE). */
  nameTable: 'type.googleapis.com/istio.networking.nds.v1.NameTable',
});

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/** The order Envoy wants resources pushed in, so clusters warm before listeners use them. */
export const PUSH_ORDER: readonly string[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret];

/** Strip `type.googleapis.com/` to the protobuf full name. */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}
