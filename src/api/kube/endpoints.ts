/** core/v1 Endpoints payload (no `spec`: the resource's `spec` holds `{subsets}`). */
export interface ObjectReference {
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
}

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export interface EndpointsPayload {
  subsets?: EndpointSubset[];
}
