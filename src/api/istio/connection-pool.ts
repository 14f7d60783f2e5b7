/** ConnectionPoolSettings (DestinationRule traffic policy, Sidecar inbound pools). Durations are strings like "10s". */
export interface TcpKeepalive {
  probes?: number;
  time?: string;
  interval?: string;
}

export interface TcpSettings {
  maxConnections?: number;
  connectTimeout?: string;
  tcpKeepalive?: TcpKeepalive;
  maxConnectionDuration?: string;
  idleTimeout?: string;
}

export interface HttpSettings {
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  idleTimeout?: string;
  h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  useClientProtocol?: boolean;
  maxConcurrentStreams?: number;
  http2KeepAlive?: { interval?: string; timeout?: string };
}

export interface ConnectionPoolSettings {
  tcp?: TcpSettings;
  http?: HttpSettings;
}
