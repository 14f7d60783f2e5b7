import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { AddressEntry } from '../ambient/ambient-index.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { ambientIndexOf } from './ambient-index-of.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';

/**
 * `type.googleapis.com/istio.workload.Address` for ztunnel (istiod's WorkloadGenerator): every
 * Workload and Service for a wildcard subscription; for on-demand clients, what each subscribed
 * name designates (resource name or `network/IP` alias, answered with its aliases), plus the
 * workloads behind a subscribed service and every workload on the client's node (NODE_NAME).
 */
export class AddressGenerator implements Generator {
  readonly typeUrl = TYPE_URL.workloadAddress;

  generate(proxy: ProxyInfo, push: PushContext, request: GenerateRequest): GeneratedResource[] {
    const index = ambientIndexOf(push);
    if (!request.names) return push.cached('ambient-addresses', () => index.addresses.map((a) => toResource(a, false)));
    const out = new Map<string, GeneratedResource>();
    const add = (a: AddressEntry, implicit: boolean): void => {
      if (!out.has(a.name) || !implicit) out.set(a.name, toResource(a, implicit));
    };
    for (const name of request.names) {
      for (const a of index.lookup(name)) {
        add(a, false);
        const svc = a.resource.service;
        if (svc) for (const w of index.workloadsOfService(`${svc.namespace}/${svc.hostname}`)) if (!out.has(w.name)) add(w, true);
      }
    }
    const node = typeof proxy.metadata.NODE_NAME === 'string' ? proxy.metadata.NODE_NAME : '';
    if (node) for (const w of index.workloadsOnNode(node)) if (!out.has(w.name)) add(w, true);
    return [...out.values()];
  }
}

function toResource(a: AddressEntry, implicit: boolean): GeneratedResource {
  return { name: a.name, resource: a.resource as Record<string, unknown>, aliases: a.aliases, ...(implicit ? { implicit } : {}) };
}
