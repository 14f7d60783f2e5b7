import type { PodSpec } from '../../api/kube/pod.ts';
import { parseSpiffeId } from '../../lib/spiffe.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';
import type { CallerPod } from './authenticators/authenticator.ts';

/**
 * Who may ask the CA for another identity's certificate (Istio's node authorizer, a subset of
 * Kubernetes node authorization): a caller running as one of the trusted node accounts
 * (CA_TRUSTED_NODE_ACCOUNTS, `istio-system/ztunnel` by default), whose token is bound to a pod
 * that exists (same uid and service account), may impersonate an identity only when a pod with
 * that identity's service account runs on the caller's node. Answers the reason it refuses, or
 * undefined when allowed; the caller sees only an opaque error.
 */
export interface NodeAuthorizer {
  authorizeImpersonation(caller: CallerPod | undefined, requestedIdentity: string): string | undefined;
}

export const DEFAULT_TRUSTED_NODE_ACCOUNTS: readonly string[] = ['istio-system/ztunnel'];

export class StoreNodeAuthorizer implements NodeAuthorizer {
  private readonly store: ConfigStoreReader;
  private readonly trusted: ReadonlySet<string>;

  constructor(store: ConfigStoreReader, trustedNodeAccounts: readonly string[] = DEFAULT_TRUSTED_NODE_ACCOUNTS) {
    this.store = store;
    this.trusted = new Set(trustedNodeAccounts);
  }

  authorizeImpersonation(caller: CallerPod | undefined, requestedIdentity: string): string | undefined {
    if (!caller) return 'the caller is not a Kubernetes service account';
    if (!this.trusted.has(`${caller.namespace}/${caller.serviceAccount}`)) return `caller ${caller.namespace}/${caller.serviceAccount} is not allowed to impersonate (CA_TRUSTED_NODE_ACCOUNTS)`;
    const requested = parseSpiffeId(requestedIdentity);
    if (!requested) return `failed to validate impersonated identity ${requestedIdentity}`;
    if (!caller.podName) return 'the caller token is not bound to a pod';
    const pod = this.store.get('Pod', caller.namespace, caller.podName);
    if (!pod) return `pod ${caller.namespace}/${caller.podName} not found`;
    if (caller.podUid && pod.metadata.uid && pod.metadata.uid !== caller.podUid) return `pod found, but UID does not match: ${pod.metadata.uid} vs ${caller.podUid}`;
    const spec = (pod.spec ?? {}) as PodSpec;
    if ((spec.serviceAccountName ?? spec.serviceAccount ?? 'default') !== caller.serviceAccount) return 'pod found, but ServiceAccount does not match';
    const node = spec.nodeName;
    if (!node) return `pod ${caller.namespace}/${caller.podName} is not scheduled on a node`;
    const running = this.store.list('Pod', requested.namespace).some((p) => {
      const s = (p.spec ?? {}) as PodSpec;
      const phase = (p.raw.status as { phase?: string } | undefined)?.phase;
      return s.nodeName === node && (s.serviceAccountName ?? s.serviceAccount ?? 'default') === requested.serviceAccount && phase !== 'Failed';
    });
    return running ? undefined : `no instances of ${requested.namespace}/${requested.serviceAccount} found on node ${node}`;
  }
}
