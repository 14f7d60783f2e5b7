import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export { CERTIFICATE_SERVICE_NAME, CREATE_CERTIFICATE_PATH } from './certificate-messages.ts';
export type { IstioCertificateRequest, IstioCertificateResponse } from './certificate-messages.ts';

/**
 * `istio.v1.auth.IstioCertificateService` as a grpc-js service, loaded from this directory's .proto
 * at run time: the agent's client uses it. (Discovery serves the CA with certificate-messages.ts
 * on its own gRPC server, without grpc-js.)
 */

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
