import type { PeerCertificate } from 'node:tls';
import type { StreamInfo } from './stream-info.ts';

/** Connection-level facts copied into every request's StreamInfo. */
export interface DownstreamConnectionInfo {
  listenerName: string;
  direction: StreamInfo['direction'];
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  originalDestination: string;
  requestedServerName: string;
  tls: boolean;
  peerPrincipal: string;
  localPrincipal: string;
  /** The verified client certificate (for x-forwarded-client-cert details). */
  peerCertificate?: PeerCertificate;
}
