import type { ObjectReference } from './endpoints.ts';

/**
 * discovery.k8s.io/v1 EndpointSlice payload (no `spec`: the resource's `spec` holds
 * `{addressType, endpoints, ports}`). The owning service is label `kubernetes.io/service-name`.
 */
export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef?: ObjectReference;
}

export interface SlicePort {
  name?: string;
  port?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface EndpointSlicePayload {
  addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: SliceEndpoint[];
  ports?: SlicePort[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
