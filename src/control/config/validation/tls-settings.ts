import type { ClientTLSSettings, ServerTLSSettings } from '../../../api/istio/tls-settings.ts';
import { at, type IssueList } from './issue-list.ts';

/** TLS blocks: server side (Gateway servers, Sidecar ingress) and client side (DestinationRule). */
const CIPHER_SUITES = new Set([
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384', 'AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA', 'ECDHE-PSK-AES128-CBC-SHA', 'ECDHE-PSK-AES256-CBC-SHA', 'PSK-AES128-CBC-SHA', 'PSK-AES256-CBC-SHA',
  'ECDHE-ECDSA-CHACHA20-POLY1305-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305-SHA256',
]);

export function validateServerTls(tls: ServerTLSSettings | undefined, path: string, out: IssueList): void {
  if (!tls) return;
  if ((tls.minProtocolVersion === 'TLSV1_0' || tls.minProtocolVersion === 'TLSV1_1') && !tls.cipherSuites?.length) {
    out.warn(path, 'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.');
  }
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const dup = new Set<string>();
  for (const cs of tls.cipherSuites ?? []) {
    // BoringSSL cipher-list operators (`-X`, `!X`, `+X`) name a suite too.
    const name = cs.replace(/^[-!+]/, '');
    if (!CIPHER_SUITES.has(name)) invalid.add(cs);
    else if (valid.has(cs)) dup.add(cs);
    else valid.add(cs);
  }
  if (invalid.size) out.warn(`${path}.cipherSuites`, `ignoring invalid cipher suites: [${[...invalid].sort().join(' ')}]`);
  if (dup.size) out.warn(`${path}.cipherSuites`, `ignoring duplicate cipher suites: [${[...dup].sort().join(' ')}]`);
  const mode = tls.mode;
  if (mode === 'ISTIO_MUTUAL') {
    if (tls.serverCertificate) out.error(path, 'ISTIO_MUTUAL TLS cannot have associated server certificate');
    if (tls.privateKey) out.error(path, 'ISTIO_MUTUAL TLS cannot have associated private key');
    if (tls.caCertificates) out.error(path, 'ISTIO_MUTUAL TLS cannot have associated CA bundle');
    if (tls.credentialName) out.error(path, 'ISTIO_MUTUAL TLS cannot have associated credentialName');
    return;
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (tls.caCrl || tls.serverCertificate || tls.privateKey || tls.caCertificates || tls.credentialName) {
      out.warn(path, `${mode} mode does not use certificates, they will be ignored`);
    }
  }
  if (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
    const sources = (tls.credentialName ? 1 : 0) + (tls.credentialNames?.length ? 1 : 0) + (tls.tlsCertificates?.length ? 1 : 0) + (tls.serverCertificate && tls.privateKey ? 1 : 0);
    if (sources > 1) {
      out.error(path, 'only one of credential_name, credential_names, tls_certificates or server_certificate/private_key can be set');
      return;
    }
    // Credentials fetched remotely (SDS): certificate files are not required.
    if (tls.credentialName || tls.credentialNames?.length) return;
  }
  const label = mode === 'SIMPLE' ? 'SIMPLE' : 'MUTUAL';
  if (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
    const certs = tls.tlsCertificates ?? [];
    if (certs.length > 0) {
      if (certs.length > 2) out.warn(at(path, 'tlsCertificates'), `${label} TLS can support up to 2 server certificates`);
      certs.forEach((c, i) => {
        if (!c?.serverCertificate) out.error(at(at(path, 'tlsCertificates'), i), `${label} TLS requires a server certificate`);
        if (!c?.privateKey) out.error(at(at(path, 'tlsCertificates'), i), `${label} TLS requires a private key`);
      });
    } else {
      if (!tls.serverCertificate) out.error(path, `${label} TLS requires a server certificate`);
      if (!tls.privateKey) out.error(path, `${label} TLS requires a private key`);
    }
    if (mode !== 'SIMPLE' && !tls.caCertificates) out.error(path, 'MUTUAL TLS requires a client CA bundle');
  }
  if (tls.caCrl) {
    if (tls.credentialName) out.error(path, 'CRL is not supported with credentialName. CRL has to be specified in the credential');
    if (mode === 'SIMPLE') out.error(path, 'CRL is not supported with SIMPLE TLS');
  }
}

export function validateClientTls(namespace: string, tls: ClientTLSSettings | undefined, path: string, out: IssueList): void {
  if (!tls) return;
  if (tls.credentialName?.startsWith('configmap://')) {
    const rest = tls.credentialName.slice('configmap://'.length);
    const parts = rest.split('/');
    if (rest === '' || parts.length > 2 || parts.some((p) => p === '')) out.error(path, `invalid configmap:// credentialName: invalid resource name "${tls.credentialName}"`);
    else if (parts.length === 2 && parts[0] !== namespace) out.error(path, `invalid configmap:// credentialName: namespace must match the configuration namespace "${namespace}"`);
  }
  if (tls.insecureSkipVerify) {
    if (tls.mode === 'SIMPLE' && (tls.caCertificates || tls.credentialName || tls.subjectAltNames !== undefined)) {
      out.error(path, 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true');
    }
    if (tls.mode === 'MUTUAL' && (tls.caCertificates || tls.subjectAltNames !== undefined)) {
      out.error(path, 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }
  if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && tls.credentialName) {
    if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl) {
      out.error(path, 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
    }
    return;
  }
  if (tls.mode === 'MUTUAL') {
    if (!tls.clientCertificate) out.error(path, 'client certificate required for mutual tls');
    if (!tls.privateKey) out.error(path, 'private key required for mutual tls');
  }
}
