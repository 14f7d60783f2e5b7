/** core/v1 Service `spec` (the fields Mizzen reads). */
export interface ServicePortSpec {
  name?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
  port: number;
  /** Number or a container port name. */
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  selector?: Record<string, string>;
  ports?: ServicePortSpec[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  externalIPs?: string[];
  ipFamilies?: ('IPv4' | 'IPv6')[];
  sessionAffinity?: 'None' | 'ClientIP';
  publishNotReadyAddresses?: boolean;
}
