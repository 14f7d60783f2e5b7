/** Port declaration of Gateway servers and Sidecar listeners. */
export interface Port {
  number?: number;
  /** HTTP|HTTPS|GRPC|GRPC-WEB|HTTP2|MONGO|TCP|TLS (case-insensitive). */
  protocol?: string;
  name?: string;
  targetPort?: number;
}
