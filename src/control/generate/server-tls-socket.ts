import type { ServerTLSSettings } from '../../api/istio/tls-settings.ts';
import { EXT, sdsSecret, type JsonObject } from './envoy-extensions.ts';

const TLS_VERSIONS: Record<string, string> = { TLSV1_0: 'TLSv1_0', TLSV1_1: 'TLSv1_1', TLSV1_2: 'TLSv1_2', TLSV1_3: 'TLSv1_3' };

/**
 * A DownstreamTlsContext transport socket from Istio's ServerTLSSettings, as istiod builds it for
 * gateway servers and (with ENABLE_TLS_ON_SIDECAR_INGRESS) Sidecar ingress ports: the
 * credentialName's SDS secrets (`kubernetes://NAME`, `NAME-cacert` for MUTUAL), the workload
 * certificate for ISTIO_MUTUAL, else the certificate files; subjectAltNames and TLS versions.
 */
export function serverTlsSocket(tls: ServerTLSSettings): JsonObject {
  const common: JsonObject = { alpnProtocols: ['h2', 'http/1.1'] };
  if (tls.credentialName) {
    common.tlsCertificateSdsSecretConfigs = [sdsSecret(`kubernetes://${tls.credentialName}`)];
    if (tls.mode === 'MUTUAL') common.combinedValidationContext = { defaultValidationContext: {}, validationContextSdsSecretConfig: sdsSecret(`kubernetes://${tls.credentialName}-cacert`) };
  } else if (tls.mode === 'ISTIO_MUTUAL') {
    common.tlsCertificateSdsSecretConfigs = [sdsSecret('default')];
    common.combinedValidationContext = { defaultValidationContext: {}, validationContextSdsSecretConfig: sdsSecret('ROOTCA') };
  } else if (tls.serverCertificate && tls.privateKey) {
    common.tlsCertificates = [{ certificateChain: { filename: tls.serverCertificate }, privateKey: { filename: tls.privateKey } }];
    if (tls.mode === 'MUTUAL' && tls.caCertificates) common.validationContext = { trustedCa: { filename: tls.caCertificates }, ...(tls.caCrl ? { crl: { filename: tls.caCrl } } : {}) };
  }
  const mutual = tls.mode === 'MUTUAL' || tls.mode === 'ISTIO_MUTUAL';
  // As istiod: the client certificate must carry one of subjectAltNames; TLS versions bounded as set.
  if (mutual && tls.subjectAltNames?.length) {
    const cv = (common.combinedValidationContext ?? common.validationContext) as JsonObject | undefined;
    const sans = { matchSubjectAltNames: tls.subjectAltNames.map((exact) => ({ exact })) };
    if (cv && common.combinedValidationContext) cv.defaultValidationContext = { ...(cv.defaultValidationContext as JsonObject), ...sans };
    else if (cv) Object.assign(cv, sans);
  }
  const params: JsonObject = {};
  if (tls.minProtocolVersion && tls.minProtocolVersion !== 'TLS_AUTO') params.tlsMinimumProtocolVersion = TLS_VERSIONS[tls.minProtocolVersion];
  if (tls.maxProtocolVersion && tls.maxProtocolVersion !== 'TLS_AUTO') params.tlsMaximumProtocolVersion = TLS_VERSIONS[tls.maxProtocolVersion];
  if (Object.keys(params).length > 0) common.tlsParams = params;
  return { name: EXT.tlsTransport.name, typedConfig: { '@type': EXT.tlsTransport.downstream, commonTlsContext: common, requireClientCertificate: mutual } };
}

