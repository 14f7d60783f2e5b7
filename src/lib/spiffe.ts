/**
 * SPIFFE identities in Istio's Kubernetes shape: `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT`.
 */
export interface SpiffeIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SCHEME = 'spiffe://';
// DNS-label-ish pieces; Kubernetes names are stricter, but the trust domain may hold dots.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/i;
const SEGMENT = /^[a-z0-9._-]+$/i;

export function formatSpiffeId(id: SpiffeIdentity): string {
  for (const [what, value, re] of [
    ['trust domain', id.trustDomain, TRUST_DOMAIN],
    ['namespace', id.namespace, SEGMENT],
    ['service account', id.serviceAccount, SEGMENT],
  ] as const) {
    if (!re.test(value)) throw new RangeError(`invalid SPIFFE ${what}: ${JSON.stringify(value)}`);
  }
  return `${SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Parse an Istio-shaped SPIFFE URI; undefined when it is not one. */
export function parseSpiffeId(uri: string): SpiffeIdentity | undefined {
  if (!uri.startsWith(SCHEME)) return undefined;
  const parts = uri.slice(SCHEME.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  const [trustDomain, , namespace, , serviceAccount] = parts;
  if (!TRUST_DOMAIN.test(trustDomain) || !SEGMENT.test(namespace) || !SEGMENT.test(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}
