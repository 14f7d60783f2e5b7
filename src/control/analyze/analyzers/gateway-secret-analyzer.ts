import { X509Certificate } from 'node:crypto';
import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { gatewayPods, gatewaySelector } from '../gateway-workloads.ts';
import { selectorString } from '../label-selector.ts';
import { obj, objs, str, type Obj } from '../untyped-fields.ts';

function decoded(data: Obj, key: string): string {
  const v = str(data[key]);
  return v === '' ? '' : Buffer.from(v, 'base64').toString('utf8');
}

/** Whether a Secret holds a usable, unexpired server certificate (tls.crt/tls.key or cert/key). */
export function isValidCredential(secret: ConfigResource, now: Date): boolean {
  const spec = secret.spec as Obj;
  const data = obj(spec.data);
  const stringData = obj(spec.stringData);
  const get = (k: string): string => decoded(data, k) || str(stringData[k]);
  let cert = '';
  if (get('cert') && get('key')) cert = get('cert');
  else if (get('tls.crt') && get('tls.key')) cert = get('tls.crt');
  else return false;
  try {
    const x = new X509Certificate(cert);
    return new Date(x.validTo).getTime() > now.getTime() && new Date(x.validFrom).getTime() <= now.getTime();
  } catch {
    return false;
  }
}

/**
 * Istio's gateway.SecretAnalyzer: a TLS server's credentialName must name a Secret in the
 * gateway workload's namespace, holding a valid certificate.
 */
export const gatewaySecretAnalyzer: Analyzer = {
  name: 'gateway.SecretAnalyzer',
  description: 'Checks a gateway\'s referenced secrets for correctness',
  messages: ['ReferencedResourceNotFound', 'InvalidGatewayCredential'],
  analyze(ctx) {
    const now = new Date();
    for (const gw of ctx.list('Gateway')) {
      // Secrets are read from the namespace of the gateway workload, not of the Gateway.
      const pod = gatewayPods(ctx, gw)[0];
      if (!pod) {
        ctx.report(gw, 'ReferencedResourceNotFound', 'selector', selectorString(gatewaySelector(gw)));
        continue;
      }
      const ns = pod.metadata.namespace ?? '';
      for (const server of objs((gw.spec as Obj).servers)) {
        const cn = str(obj(server.tls).credentialName);
        if (cn === '') continue;
        const slash = cn.indexOf('/');
        const secret = slash < 0 ? ctx.get('Secret', ns, cn) : ctx.get('Secret', cn.slice(0, slash), cn.slice(slash + 1));
        if (!secret) {
          ctx.report(gw, 'ReferencedResourceNotFound', 'credentialName', cn);
          continue;
        }
        if (!isValidCredential(secret, now)) ctx.report(gw, 'InvalidGatewayCredential', gw.metadata.name, ns);
      }
    }
  },
};
