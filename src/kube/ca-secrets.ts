import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import { KubeApiError, type KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';
import { loadSigningAuthority, PLUG_IN_FILES } from '../control/ca/signing-authority.ts';

export const CA_SECRET = 'istio-ca-secret';
export const PLUG_IN_SECRET = 'cacerts';

export interface Secret {
  data?: Record<string, string>;
}

const decode = (b64: string | undefined): string => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : '');

/** Does Secret `cacerts` hold a plug-in CA (ca-cert.pem and ca-key.pem)? */
export function isPlugIn(s: Secret | undefined): s is Secret {
  return Boolean(s?.data?.['ca-cert.pem'] && s.data['ca-key.pem']);
}

/** What of Secret `cacerts` the CA uses, to tell a real change from a resync. */
export function plugInFingerprint(s: Secret | undefined): string {
  return isPlugIn(s) ? PLUG_IN_FILES.map((f) => s.data?.[f] ?? '').join('|') : '';
}

/** Write Istio's plug-in files (ca-cert, ca-key, cert-chain, root-cert) from `cacerts` into caDir. */
export function writePlugInFiles(plugIn: Secret, caDir: string): void {
  for (const f of PLUG_IN_FILES) writeFileSync(join(caDir, f), decode(plugIn.data?.[f]), { mode: 0o600 });
  if (!plugIn.data?.['root-cert.pem']) writeFileSync(join(caDir, 'root-cert.pem'), decode(plugIn.data?.['ca-cert.pem']), { mode: 0o600 });
  rmSync(join(caDir, 'root-key.pem'), { force: true });
}

/**
 * Put the mesh CA's keys into `caDir` from the cluster, as istiod does before it serves:
 * Secret `cacerts` (plug-in CA: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem) wins;
 * else Secret `istio-ca-secret` (the self-signed root as ca-cert.pem + ca-key.pem); else a new
 * self-signed root is made and stored as `istio-ca-secret`. Creation races between replicas are
 * settled by the API server: whoever loses (409) reads the winner's secret. Returns the mode.
 */
export async function loadCaFromCluster(o: { api: KubeApi; namespace: string; caDir: string; trustDomain: string; log: Logger }): Promise<'plug-in' | 'self-signed'> {
  const base = `/api/v1/namespaces/${o.namespace}/secrets`;
  const get = async (name: string): Promise<Secret | undefined> => {
    try {
      return await o.api.request<Secret>('GET', `${base}/${name}`);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw new KubeApiError(err instanceof KubeApiError ? err.status : 0, 'CaSecret', `cannot read Secret ${o.namespace}/${name}: ${errorMessage(err)} (hint: the ClusterRole needs get on secrets in ${o.namespace})`);
    }
  };
  const plugIn = await get(PLUG_IN_SECRET);
  if (isPlugIn(plugIn)) {
    writePlugInFiles(plugIn, o.caDir);
    o.log.info({ secret: `${o.namespace}/${PLUG_IN_SECRET}` }, 'CA: plug-in certificates from the cluster');
    return 'plug-in';
  }
  const writeRoot = (s: Secret): void => {
    for (const f of PLUG_IN_FILES) rmSync(join(o.caDir, f), { force: true });
    writeFileSync(join(o.caDir, 'root-cert.pem'), decode(s.data?.['ca-cert.pem']), { mode: 0o600 });
    writeFileSync(join(o.caDir, 'root-key.pem'), decode(s.data?.['ca-key.pem']), { mode: 0o600 });
  };
  const existing = await get(CA_SECRET);
  if (existing?.data?.['ca-cert.pem'] && existing.data['ca-key.pem']) {
    writeRoot(existing);
    o.log.info({ secret: `${o.namespace}/${CA_SECRET}` }, 'CA: self-signed root from the cluster');
    return 'self-signed';
  }
  for (const f of ['root-cert.pem', 'root-key.pem', ...PLUG_IN_FILES]) if (existsSync(join(o.caDir, f))) rmSync(join(o.caDir, f));
  loadSigningAuthority({ caDir: o.caDir, trustDomain: o.trustDomain, now: Date.now(), log: o.log });
  const b64 = (f: string): string => readFileSync(join(o.caDir, f)).toString('base64');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'istio.io/ca-root',
    metadata: { name: CA_SECRET, namespace: o.namespace },
    data: { 'ca-cert.pem': b64('root-cert.pem'), 'ca-key.pem': b64('root-key.pem'), 'cert-chain.pem': '', 'key.pem': '', 'root-cert.pem': '' },
  };
  try {
    await o.api.request('POST', base, { body: secret });
    o.log.info({ secret: `${o.namespace}/${CA_SECRET}` }, 'CA: new self-signed root stored in the cluster');
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) {
      throw new KubeApiError(err instanceof KubeApiError ? err.status : 0, 'CaSecret', `cannot create Secret ${o.namespace}/${CA_SECRET}: ${errorMessage(err)} (hint: the ClusterRole needs create on secrets in ${o.namespace})`);
    }
    const winner = await get(CA_SECRET);
    if (!winner) throw new KubeApiError(409, 'CaSecret', `Secret ${o.namespace}/${CA_SECRET} was created by another replica but cannot be read`);
    writeRoot(winner);
    o.log.info({ secret: `${o.namespace}/${CA_SECRET}` }, 'CA: another replica stored the root first; using it');
  }
  return 'self-signed';
}

/** TokenReview (authentication.k8s.io/v1) for the CA's KubeTokenReviewAuthenticator. */
export function kubeTokenReviewer(api: KubeApi) {
  return async (token: string, audiences: readonly string[]) => {
    const review = await api.request<{ status?: { authenticated?: boolean; user?: { username?: string }; audiences?: string[]; error?: string } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } },
    });
    const st = review.status ?? {};
    return { authenticated: st.authenticated === true, ...(st.user?.username ? { username: st.user.username } : {}), ...(st.audiences ? { audiences: st.audiences } : {}), ...(st.error ? { error: st.error } : {}) };
  };
}
