/**
 * The xDS bootstrap a proxyless gRPC application reads (GRPC_XDS_BOOTSTRAP), as Istio's agent
 * writes it for the `grpc-agent` injection template: the discovery server, the node (Istio node
 * id, GENERATOR grpc, namespace, labels), the `default` certificate provider — gRPC's
 * `file_watcher` plugin over the files the agent keeps fresh — and the server listener name
 * template `xds.istio.io/grpc/lds/inbound/%s`.
 */
export interface GrpcBootstrapOptions {
  /** host:port of discovery's xDS. */
  discoveryAddress: string;
  /** Istio node id, `sidecar~IP~POD.NS~NS.svc.cluster.local`. */
  nodeId: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Extra node metadata (ISTIO_META_*). */
  metadata?: Readonly<Record<string, string>>;
  /** Directory of cert-chain.pem, key.pem, root-cert.pem; omit for no certificate provider. */
  certDir?: string;
  /** How often gRPC re-reads the files (Istio: 900s). */
  refreshInterval?: string;
}

/** File names Istio's agent uses under OUTPUT_CERTS (/var/lib/istio/data). */
export const GRPC_CERT_FILES = Object.freeze({ certChain: 'cert-chain.pem', key: 'key.pem', root: 'root-cert.pem' });
export const GRPC_SERVER_LISTENER_TEMPLATE = 'xds.istio.io/grpc/lds/inbound/%s';

export function grpcBootstrap(o: GrpcBootstrapOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    xds_servers: [{ server_uri: o.discoveryAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: o.nodeId,
      metadata: { ...o.metadata, GENERATOR: 'grpc', NAMESPACE: o.namespace, LABELS: { ...o.labels } },
      locality: {},
    },
    server_listener_resource_name_template: GRPC_SERVER_LISTENER_TEMPLATE,
  };
  if (o.certDir !== undefined) {
    const dir = o.certDir.replace(/\/+$/, '');
    out.certificate_providers = {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: `${dir}/${GRPC_CERT_FILES.certChain}`,
          private_key_file: `${dir}/${GRPC_CERT_FILES.key}`,
          ca_certificate_file: `${dir}/${GRPC_CERT_FILES.root}`,
          refresh_interval: o.refreshInterval ?? '900s',
        },
      },
    };
  }
  return out;
}
