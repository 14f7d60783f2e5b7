import { statusCodeName } from '../../api/xds/http-status-codes.ts';

/**
 * Istio's static checks of an envoyExtAuthzHttp / envoyExtAuthzGrpc extension provider (its
 * ValidateExtensionProviderEnvoyExtAuthz* and the CUSTOM builder's own checks): provider name,
 * port, service, statusOnError, timeout, pathPrefix, a lone `*` in a header list. Mesh config
 * loading reports them; the CUSTOM generator denies what a provider with errors would guard.
 * Whether the service exists is decided per push (registry), not here.
 */
export function extAuthzProviderErrors(name: string, kind: 'envoyExtAuthzHttp' | 'envoyExtAuthzGrpc', c: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const nameError = providerNameError(name);
  if (nameError) errors.push(`invalid provider name "${name}": ${nameError}`);
  const port = typeof c.port === 'string' && /^\d+$/.test(c.port) ? Number(c.port) : c.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) errors.push(`port must be in the range [1, 65535], found: ${String(c.port ?? 0)}`);
  if (typeof c.service !== 'string' || c.service === '') errors.push('service must not be empty');
  else if (c.service.split('/').length > 2) errors.push(`service must be HOSTNAME or NAMESPACE/HOSTNAME, found: ${c.service}`);
  const status = c.statusOnError;
  if (status !== undefined && status !== '' && (typeof status !== 'string' || !/^-?\d+$/.test(status) || statusCodeName(Number(status)) === undefined)) errors.push(`unsupported statusOnError ${String(status)}`);
  if (c.timeout !== undefined && (typeof c.timeout !== 'string' || !/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(c.timeout))) errors.push(`invalid timeout ${String(c.timeout)}`);
  if (kind === 'envoyExtAuthzHttp') {
    if (typeof c.pathPrefix === 'string' && c.pathPrefix !== '' && !c.pathPrefix.startsWith('/')) errors.push(`pathPrefix must begin with \`/\`, found: "${c.pathPrefix}"`);
    for (const field of ['includeRequestHeadersInCheck', 'includeHeadersInCheck', 'headersToDownstreamOnDeny', 'headersToDownstreamOnAllow', 'headersToUpstreamOnAllow']) {
      const v = c[field];
      if (Array.isArray(v) && v.includes('*')) errors.push(`a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${field}`);
    }
  }
  return errors;
}

/** Istio's provider name rule: a DNS-1123 label (lowercase letters, digits, '-'), at most 63 characters. */
export function providerNameError(name: string): string | undefined {
  if (name.length > 63) return `provider name too long (max 63 characters): ${name.length}`;
  const bad = /[^a-z0-9-]/.exec(name);
  if (bad) return /[A-Z]/.test(bad[0]) ? `uppercase letters not allowed (use lowercase): character "${bad[0]}" at position ${bad.index}` : `invalid character "${bad[0]}" at position ${bad.index} (only lowercase letters, digits, and hyphens allowed)`;
  if (name.startsWith('-') || name.endsWith('-')) return 'provider name cannot start or end with hyphen';
  return undefined;
}
