import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Port } from '../../../api/istio/port.ts';
import type { SidecarSpec } from '../../../api/istio/sidecar.ts';
import { validateFQDN, validateNamespaceSlashWildcardHostname } from './hosts.ts';
import { validateIPAddress } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateWorkloadSelector } from './labels.ts';
import { isHTTPProtocol, parseProtocol, validatePort, validatePortName, validateProtocol } from './ports.ts';
import { validateServerTls } from './tls-settings.ts';
import { validateConnectionPool } from './traffic-policy.ts';
import { validateUnixAddress } from './unix-address.ts';

const UNIX = 'unix://';

function checkPort(port: Port, bind: string, path: string, out: IssueList, egress: boolean, captureMode: string | undefined): void {
  if (port.name) out.check(at(path, 'name'), validatePortName(port.name));
  out.check(at(path, 'protocol'), validateProtocol(port.protocol));
  if (egress && (port.number ?? 0) === 0) {
    if (!bind.startsWith(UNIX)) out.error(path, 'sidecar: ports with 0 value must have a unix domain socket bind address');
    else out.check(path, validateUnixAddress(bind.slice(UNIX.length)));
    if (captureMode && captureMode !== 'DEFAULT' && captureMode !== 'NONE') out.error(path, 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners');
    return;
  }
  out.check(at(path, 'number'), validatePort(port.number ?? 0));
  if (bind !== '') out.check(path.replace(/\.port$/, '.bind'), validateIPAddress(bind));
}

/** "127.0.0.1:port", "[::1]:port", ":port" → host, port; undefined when malformed. */
function splitHostPort(s: string): { host: string; port: string } | undefined {
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s);
    return m ? { host: m[1], port: m[2] } : undefined;
  }
  const i = s.lastIndexOf(':');
  if (i < 0 || s.indexOf(':') !== i) return undefined;
  return { host: s.slice(0, i), port: s.slice(i + 1) };
}

