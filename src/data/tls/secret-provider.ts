/** Key material the proxy needs, by SDS secret name (`default`, `ROOTCA`, or a gateway credential). */
export type TlsSecret =
  | { kind: 'certificate'; certChain: string; privateKey: string }
  | { kind: 'validation'; trustedCa: string };

/**
 * The narrow interface the data plane needs from whoever holds secrets: the in-process agent
 * (src/agent secret cache), SDS resources received over ADS, or a test. `onChange` fires with the
 * secret name after it changed (rotation); it returns an unsubscribe function.
 */
export interface SecretProvider {
  getSecret(name: string): TlsSecret | undefined;
  onChange(listener: (name: string) => void): () => void;
}

/** A SecretProvider backed by a map, settable at run time (tests, SDS over ADS, static files). */
export class MapSecretProvider implements SecretProvider {
  private readonly secrets = new Map<string, TlsSecret>();
  private readonly listeners = new Set<(name: string) => void>();

  set(name: string, secret: TlsSecret): void {
    this.secrets.set(name, secret);
    for (const l of this.listeners) l(name);
  }

  delete(name: string): void {
    if (this.secrets.delete(name)) for (const l of this.listeners) l(name);
  }

  getSecret(name: string): TlsSecret | undefined {
    return this.secrets.get(name);
  }

  names(): string[] {
    return [...this.secrets.keys()];
  }

  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** First provider that has the secret wins (e.g. the agent, then SDS-over-ADS). */
export class ChainedSecretProvider implements SecretProvider {
  private readonly providers: readonly SecretProvider[];

  constructor(providers: readonly SecretProvider[]) {
    this.providers = providers;
  }

  getSecret(name: string): TlsSecret | undefined {
    for (const p of this.providers) {
      const s = p.getSecret(name);
      if (s) return s;
    }
    return undefined;
  }

  onChange(listener: (name: string) => void): () => void {
    const offs = this.providers.map((p) => p.onChange(listener));
    return () => offs.forEach((o) => o());
  }
}
