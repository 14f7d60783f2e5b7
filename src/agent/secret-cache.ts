/**
 * The agent's current workload certificate, key and trust bundle, shared in process with the
 * proxy: readers take `current()`, and `subscribe` tells them when a rotation replaced it.
 */
export interface WorkloadSecret {
  /** SPIFFE URI the certificate carries. */
  identity: string;
  /** PEM: leaf first, then intermediates (no root). */
  certChainPem: string;
  privateKeyPem: string;
  /** PEM trust bundle (the mesh root). */
  rootCertPem: string;
  notBefore: number;
  notAfter: number;
}

export type SecretListener = (secret: WorkloadSecret) => void;

export class SecretCache {
  private secret: WorkloadSecret | undefined;
  private readonly listeners = new Set<SecretListener>();

  current(): WorkloadSecret | undefined {
    return this.secret;
  }

  /** Seconds-since-epoch style view for admin endpoints: when the served certificate expires. */
  expiry(): { notBefore: number; notAfter: number } | undefined {
    return this.secret && { notBefore: this.secret.notBefore, notAfter: this.secret.notAfter };
  }

  update(secret: WorkloadSecret): void {
    this.secret = secret;
    for (const l of [...this.listeners]) {
      try {
        l(secret);
      } catch {
        // A listener's failure must not stop the others from seeing the new certificate.
      }
    }
  }

  /** Call `listener` on every update (and now, if a secret is already there). Returns unsubscribe. */
  subscribe(listener: SecretListener): () => void {
    this.listeners.add(listener);
    if (this.secret) listener(this.secret);
    return () => void this.listeners.delete(listener);
  }
}
