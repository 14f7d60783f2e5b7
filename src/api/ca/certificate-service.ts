import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * `istio.v1.auth.IstioCertificateService` loaded from this directory's .proto at run time. Both
 * the CA (server) and the agent (client) take their definitions from here.
 */
export const CERTIFICATE_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${CERTIFICATE_SERVICE_NAME}/CreateCertificate`;

export interface IstioCertificateRequest {
  csr: string;
  /** Seconds; proto-loader hands int64 over as a string (longs: String). */
  validityDuration?: string | number;
  metadata?: unknown;
}

export interface IstioCertificateResponse {
  certChain: string[];
}

export interface CertificateServiceDefinitions {
  service: grpc.ServiceDefinition;
  /** Client constructor for the service. */
  Client: grpc.ServiceClientConstructor;
}

const PROTO_PATH = fileURLToPath(new URL('./istio-ca.proto', import.meta.url));

/** Load the service (each call loads afresh; callers keep the result). */
export function loadCertificateService(): CertificateServiceDefinitions {
  const packageDefinition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    istio: { v1: { auth: { IstioCertificateService: grpc.ServiceClientConstructor } } };
  };
  const Client = pkg.istio.v1.auth.IstioCertificateService;
  return { service: Client.service, Client };
}
