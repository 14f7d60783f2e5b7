import type { ConfigResource } from '../../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Operation, Source } from '../../../api/istio/authorization-policy.ts';
import { at, type IssueList } from './issue-list.ts';
import { checkEmptyValues, checkValidPathTemplate, validateAttribute, validateIPs, validatePorts } from './security-attributes.ts';
import { validatePolicySelection } from './target-refs.ts';

const SOURCE_FIELDS = ['principals', 'requestPrincipals', 'namespaces', 'ipBlocks', 'remoteIpBlocks', 'notPrincipals', 'notRequestPrincipals', 'notNamespaces', 'notIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains'] as const;
const OPERATION_FIELDS = ['ports', 'methods', 'paths', 'hosts', 'notPorts', 'notMethods', 'notPaths', 'notHosts'] as const;

function capital(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function validateSource(src: Source, i: number, path: string, out: IssueList): boolean {
  if (SOURCE_FIELDS.every((f) => !src[f]?.length)) out.error(path, `\`from.source\` must not be empty, found at rule ${i}`);
  for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const) out.check(at(path, f), validateIPs(src[f]));
  for (const f of SOURCE_FIELDS) out.check(at(path, f), checkEmptyValues(capital(f), src[f]));
  return ['notPrincipals', 'principals', 'ipBlocks', 'notIpBlocks', 'namespaces', 'notNamespaces', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'].some((f) => src[f as keyof Source] !== undefined);
}

function validateOperation(op: Operation, i: number, path: string, out: IssueList): boolean {
  if (OPERATION_FIELDS.every((f) => !op[f]?.length)) out.error(path, `\`to.operation\` must not be empty, found at rule ${i}`);
  out.check(at(path, 'ports'), validatePorts(op.ports));
  out.check(at(path, 'notPorts'), validatePorts(op.notPorts));
  for (const f of OPERATION_FIELDS) out.check(at(path, f), checkEmptyValues(capital(f), op[f]));
  out.check(at(path, 'paths'), checkValidPathTemplate('Paths', op.paths));
  out.check(at(path, 'notPaths'), checkValidPathTemplate('NotPaths', op.notPaths));
  return op.ports !== undefined || op.notPorts !== undefined;
}

export function validateAuthorizationPolicy(r: ConfigResource<AuthorizationPolicySpec>, out: IssueList): void {
  const spec = r.spec;
  const action = spec.action ?? 'ALLOW';
  validatePolicySelection(spec, 'spec', out);
  const dryRun = r.metadata.annotations?.['istio.io/dry-run'];
  if (dryRun !== undefined) {
    if (action !== 'ALLOW' && action !== 'DENY') {
      out.error('metadata.annotations[istio.io/dry-run]', `the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action ${action} in ${r.metadata.namespace ?? ''}/${r.metadata.name}`);
    } else if (!['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(dryRun)) {
      out.error('metadata.annotations[istio.io/dry-run]', `has annotation istio.io/dry-run with invalid value (${dryRun})`);
    }
  }
  if (action === 'CUSTOM') {
    if (spec.rules === undefined) {
      out.error('spec.rules', 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
    } else if (!spec.provider?.name) out.error('spec.provider.name', '`provider.name` must not be empty');
    (spec.rules ?? []).forEach((rule, i) => {
      const p = at('spec.rules', i);
      (rule?.from ?? []).forEach((f, j) => {
        const src = f?.source;
        if (!src) return;
        for (const k of ['namespaces', 'notNamespaces', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'] as const) {
          if (src[k]?.length) out.error(at(at(at(p, 'from'), j), `source.${k}`), `From.${capital(k)} is currently not supported with CUSTOM action`);
        }
      });
      (rule?.when ?? []).forEach((w, j) => {
        const key = w?.key ?? '';
        if (key === 'source.namespace' || key === 'source.principal' || key.startsWith('request.auth.')) {
          out.error(at(at(p, 'when'), j), `${key} is currently not supported with CUSTOM action`);
        }
      });
    });
  }
  if (spec.provider !== undefined && action !== 'CUSTOM') out.error('spec.provider', `\`provider\` must not be with non CUSTOM action, found ${action}`);
  if (action === 'DENY' && spec.rules === undefined) {
    out.error('spec.rules', 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
  }
  (spec.rules ?? []).forEach((rule, i) => {
    const p = at('spec.rules', i);
    if (!rule) {
      out.error(p, `\`rule\` must not be nil, found at rule ${i}`);
      return;
    }
    if (rule.from !== undefined && rule.from.length === 0) out.error(at(p, 'from'), `\`from\` must not be empty, found at rule ${i}`);
    let tcpFrom = false;
    let tcpTo = false;
    let fromExists = false;
    let toExists = false;
    (rule.from ?? []).forEach((f, j) => {
      const fp = at(at(p, 'from'), j);
      if (!f) out.error(fp, `\`from\` must not be nil, found at rule ${i}`);
      else if (!f.source) out.error(fp, `\`from.source\` must not be nil, found at rule ${i}`);
      else {
        fromExists = true;
        if (validateSource(f.source, i, at(fp, 'source'), out)) tcpFrom = true;
      }
    });
    if (rule.to !== undefined && rule.to.length === 0) out.error(at(p, 'to'), `\`to\` must not be empty, found at rule ${i}`);
    (rule.to ?? []).forEach((t, j) => {
      const tp = at(at(p, 'to'), j);
      if (!t) out.error(tp, `\`to\` must not be nil, found at rule ${i}`);
      else if (!t.operation) out.error(tp, `\`to.operation\` must not be nil, found at rule ${i}`);
      else {
        toExists = true;
        if (validateOperation(t.operation, i, at(tp, 'operation'), out)) tcpTo = true;
      }
    });
    (rule.when ?? []).forEach((c, j) => {
      const cp = at(at(p, 'when'), j);
      const key = c?.key ?? '';
      if (key === '') {
        out.error(cp, '`key` must not be empty');
        return;
      }
      if (!c.values?.length && !c.notValues?.length) {
        out.error(cp, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
        return;
      }
      const ve = validateAttribute(key, c.values);
      if (ve) out.error(at(cp, 'values'), `invalid \`value\` for \`key\` ${key}: ${ve}`);
      const ne = validateAttribute(key, c.notValues);
      if (ne) out.error(at(cp, 'notValues'), `invalid \`notValue\` for \`key\` ${key}: ${ne}`);
    });
    if (((fromExists && !toExists && !tcpFrom) || (toExists && !tcpTo)) && action === 'DENY') {
      out.warn(p, 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port');
    }
  });
}
