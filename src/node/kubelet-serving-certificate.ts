import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createCertificationRequest } from '../lib/certification-request.ts';
import { certificateValidity } from '../lib/certificate-info.ts';
import { errorMessage } from '../lib/errors.ts';
import { isConflict, type KubeApi, KubeApiError } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';

type Obj = Record<string, any>;

export interface ServingCertificate {
  keyPem: string;
  certPem: string;
  /** The CSR object it came from. */
  csrName: string;
}

export interface ServingCertificateRequest {
  api: KubeApi;
  nodeName: string;
  /** The Node's InternalIP: the API server dials it and checks it against the certificate. */
  address: string;
  log: Logger;
  /** Stop waiting (the node is closing). */
  signal: AbortSignal;
  pollMs?: number;
}

const BASE = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

/**
 * The kubelet's serving certificate through the certificates API, as a kubelet with
 * `serverTLSBootstrap` gets it: a CertificateSigningRequest for signer
 * `kubernetes.io/kubelet-serving` (O=system:nodes, CN=system:node:NAME, the node's address and
 * name as SANs), approved by the node itself when its credentials allow it (an administrator's
 * `kubectl certificate approve NAME` otherwise; the log says so), signed by kube-controller-manager.
 * The API server checks it against `--kubelet-certificate-authority` when it proxies `kubectl logs`.
 */
export async function requestServingCertificate(o: ServingCertificateRequest): Promise<ServingCertificate> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = createCertificationRequest({ privateKey, publicKey, organization: 'system:nodes', commonName: `system:node:${o.nodeName}`, altNames: { ips: [o.address], dns: [o.nodeName] } });
  const created = await o.api.request<Obj>('POST', BASE, {
    body: {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { generateName: `csr-${o.nodeName}-`, labels: { 'mizzen.io/node': o.nodeName } },
      spec: { request: Buffer.from(csr).toString('base64'), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] },
    },
  });
  const name = String(created.metadata?.name);
  await approve(o, name);
  let warned = false;
  for (;;) {
    if (o.signal.aborted) throw new Error('node closing');
    const csrObj = await o.api.request<Obj>('GET', `${BASE}/${name}`).catch(() => undefined);
    const conditions = (csrObj?.status?.conditions ?? []) as Obj[];
    const bad = conditions.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
    if (bad) throw new Error(`CertificateSigningRequest ${name} ${bad.type}: ${bad.message ?? bad.reason ?? ''}`);
    if (csrObj?.status?.certificate) {
      return { keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, certPem: Buffer.from(String(csrObj.status.certificate), 'base64').toString('utf8'), csrName: name };
    }
    if (!warned && conditions.some((c) => c.type === 'Approved')) {
      warned = true;
      o.log.info({ csr: name }, 'serving certificate approved; waiting for kube-controller-manager to sign it');
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, o.pollMs ?? 500);
      o.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
}

async function approve(o: ServingCertificateRequest, name: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await o.api.request<Obj>('GET', `${BASE}/${name}`);
    const conditions = [...((current.status?.conditions ?? []) as Obj[]), { type: 'Approved', status: 'True', reason: 'MizzenNodeApproved', message: `approved by mizzen node ${o.nodeName} for its own kubelet API` }];
    try {
      await o.api.request('PUT', `${BASE}/${name}/approval`, { body: { ...current, status: { ...current.status, conditions } } });
      return;
    } catch (err) {
      if (isConflict(err)) continue;
      if (err instanceof KubeApiError && err.status === 403) {
        o.log.warn({ csr: name }, `the node's credentials cannot approve its serving certificate: kubectl logs is served once an administrator runs: kubectl certificate approve ${name}`);
        return;
      }
      throw new Error(`approving CertificateSigningRequest ${name}: ${errorMessage(err)}`);
    }
  }
}

/**
 * When to ask for the next serving certificate: as the kubelet's certificate manager, at a
 * jittered 70-90 % of the current one's validity; `random` in [0, 1). At least 0 (now).
 */
export function rotationDelay(certPem: string, now: number, random: number): number {
  const { notBefore, notAfter } = certificateValidity(new X509Certificate(certPem));
  const at = notBefore + (notAfter - notBefore) * (0.7 + 0.2 * random);
  return Math.max(0, at - now);
}

/** The cluster CA of a kubeconfig (inline or file): what client certificates are checked against. */
export function clusterCa(api: KubeApi): string | undefined {
  const c = api.config.getCurrentCluster();
  if (c?.caData) return Buffer.from(c.caData, 'base64').toString('utf8');
  if (c?.caFile) return readFileSync(c.caFile, 'utf8');
  return undefined;
}
