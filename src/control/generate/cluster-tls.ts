import type { ClientTLSSettings } from '../../api/istio/tls-settings.ts';
import { EXT, sdsSecret, type JsonObject } from './envoy-extensions.ts';
import { tcpMetadataExchangeFilter } from './tcp-metadata-exchange-filter.ts';

/** The SDS name istiod gives the OS trust bundle (istio-agent serves it from the pod's filesystem). */
export const SYSTEM_ROOTS_SECRET = 'file-root:system';
/** SDS secret names the agent serves: the workload certificate and the mesh root. */
export const SDS_DEFAULT = 'default';
export const SDS_ROOTCA = 'ROOTCA';
/** ALPN Istio's sidecars offer each other (lets the peer tell mesh mTLS from app TLS). */
export const ISTIO_ALPN = ['istio-peer-exchange', 'istio'];

/** Mesh mTLS hops: TLS 1.2 to 1.3 (peers that can negotiate 1.3 do), as istiod sends them. */
export const MESH_TLS_PARAMS: JsonObject = Object.freeze({ tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' });

/** Istio's SNI for mesh mTLS to a cluster: `outbound_.PORT_.SUBSET_.HOST`. */
export function istioSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

/** UpstreamTlsContext for ISTIO_MUTUAL: workload cert `default`, root `ROOTCA`, SAN check. */
export function istioMutualContext(sni: string, subjectAltNames: readonly string[]): JsonObject {
  return {
    '@type': EXT.tlsTransport.upstream,
    commonTlsContext: {
      tlsParams: MESH_TLS_PARAMS,
      tlsCertificateSdsSecretConfigs: [sdsSecret(SDS_DEFAULT)],
      combinedValidationContext: {
        defaultValidationContext: subjectAltNames.length > 0 ? { matchSubjectAltNames: subjectAltNames.map((exact) => ({ exact })) } : {},
        validationContextSdsSecretConfig: sdsSecret(SDS_ROOTCA),
      },
      alpnProtocols: ISTIO_ALPN,
    },
    sni,
  };
}

function tlsSocket(context: JsonObject): JsonObject {
  return { name: EXT.tlsTransport.name, typedConfig: context };
}

/** Cluster fields for TLS: DestinationRule tls if set, else auto mTLS for mesh-internal services. */
export function clusterTlsFields(tls: ClientTLSSettings | undefined, opts: { sni: string; sans: readonly string[]; autoMtls: boolean; host: string }): JsonObject {
  // Mesh mTLS clusters carry Istio's upstream TCP metadata exchange (active only when the peer negotiates istio-peer-exchange).
  // ISTIO_MUTUAL with `sni` (an egress gateway's server chosen by the external host's name) sends that name, as istiod
  if (tls?.mode === 'ISTIO_MUTUAL') return { transportSocket: tlsSocket(istioMutualContext(tls.sni || opts.sni, tls.subjectAltNames?.length ? tls.subjectAltNames : opts.sans)), filters: [tcpMetadataExchangeFilter()] };
  if (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') return { transportSocket: tlsSocket(originatedTlsContext(tls, opts.host)) };
  if (tls?.mode === 'DISABLE' || !opts.autoMtls) return {};
  return {
    filters: [tcpMetadataExchangeFilter()],
    transportSocketMatches: [
      { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transportSocket: tlsSocket(istioMutualContext(opts.sni, opts.sans)) },
      { name: 'tlsMode-disabled', match: {}, transportSocket: { name: EXT.rawBuffer.name, typedConfig: { '@type': EXT.rawBuffer.type } } },
    ],
  };
}

/** TLS origination (SIMPLE/MUTUAL) with files or a credentialName served over SDS. */
function originatedTlsContext(tls: ClientTLSSettings, host: string): JsonObject {
  const common: JsonObject = {};
  if (tls.credentialName) {
    if (tls.mode === 'MUTUAL') common.tlsCertificateSdsSecretConfigs = [sdsSecret(`kubernetes://${tls.credentialName}`)];
    common.combinedValidationContext = { defaultValidationContext: sanMatch(tls), validationContextSdsSecretConfig: sdsSecret(`kubernetes://${tls.credentialName}-cacert`) };
  } else {
    if (tls.mode === 'MUTUAL' && tls.clientCertificate && tls.privateKey) {
      common.tlsCertificates = [{ certificateChain: { filename: tls.clientCertificate }, privateKey: { filename: tls.privateKey } }];
    }
    if (tls.caCertificates && !tls.insecureSkipVerify) common.validationContext = { trustedCa: { filename: tls.caCertificates }, ...sanMatch(tls), ...(tls.caCrl ? { crl: { filename: tls.caCrl } } : {}) };
    // istiod with VERIFY_CERTIFICATE_AT_CLIENT (on by default since Istio 1.21): no caCertificates
    // means the OS roots, asked of the agent's SDS as `file-root:system`
    else if (!tls.insecureSkipVerify) common.combinedValidationContext = { defaultValidationContext: sanMatch(tls), validationContextSdsSecretConfig: sdsSecret(SYSTEM_ROOTS_SECRET) };
  }
  return { '@type': EXT.tlsTransport.upstream, commonTlsContext: common, sni: tls.sni ?? (host.startsWith('*') ? '' : host) };
}

function sanMatch(tls: ClientTLSSettings): JsonObject {
  return tls.subjectAltNames?.length ? { matchSubjectAltNames: tls.subjectAltNames.map((exact) => ({ exact })) } : {};
}
