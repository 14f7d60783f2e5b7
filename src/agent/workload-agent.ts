import { readFile } from 'node:fs/promises';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { splitCertificatePems } from '../lib/pem.ts';
import { CaClient } from './ca-client.ts';
import { CertificateRotator, type RotatorEvent } from './certificate-rotator.ts';
import { SecretCache } from './secret-cache.ts';

/**
 * The agent a proxy embeds: a CA client, a rotator and the secret cache the proxy reads (and
 * serves as SDS `default` / `ROOTCA`). Like istio-agent: token from a file read per request,
 * CA on discovery's 15012 with TLS (root provisioned) or 15010 plaintext.
 */
export interface WorkloadAgentOptions {
  /** host:port of the CA. */
  caAddress: string;
  /** Mesh root PEM to verify the CA with; omit for plaintext (15010). */
  caRootCertPem?: string;
  /** Server name in discovery's certificate (default istiod.istio-system.svc). */
  caServerName?: string;
  /** File holding the service-account token (read for every request). */
  tokenFile?: string;
  /** Or the token itself / a provider. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  identity?: string;
  validitySeconds?: number;
  clock: Clock;
  log: Logger;
  onEvent?: (e: RotatorEvent) => void;
}

export interface WorkloadAgent {
  cache: SecretCache;
  start(): void;
  /** Resolves with the first certificate. */
  ready(): ReturnType<CertificateRotator['ready']>;
  close(): void;
}

/** `provisioned` and the certificates of `learnt` it does not hold yet, as one PEM bundle. */
export function trustedRoots(provisioned: string, learnt: string | undefined): string {
  const have = new Set(splitCertificatePems(provisioned));
  const extra = splitCertificatePems(learnt ?? '').filter((p) => !have.has(p));
  return extra.length === 0 ? provisioned : `${provisioned.trimEnd()}\n${extra.join('')}`;
}

export function createWorkloadAgent(o: WorkloadAgentOptions): WorkloadAgent {
  const cache = new SecretCache();
  const provisioned = o.caRootCertPem;
  const client = new CaClient({
    address: o.caAddress,
    // the provisioned root plus the roots the CA last sent: after a root rotation moved the CA's
    // serving certificate to the new root, renewals still verify it (istio-agent reads the
    // mesh's root bundle, istio-ca-root-cert, the same way)
    tls: provisioned ? { rootCertPem: () => trustedRoots(provisioned, cache.current()?.rootCertPem), serverName: o.caServerName } : undefined,
  });
  const token =
    typeof o.token === 'string'
      ? () => o.token as string
      : o.token ?? (o.tokenFile ? async () => (await readFile(o.tokenFile as string, 'utf8')).trim() || undefined : undefined);
  const rotator = new CertificateRotator({
    client,
    cache,
    clock: o.clock,
    log: o.log,
    mtls: o.caRootCertPem !== undefined,
    identity: o.identity,
    token,
    validitySeconds: o.validitySeconds,
    onEvent: o.onEvent,
  });
  return { cache, start: () => rotator.start(), ready: () => rotator.ready(), close: () => rotator.close() };
}
