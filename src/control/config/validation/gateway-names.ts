import { isDNS1123Label, validateFQDN } from './hosts.ts';
import type { IssueList } from './issue-list.ts';

/** `gateways` of a VirtualService or a match: `name`, `namespace/name`, or `mesh`. */
export function validateGatewayNames(names: string[] | undefined, path: string, out: IssueList, gatewaySemantics = false): void {
  for (const name of names ?? []) {
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const parts = name.split('.');
        out.warn(path, `using legacy gatewayName format "${name}"; prefer the <namespace>/<name> format: "${parts[1]}/${parts[0]}"`);
      }
      out.check(path, validateFQDN(name));
      return; // as Istio: names after a short name are not checked
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns === '' || gw === '') out.error(path, 'config namespace and gateway name cannot be empty');
    if (!isDNS1123Label(ns)) out.error(path, `invalid value for namespace: "${ns}"`);
    if (!isDNS1123Label(gw) && !gatewaySemantics) out.error(path, `invalid value for gateway name: "${gw}"`);
  }
}
