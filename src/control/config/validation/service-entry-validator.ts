import type { ConfigResource } from '../../../api/config-resource.ts';
import type { ServiceEntrySpec } from '../../../api/istio/service-entry.ts';
import { validateExportTo } from './export-to.ts';
import { validateFQDN, validatePartialWildcard, validateWildcardDomain } from './hosts.ts';
import { isValidIP, validateIPSubnet } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels, validateWorkloadSelector } from './labels.ts';
import { isHTTPProtocol, isTCPProtocol, isTLSProtocol, parseProtocol, validatePort, validatePortName, validateProtocol } from './ports.ts';
import { validateWorkloadEntrySpec } from './workload-entry-validator.ts';

/** Annotation that opts a ServiceEntry in to (v2) automatic VIP allocation, as in Istio. */
const AUTO_ALLOCATE = 'networking.istio.io/enable-autoallocate-ip';

export function validateServiceEntry(r: ConfigResource<ServiceEntrySpec>, out: IssueList): void {
  const se = r.spec;
  const ns = r.metadata.namespace ?? '';
  if (se.workloadSelector) {
    validateWorkloadSelector(se.workloadSelector, 'spec.workloadSelector', out, 'labels', 'service entry: workload selector specified without labels, will be applied to all services in namespace');
  }
  if (se.workloadSelector && se.endpoints) out.error('spec', 'only one of WorkloadSelector or Endpoints is allowed in Service Entry');
  const hosts = se.hosts ?? [];
  if (hosts.length === 0) out.error('spec.hosts', 'service entry must have at least one host');
  hosts.forEach((h, i) => {
    const p = at('spec.hosts', i);
    if (h === '*') out.error(p, `invalid host ${h}`);
    else {
      out.check(p, validateWildcardDomain(h));
      const w = validatePartialWildcard(h);
      if (w) out.warn(p, w);
    }
  });
  let cidr = false;
  (se.addresses ?? []).forEach((a, i) => {
    cidr = cidr || a.includes('/');
    out.check(at('spec.addresses', i), validateIPSubnet(a));
  });
  const resolution = se.resolution ?? 'NONE';
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') out.error('spec.addresses', 'CIDR addresses are allowed only for NONE/STATIC resolution types');
  const autoAllocation = r.metadata.annotations?.[AUTO_ALLOCATE] === 'true';
  const numbers = new Set<number>();
  const names = new Set<string>();
  (se.ports ?? []).forEach((port, i) => {
    const p = at('spec.ports', i);
    if (!port) {
      out.error(p, 'service entry port may not be null');
      return;
    }
    const name = port.name ?? '';
    if (names.has(name)) out.error(at(p, 'name'), `service entry port name "${name}" already defined`);
    names.add(name);
    if (port.number !== undefined && numbers.has(port.number)) out.error(at(p, 'number'), `service entry port ${port.number} already defined`);
    if (port.number !== undefined) numbers.add(port.number);
    if (port.targetPort) {
      out.check(at(p, 'targetPort'), validatePort(port.targetPort));
      if (resolution === 'NONE') out.warn(at(p, 'targetPort'), 'targetPort has no effect when resolution mode is NONE');
    }
    if ((se.addresses ?? []).length === 0 && !autoAllocation && (!port.protocol || port.protocol === 'TCP')) {
      out.warn(p, 'addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE is not set on a proxy');
    }
    out.check(at(p, 'name'), validatePortName(name));
    out.check(at(p, 'protocol'), validateProtocol(port.protocol));
    out.check(at(p, 'number'), validatePort(port.number ?? 0));
  });
  const endpoints = se.endpoints ?? [];
  switch (resolution) {
    case 'NONE':
      if (endpoints.length !== 0) out.error('spec.endpoints', 'no endpoints should be provided for resolution type none');
      if (se.workloadSelector) out.warn('spec.workloadSelector', 'workloadSelector should not be set when resolution mode is NONE');
      break;
    case 'STATIC':
      endpoints.forEach((e, i) => {
        if (!e) out.error(at('spec.endpoints', i), 'endpoint cannot be nil');
        else validateWorkloadEntrySpec(e, at('spec.endpoints', i), out, names, false);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
    case 'DYNAMIC_DNS':
      if (endpoints.length === 0) {
        for (const h of hosts) if (validateFQDN(h)) out.error('spec.hosts', `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`);
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) out.error('spec.endpoints', `there must only be 0 or 1 endpoint for resolution mode ${resolution}`);
      endpoints.forEach((e, i) => {
        const p = at('spec.endpoints', i);
        if (!e) {
          out.error(p, 'endpoint cannot be nil');
          return;
        }
        const addr = e.address ?? '';
        if (!isValidIP(addr) && validateFQDN(addr)) out.error(at(p, 'address'), `endpoint address "${addr}" is not a valid FQDN or an IP address`);
        validateLabels(e.labels, at(p, 'labels'), out);
        for (const [name, port] of Object.entries(e.ports ?? {})) {
          const pp = at(at(p, 'ports'), name);
          if (!names.has(name)) out.error(pp, `endpoint port ${port} is not defined by the service entry`);
          out.check(pp, validatePortName(name));
          out.check(pp, validatePort(port));
        }
      });
      if ((se.addresses ?? []).length > 0 && hosts.length > 1 && (se.ports ?? []).some((p) => p && isTCPProtocol(parseProtocol(p.protocol)))) {
        out.warn('spec.hosts', 'service entry can not have more than one host specified simultaneously with address and tcp port');
      }
      break;
    default:
      out.error('spec.resolution', `unsupported resolution type ${String(resolution)}`);
  }
  if (resolution !== 'NONE' && hosts.length > 1) {
    const bad = (se.ports ?? []).some((p) => {
      const proto = parseProtocol(p?.protocol);
      return !isHTTPProtocol(proto) && !isTLSProtocol(proto);
    });
    if (bad) out.error('spec.ports', 'multiple hosts provided with non-HTTP, non-TLS ports');
  }
  validateExportTo(ns, se.exportTo, true, false, 'spec.exportTo', out);
}
