import type { WorkloadSecret } from './secret-cache.ts';

/**
 * The agent's certificates as Istio's SDS resources, Envoy `Secret`s in protobuf JSON form
 * (envoy.extensions.transport_sockets.tls.v3.Secret; bytes as base64):
 *   `default` → tls_certificate { certificate_chain, private_key }
 *   `ROOTCA`  → validation_context { trusted_ca }
 */
export const WORKLOAD_SECRET_NAME = 'default';
export const ROOT_SECRET_NAME = 'ROOTCA';

export interface EnvoySecretJson {
  name: string;
  tlsCertificate?: { certificateChain: { inlineBytes: string }; privateKey: { inlineBytes: string } };
  validationContext?: { trustedCa: { inlineBytes: string } };
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export function workloadSecretResource(s: WorkloadSecret): EnvoySecretJson {
  return {
    name: WORKLOAD_SECRET_NAME,
    tlsCertificate: { certificateChain: { inlineBytes: b64(s.certChainPem) }, privateKey: { inlineBytes: b64(s.privateKeyPem) } },
  };
}

export function rootSecretResource(s: Pick<WorkloadSecret, 'rootCertPem'>): EnvoySecretJson {
  return { name: ROOT_SECRET_NAME, validationContext: { trustedCa: { inlineBytes: b64(s.rootCertPem) } } };
}

/** Both SDS resources for the current secret (empty before the first certificate). */
export function sdsSecretResources(s: WorkloadSecret | undefined): EnvoySecretJson[] {
  return s ? [workloadSecretResource(s), rootSecretResource(s)] : [];
}

/** One resource by SDS name, as an SDS server answers a request for it. */
export function sdsSecretResource(s: WorkloadSecret | undefined, name: string): EnvoySecretJson | undefined {
  if (!s) return undefined;
  if (name === WORKLOAD_SECRET_NAME) return workloadSecretResource(s);
  if (name === ROOT_SECRET_NAME) return rootSecretResource(s);
  return undefined;
}