export function validateSidecar(r: ConfigResource<SidecarSpec>, out: IssueList): void {
  const spec = r.spec;
  const ns = r.metadata.namespace ?? '';
  const sel = spec.workloadSelector;
  if (sel) {
    for (const [k, v] of Object.entries(sel.labels ?? {})) {
      const p = `spec.workloadSelector.labels[${k}]`;
      if (k === '') out.error(p, `empty key is not supported in selector: "${k}=${v}"`);
      if (k.includes('*') || v.includes('*')) out.error(p, `wildcard is not supported in selector: "${k}=${v}"`);
    }
    if (Object.keys(sel.labels ?? {}).length === 0) out.warn('spec.workloadSelector', 'sidecar: workload selector specified without labels, will be applied to all services in namespace');
  }
  if (!spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy && !spec.inboundConnectionPool) {
    out.error('spec', 'sidecar: empty configuration provided');
    return;
  }
  let ports = new Set<number>();
  (spec.ingress ?? []).forEach((ing, i) => {
    const p = at('spec.ingress', i);
    if (!ing) {
      out.error(p, 'sidecar: ingress may not be null');
      return;
    }
    if (!ing.port) {
      out.error(at(p, 'port'), 'sidecar: port is required for ingress listeners');
      return;
    }
    if ((ing.port.targetPort ?? 0) > 0) out.error(at(p, 'port.targetPort'), 'targetPort has no impact on Sidecars');
    checkPort(ing.port, ing.bind ?? '', at(p, 'port'), out, false, undefined);
    const n = ing.port.number ?? 0;
    if (ports.has(n)) out.error(at(p, 'port'), 'sidecar: ports on IP bound listeners must be unique');
    ports.add(n);
    const de = ing.defaultEndpoint ?? '';
    if (de !== '') {
      const dp = at(p, 'defaultEndpoint');
      if (de.startsWith(UNIX)) out.check(dp, validateUnixAddress(de.slice(UNIX.length)));
      else {
        const hp = splitHostPort(de);
        if (!hp) out.error(dp, `address ${de}: missing port in address`);
        else {
          if (hp.host !== '' && !['127.0.0.1', '0.0.0.0', '::1', '::'].includes(hp.host)) {
            out.error(dp, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset');
          }
          if (!/^[+-]?\d+$/.test(hp.port)) out.error(dp, `sidecar: defaultEndpoint port (${hp.port}) is not a number`);
          else out.check(dp, validatePort(Number(hp.port)));
        }
      }
    }
    if (ing.tls) {
      const tp = at(p, 'tls');
      if (ing.tls.subjectAltNames?.length) out.error(tp, 'sidecar: subjectAltNames is not supported in ingress tls');
      if (ing.tls.httpsRedirect) out.error(tp, 'sidecar: httpsRedirect is not supported');
      if (ing.tls.credentialName) out.error(tp, 'sidecar: credentialName is not currently supported');
      if (ing.tls.credentialNames?.length) out.error(tp, 'sidecar: credentialNames is not currently supported');
      if (ing.tls.tlsCertificates?.length) out.error(tp, 'sidecar: tlsCertificates is not currently supported');
      if (ing.tls.mode === 'ISTIO_MUTUAL' || ing.tls.mode === 'AUTO_PASSTHROUGH') out.error(tp, `configuration is invalid: cannot set mode to ${ing.tls.mode} in sidecar ingress tls`);
      validateServerTls(ing.tls, tp, out);
    }
    validateConnectionPool(ing.connectionPool, at(p, 'connectionPool'), out);
    if (ing.connectionPool?.http && !isHTTPProtocol(parseProtocol(ing.port.protocol))) {
      out.warn(at(p, 'connectionPool.http'), `sidecar: HTTP connection pool settings are configured for port ${n} ("${ing.port.name ?? ''}") but its protocol is not HTTP (${ing.port.protocol ?? ''}); only TCP settings will apply`);
    }
  });
  validateConnectionPool(spec.inboundConnectionPool, 'spec.inboundConnectionPool', out);
  ports = new Set<number>();
  const uds = new Set<string>();
  let catchAll = false;
  const egress = spec.egress ?? [];
  egress.forEach((eg, i) => {
    const p = at('spec.egress', i);
    if (!eg) {
      out.error(p, 'egress listener may not be null');
      return;
    }
    if (!eg.port) {
      if (!catchAll) {
        if (i === egress.length - 1) catchAll = true;
        else out.error(p, 'sidecar: the egress listener with empty port should be the last listener in the list');
      } else {
        out.error(p, 'sidecar: egress can have only one listener with empty port');
        return;
      }
    } else {
      if ((eg.port.targetPort ?? 0) > 0) out.error(at(p, 'port.targetPort'), 'targetPort has no impact on Sidecars');
      const bind = eg.bind ?? '';
      checkPort(eg.port, bind, at(p, 'port'), out, true, eg.captureMode);
      const n = eg.port.number ?? 0;
      if (n === 0) {
        if (uds.has(bind)) out.error(at(p, 'bind'), 'sidecar: unix domain socket values for listeners must be unique');
        uds.add(bind);
      } else {
        if (ports.has(n)) out.error(at(p, 'port'), 'sidecar: ports on IP bound listeners must be unique');
        ports.add(n);
      }
    }
    const hosts = eg.hosts ?? [];
    if (hosts.length === 0) {
      out.error(at(p, 'hosts'), 'sidecar: egress listener must contain at least one host');
      return;
    }
    const byNs = new Map<string, Set<string>>();
    hosts.forEach((h, j) => {
      const hp = at(at(p, 'hosts'), j);
      const slash = h.indexOf('/');
      if (slash >= 0) {
        let hns = h.slice(0, slash);
        const svc = h.slice(slash + 1);
        if (hns === '.') hns = ns;
        const set = byNs.get(hns) ?? new Set<string>();
        byNs.set(hns, set);
        if (svc !== '*') {
          if (set.has(svc) || set.has('*')) out.warn(hp, `duplicated egress host: ${h}`);
        } else if (set.size !== 0) out.warn(hp, `duplicated egress host: ${h}`);
        set.add(svc);
      }
      for (const e of validateNamespaceSlashWildcardHostname(h, false)) out.error(hp, e);
    });
    if (byNs.get('*')?.has('*') && byNs.size !== 1) out.warn(at(p, 'hosts'), '`*/*` host select all resources, no other hosts can be added');
  });
  const otp = spec.outboundTrafficPolicy;
  if (otp?.egressProxy) {
    const p = 'spec.outboundTrafficPolicy.egressProxy';
    if (otp.mode !== 'ALLOW_ANY') out.error(p, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode');
    else {
      out.check(at(p, 'host'), validateFQDN(otp.egressProxy.host ?? ''));
      if (!otp.egressProxy.port) out.error(at(p, 'port'), 'sidecar: egress_proxy port must be non-nil');
      else out.check(at(p, 'port.number'), validatePort(otp.egressProxy.port.number ?? 0));
    }
  }
}
