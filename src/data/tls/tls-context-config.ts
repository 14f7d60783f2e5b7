import { readFileSync } from 'node:fs';
import { asArray, asObj, asString, isObj, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';

/** Where a certificate or CA comes from: an SDS secret name or inline PEM. */
export type KeySource = { sds: string } | { inline: { certChain: string; privateKey: string } };
export type CaSource = { sds: string } | { inline: string };

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** A compiled Upstream/DownstreamTlsContext. */
export interface TlsSpec {
  cert: KeySource | undefined;
  ca: CaSource | undefined;
  /** SAN matchers on the peer certificate (any SAN, URI or DNS, matching any matcher passes). */
  sanMatchers: readonly { type: 'ANY' | 'URI' | 'DNS'; match: StringMatch; text: string }[];
  alpn: readonly string[];
  sni: string | undefined;
  requireClientCert: boolean;
  /** PEM CRLs (validation_context.crl): peers whose certificate a CRL revokes are refused; every CA in the chain needs one. */
  crl: string | undefined;
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** tls_params.cipher_suites (OpenSSL names, TLS 1.2 and below; TLS 1.3 suites stay OpenSSL's). */
  ciphers: string | undefined;
  /** A stable key for caching secure contexts and pooling sessions. */
  key: string;
}

function dataSource(v: unknown, path: string): string {
  const o = asObj(v);
  onlyFields(o, path, ['filename', 'inlineString', 'inlineBytes', 'environmentVariable']);
  if (typeof o.inlineString === 'string') return o.inlineString;
  if (typeof o.inlineBytes === 'string') return Buffer.from(o.inlineBytes, 'base64').toString();
  if (typeof o.filename === 'string') {
    try {
      return readFileSync(o.filename, 'utf8');
    } catch (err) {
      return reject(`${path}.filename`, `cannot read ${o.filename}: ${(err as Error).message}`);
    }
  }
  return reject(path, 'data source needs filename, inline_string or inline_bytes');
}

const TLS_VERSION: Record<string, TlsVersion> = { TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3', TLS_AUTO: 'TLSv1.2' };

function compileValidation(v: unknown, path: string, out: { sans: TlsSpec['sanMatchers'][number][]; ca?: CaSource; crl?: string }): void {
  const o = asObj(v);
  onlyFields(o, path, ['trustedCa', 'matchSubjectAltNames', 'matchTypedSubjectAltNames', 'trustChainVerification', 'onlyVerifyLeafCertCrl', 'crl']);
  if (o.crl !== undefined) out.crl = dataSource(o.crl, `${path}.crl`);
  if (o.onlyVerifyLeafCertCrl === true) reject(`${path}.onlyVerifyLeafCertCrl`, 'CRLs are checked for the whole chain (OpenSSL CRL_CHECK_ALL); leaf-only is not supported');
  if (o.trustedCa !== undefined) out.ca = { inline: dataSource(o.trustedCa, `${path}.trustedCa`) };
  asArray(o.matchSubjectAltNames).forEach((m, i) => {
    const p = `${path}.matchSubjectAltNames[${i}]`;
    out.sans.push({ type: 'ANY', match: compileStringMatcher(m, p), text: JSON.stringify(m) });
  });
  asArray(o.matchTypedSubjectAltNames).forEach((m, i) => {
    const p = `${path}.matchTypedSubjectAltNames[${i}]`;
    onlyFields(m, p, ['sanType', 'matcher', 'oid']);
    const t = asString(m.sanType);
    if (t !== 'URI' && t !== 'DNS') reject(`${p}.sanType`, `SAN type ${t || 'unset'} not supported (URI, DNS)`);
    out.sans.push({ type: t as 'URI' | 'DNS', match: compileStringMatcher(m.matcher, `${p}.matcher`), text: JSON.stringify(m) });
  });
}

function compileCommon(c: unknown, path: string, spec: { sans: TlsSpec['sanMatchers'][number][]; ca?: CaSource; crl?: string; cert?: KeySource; alpn: string[]; min: TlsVersion; max: TlsVersion; ciphers?: string }): void {
  const o = asObj(c);
  onlyFields(o, path, [
    'tlsParams', 'tlsCertificates', 'tlsCertificateSdsSecretConfigs', 'validationContext', 'validationContextSdsSecretConfig',
    'combinedValidationContext', 'alpnProtocols',
  ]);
  const params = asObj(o.tlsParams);
  onlyFields(params, `${path}.tlsParams`, ['tlsMinimumProtocolVersion', 'tlsMaximumProtocolVersion', 'cipherSuites', 'ecdhCurves', 'signatureAlgorithms']);
  if (typeof params.tlsMinimumProtocolVersion === 'string') spec.min = TLS_VERSION[params.tlsMinimumProtocolVersion] ?? reject(`${path}.tlsParams.tlsMinimumProtocolVersion`, `${params.tlsMinimumProtocolVersion} not supported`);
  const suites = Array.isArray(params.cipherSuites) ? params.cipherSuites.map(String) : [];
  if (suites.some((c) => c.includes('['))) reject(`${path}.tlsParams.cipherSuites`, 'BoringSSL equal-preference groups ([a|b]) are not supported');
  if (suites.length > 0) spec.ciphers = suites.join(':');
  if (typeof params.tlsMaximumProtocolVersion === 'string') spec.max = params.tlsMaximumProtocolVersion === 'TLS_AUTO' ? 'TLSv1.3' : TLS_VERSION[params.tlsMaximumProtocolVersion] ?? reject(`${path}.tlsParams.tlsMaximumProtocolVersion`, `${params.tlsMaximumProtocolVersion} not supported`);
  const certs = asArray(o.tlsCertificates);
  const sdsCerts = asArray(o.tlsCertificateSdsSecretConfigs);
  if (certs.length + sdsCerts.length > 1) reject(`${path}.tlsCertificates`, 'only one certificate is supported');
  if (certs.length === 1) {
    const c0 = certs[0];
    onlyFields(c0, `${path}.tlsCertificates[0]`, ['certificateChain', 'privateKey']);
    spec.cert = { inline: { certChain: dataSource(c0.certificateChain, `${path}.tlsCertificates[0].certificateChain`), privateKey: dataSource(c0.privateKey, `${path}.tlsCertificates[0].privateKey`) } };
  }
  if (sdsCerts.length === 1) spec.cert = { sds: sdsName(sdsCerts[0], `${path}.tlsCertificateSdsSecretConfigs[0]`) };
  if (o.validationContext !== undefined) compileValidation(o.validationContext, `${path}.validationContext`, spec);
  if (o.validationContextSdsSecretConfig !== undefined) spec.ca = { sds: sdsName(o.validationContextSdsSecretConfig, `${path}.validationContextSdsSecretConfig`) };
  if (o.combinedValidationContext !== undefined) {
    const cv = asObj(o.combinedValidationContext);
    onlyFields(cv, `${path}.combinedValidationContext`, ['defaultValidationContext', 'validationContextSdsSecretConfig']);
    compileValidation(cv.defaultValidationContext, `${path}.combinedValidationContext.defaultValidationContext`, spec);
    spec.ca = { sds: sdsName(cv.validationContextSdsSecretConfig, `${path}.combinedValidationContext.validationContextSdsSecretConfig`) };
  }
  spec.alpn.push(...((o.alpnProtocols as string[] | undefined) ?? []));
}

function sdsName(v: unknown, path: string): string {
  const o = asObj(v);
  onlyFields(o, path, ['name', 'sdsConfig']);
  const name = asString(o.name);
  if (!name) reject(`${path}.name`, 'SDS secret name is empty');
  return name;
}

function finish(s: { sans: TlsSpec['sanMatchers'][number][]; ca?: CaSource; crl?: string; cert?: KeySource; alpn: string[]; min: TlsVersion; max: TlsVersion; ciphers?: string }, sni: string | undefined, requireClientCert: boolean, raw: Obj): TlsSpec {
  return {
    cert: s.cert,
    ca: s.ca,
    sanMatchers: s.sans,
    alpn: s.alpn,
    sni,
    requireClientCert,
    crl: s.crl,
    minVersion: s.min,
    maxVersion: s.max,
    ciphers: s.ciphers,
    key: JSON.stringify(raw),
  };
}

/** Compile envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext. */
export function compileUpstreamTls(v: unknown, path: string): TlsSpec {
  const o = asObj(v);
  onlyFields(o, path, ['commonTlsContext', 'sni', 'allowRenegotiation', 'maxSessionKeys', 'autoHostSni', 'autoSniSanValidation']);
  const s = { sans: [], alpn: [], min: 'TLSv1.2' as const, max: 'TLSv1.3' as const } as Parameters<typeof finish>[0];
  compileCommon(o.commonTlsContext, `${path}.commonTlsContext`, s);
  return finish(s, typeof o.sni === 'string' && o.sni ? o.sni : undefined, false, o);
}

/** Compile envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext. */
export function compileDownstreamTls(v: unknown, path: string): TlsSpec {
  const o = asObj(v);
  onlyFields(o, path, ['commonTlsContext', 'requireClientCertificate', 'requireSni', 'sessionTimeout', 'disableStatelessSessionResumption', 'ocspStaplePolicy', 'fullScanCertsOnSniMismatch', 'preferClientCiphers']);
  const s = { sans: [], alpn: [], min: 'TLSv1.2' as const, max: 'TLSv1.3' as const } as Parameters<typeof finish>[0];
  compileCommon(o.commonTlsContext, `${path}.commonTlsContext`, s);
  if (!s.cert) reject(`${path}.commonTlsContext`, 'a downstream TLS context needs a certificate');
  const requireClient = wrappedBool(o.requireClientCertificate) === true;
  if (requireClient && !s.ca) reject(`${path}.requireClientCertificate`, 'needs a validation context (trusted CA)');
  return finish(s, undefined, requireClient, o);
}

/**
 * A transport_socket: undefined for raw_buffer / unset, a TlsSpec for tls. `direction` picks the
 * context type. Anything else is rejected.
 */
export function compileTransportSocket(ts: unknown, path: string, direction: 'upstream' | 'downstream'): TlsSpec | undefined {
  if (!isObj(ts)) return undefined;
  onlyFields(ts, path, ['name', 'typedConfig']);
  const tc = asObj(ts.typedConfig);
  const type = asString(tc['@type'] ?? tc.typeUrl);
  if (type.endsWith('raw_buffer.v3.RawBuffer') || (!type && asString(ts.name).includes('raw_buffer'))) return undefined;
  if (direction === 'upstream' && type.endsWith('tls.v3.UpstreamTlsContext')) return compileUpstreamTls(tc, `${path}.typedConfig`);
  if (direction === 'downstream' && type.endsWith('tls.v3.DownstreamTlsContext')) return compileDownstreamTls(tc, `${path}.typedConfig`);
  return reject(`${path}.typedConfig`, `transport socket ${type || asString(ts.name)} not supported`);
}
