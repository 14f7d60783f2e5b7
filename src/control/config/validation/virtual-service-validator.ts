import type { ConfigResource } from '../../../api/config-resource.ts';
import type { VirtualServiceSpec } from '../../../api/istio/virtual-service.ts';
import { validateExportTo } from './export-to.ts';
import { validateGatewayNames } from './gateway-names.ts';
import { hostMatches, hostSubsetOf, validateWildcardDomain, validateWildcardDomainForGateway } from './hosts.ts';
import { isJwtClaimRoute } from './http-headers.ts';
import { validateHTTPRoute, validateRouteDestinations } from './http-route-validator.ts';
import { isValidIP, validateIPSubnet } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels } from './labels.ts';
import { validatePort } from './ports.ts';
import { reportUnreachableRules } from './unreachable-rules.ts';

export function validateVirtualService(r: ConfigResource<VirtualServiceSpec>, out: IssueList): void {
  const vs = r.spec;
  // Set by Istio on VirtualServices it generates from Gateway API routes.
  const gatewaySemantics = r.metadata.annotations?.['internal.istio.io/route-semantics'] === 'gateway';
  const hosts = vs.hosts ?? [];
  const gateways = vs.gateways ?? [];
  if (hosts.length === 0) {
    if (gateways.length) out.error('spec.gateways', 'delegate virtual service must have no gateways specified');
    if (vs.tls?.length) out.error('spec.tls', 'delegate virtual service must have no tls route specified');
    if (vs.tcp?.length) out.error('spec.tcp', 'delegate virtual service must have no tcp route specified');
  }
  let appliesToMesh = gateways.length === 0;
  let appliesToGateway = false;
  if (gateways.length > 0) {
    validateGatewayNames(gateways, 'spec.gateways', out, gatewaySemantics);
    appliesToGateway = !gateways.includes('mesh');
    appliesToMesh = !appliesToGateway;
  }
  if (!appliesToGateway) {
    (vs.http ?? []).forEach((h, i) => {
      (h?.match ?? []).forEach((m, j) => {
        for (const key of [...Object.keys(m?.headers ?? {}), ...Object.keys(m?.withoutHeaders ?? {})]) {
          if (isJwtClaimRoute(key)) {
            out.error(`spec.http[${i}].match[${j}]`, `JWT claim based routing (key: ${key}) is only supported for gateway, found no gateways: [${gateways.join(' ')}]`);
          }
        }
      });
    });
  }
  const sni = (vs.tls ?? []).some((t) => (t?.match ?? []).some((m) => (m?.sniHosts ?? []).length > 0));
  let allValid = true;
  hosts.forEach((h, i) => {
    const p = at('spec.hosts', i);
    const err = appliesToGateway ? validateWildcardDomainForGateway(sni, h) : validateWildcardDomain(h);
    if (err) {
      if (!isValidIP(h)) {
        out.error(p, err);
        allValid = false;
      }
    } else if (appliesToMesh && h === '*') {
      out.error(p, 'wildcard host * is not allowed for virtual services bound to the mesh gateway');
      allValid = false;
    }
  });
  if (allValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostMatches(hosts[i], hosts[j])) out.error('spec.hosts', `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
      }
    }
  }
  if (!vs.http?.length && !vs.tcp?.length && !vs.tls?.length) out.error('spec', 'http, tcp or tls must be provided in virtual service');
  (vs.http ?? []).forEach((h, i) => {
    if (!h) out.error(at('spec.http', i), 'http route may not be null');
    else validateHTTPRoute(h, at('spec.http', i), hosts.length === 0, out, gatewaySemantics);
  });
  (vs.tls ?? []).forEach((t, i) => {
    if (!t) return;
    const p = at('spec.tls', i);
    if (!t.match?.length) out.error(at(p, 'match'), 'TLS route must have at least one match condition');
    (t.match ?? []).forEach((m, j) => {
      const mp = at(at(p, 'match'), j);
      if (!m) {
        out.error(mp, 'TLS match may not be null');
        return;
      }
      if (!m.sniHosts?.length) out.error(at(mp, 'sniHosts'), 'TLS match must have at least one SNI host');
      (m.sniHosts ?? []).forEach((s, k) => {
        const sp = at(at(mp, 'sniHosts'), k);
        const err = appliesToGateway ? validateWildcardDomainForGateway(true, s) : validateWildcardDomain(s);
        if (err) {
          if (isValidIP(s)) out.warn(sp, `using an IP address ("${s}") goes against SNI spec and most clients do not support this`);
          else out.error(sp, err);
          return;
        }
        if (!hosts.some((h) => hostSubsetOf(s, h))) out.error(sp, `SNI host "${s}" is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`);
      });
      for (const s of m.destinationSubnets ?? []) out.check(at(mp, 'destinationSubnets'), validateIPSubnet(s));
      if (m.port) out.check(at(mp, 'port'), validatePort(m.port));
      validateLabels(m.sourceLabels, at(mp, 'sourceLabels'), out);
      validateGatewayNames(m.gateways, at(mp, 'gateways'), out);
    });
    if (!t.route?.length) out.error(at(p, 'route'), 'TLS route is required');
    validateRouteDestinations(t.route, at(p, 'route'), out, gatewaySemantics);
  });
  (vs.tcp ?? []).forEach((t, i) => {
    if (!t) return;
    const p = at('spec.tcp', i);
    (t.match ?? []).forEach((m, j) => {
      const mp = at(at(p, 'match'), j);
      if (!m) {
        out.error(mp, 'tcp match may not be nil');
        return;
      }
      for (const s of m.destinationSubnets ?? []) out.check(at(mp, 'destinationSubnets'), validateIPSubnet(s));
      if (m.port) out.check(at(mp, 'port'), validatePort(m.port));
      validateLabels(m.sourceLabels, at(mp, 'sourceLabels'), out);
      validateGatewayNames(m.gateways, at(mp, 'gateways'), out);
    });
    if (!t.route?.length) out.error(at(p, 'route'), 'TCP route is required');
    validateRouteDestinations(t.route, at(p, 'route'), out, gatewaySemantics);
  });
  validateExportTo(r.metadata.namespace ?? '', vs.exportTo, false, false, 'spec.exportTo', out);
  reportUnreachableRules(vs, out);
}
