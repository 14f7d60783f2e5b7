import type { SecretCache, WorkloadSecret } from './secret-cache.ts';
import { ROOT_SECRET_NAME, WORKLOAD_SECRET_NAME } from './sds-secrets.ts';

/**
 * The agent's SecretCache seen through the data plane's secret interface (structurally the
 * `SecretProvider` of src/data/tls/secret-provider.ts, restated here so the agent does not
 * depend on the data plane): `default` is the workload certificate, `ROOTCA` the trust bundle,
 * and both change together on rotation.
 */
export type AgentTlsSecret =
  | { kind: 'certificate'; certChain: string; privateKey: string }
  | { kind: 'validation'; trustedCa: string };

export interface AgentSecretProvider {
  getSecret(name: string): AgentTlsSecret | undefined;
  onChange(listener: (name: string) => void): () => void;
}

export function cacheSecretProvider(cache: SecretCache): AgentSecretProvider {
  return {
    getSecret(name: string): AgentTlsSecret | undefined {
      const s: WorkloadSecret | undefined = cache.current();
      if (!s) return undefined;
      if (name === WORKLOAD_SECRET_NAME) return { kind: 'certificate', certChain: s.certChainPem, privateKey: s.privateKeyPem };
      if (name === ROOT_SECRET_NAME) return { kind: 'validation', trustedCa: s.rootCertPem };
      return undefined;
    },
    onChange(listener: (name: string) => void): () => void {
      // subscribe() replays the current secret synchronously; only later updates are news.
      let subscribing = true;
      const unsubscribe = cache.subscribe(() => {
        if (subscribing) return;
        listener(WORKLOAD_SECRET_NAME);
        listener(ROOT_SECRET_NAME);
      });
      subscribing = false;
      return unsubscribe;
    },
  };
}
