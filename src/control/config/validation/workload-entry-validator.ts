import type { ConfigResource } from '../../../api/config-resource.ts';
import type { WorkloadEntrySpec } from '../../../api/istio/workload-entry.ts';
import { validateFQDN } from './hosts.ts';
import { isValidIP } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels } from './labels.ts';
import { validatePort, validatePortName } from './ports.ts';
import { validateUnixAddress } from './unix-address.ts';

const UNIX = 'unix://';

/**
 * A workload entry, standalone or as a ServiceEntry endpoint. `servicePorts` (endpoint case) are
 * the port names the ServiceEntry declares; `allowFQDN` is false for STATIC resolution.
 */
export function validateWorkloadEntrySpec(we: WorkloadEntrySpec, path: string, out: IssueList, servicePorts?: Set<string>, allowFQDN = true): void {
  const addr = we.address ?? '';
  if (addr === '') {
    if (!we.network) {
      out.error(at(path, 'address'), 'address is required');
      return;
    }
    out.warn(at(path, 'address'), `address is unset with network "${we.network}"`);
  }
  const unix = addr.startsWith(UNIX);
  if (unix) {
    out.check(at(path, 'address'), validateUnixAddress(addr.slice(UNIX.length)));
    if (Object.keys(we.ports ?? {}).length !== 0) out.error(at(path, 'ports'), `unix endpoint ${addr} must not include ports`);
  } else if (addr !== '' && !isValidIP(addr)) {
    if (!allowFQDN) out.error(at(path, 'address'), `endpoint address "${addr}" is not a valid IP address`);
    else if (validateFQDN(addr)) out.error(at(path, 'address'), `endpoint address "${addr}" is not a valid FQDN or an IP address`);
  }
  for (const [name, port] of Object.entries(we.ports ?? {})) {
    const p = at(at(path, 'ports'), name);
    if (servicePorts && !servicePorts.has(name)) out.error(p, `endpoint port ${port} is not defined by the service entry`);
    out.check(p, validatePortName(name));
    out.check(p, validatePort(port));
  }
  validateLabels(we.labels, at(path, 'labels'), out);
  if (unix && servicePorts && servicePorts.size !== 1) out.error(path, 'exactly 1 service port required for unix endpoints');
}

export function validateWorkloadEntry(r: ConfigResource<WorkloadEntrySpec>, out: IssueList): void {
  validateWorkloadEntrySpec(r.spec, 'spec', out);
}
