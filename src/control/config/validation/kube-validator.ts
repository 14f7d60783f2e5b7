import { parseDocument } from 'yaml';
import type { ConfigResource } from '../../../api/config-resource.ts';
import { MESH_CONFIG_KEY, MESH_CONFIG_MAP_NAME } from '../../../api/kube/config-map.ts';
import type { DeploymentSpec } from '../../../api/kube/deployment.ts';
import type { EndpointSlicePayload } from '../../../api/kube/endpoint-slice.ts';
import type { EndpointsPayload } from '../../../api/kube/endpoints.ts';
import type { Container, PodSpec } from '../../../api/kube/pod.ts';
import type { ServiceSpec } from '../../../api/kube/service.ts';
import { isDNS1123Label } from './hosts.ts';
import { isValidIP } from './ip-addresses.ts';
import { at, isObject, type IssueList } from './issue-list.ts';
import { validateLabels } from './labels.ts';

/**
 * Light checks of the Kubernetes kinds Mizzen reads: the shape of what we use (names, ports,
 * selectors), with messages in the apiserver's words. Values of the wrong type are reported,
 * never trusted.
 */
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function portNumber(v: unknown, path: string, out: IssueList, required = true): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) out.error(path, `Invalid value: ${JSON.stringify(v ?? null)}: must be between 1 and 65535, inclusive`);
}

function intOrName(v: unknown, path: string, out: IssueList): void {
  if (v === undefined) return;
  if (typeof v === 'number') portNumber(v, path, out);
  else if (typeof v !== 'string' || v.length > 15 || !IANA_SVC_NAME.test(v) || v.includes('--')) out.error(path, `Invalid value: ${JSON.stringify(v)}: must be a port number or an IANA_SVC_NAME`);
}

function protocol(v: unknown, path: string, out: IssueList): void {
  if (v !== undefined && v !== 'TCP' && v !== 'UDP' && v !== 'SCTP') out.error(path, `Unsupported value: ${JSON.stringify(v)}: supported values: "SCTP", "TCP", "UDP"`);
}

function stringMap(v: unknown, path: string, out: IssueList): v is Record<string, string> | undefined {
  if (v === undefined) return true;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    out.error(path, 'Invalid value: must be a map of strings');
    return false;
  }
  return true;
}

function validateService(spec: ServiceSpec, out: IssueList): void {
  if (stringMap(spec.selector, 'spec.selector', out)) validateLabels(spec.selector, 'spec.selector', out);
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) {
    out.error('spec.ports', 'Invalid value: must be a list');
    return;
  }
  const ports = spec.ports ?? [];
  if (ports.length === 0 && spec.type !== 'ExternalName' && spec.clusterIP !== 'None') out.error('spec.ports', 'Required value');
  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const path = at('spec.ports', i);
    if (!isObject(p)) {
      out.error(path, 'Invalid value: must be an object');
      return;
    }
    if (ports.length > 1 && !p.name) out.error(at(path, 'name'), 'Required value');
    if (p.name !== undefined) {
      if (typeof p.name !== 'string' || !DNS1035_LABEL.test(p.name) || p.name.length > 63) out.error(at(path, 'name'), `Invalid value: ${JSON.stringify(p.name)}: a DNS-1123 label must consist of lower case alphanumeric characters or '-'`);
      if (names.has(String(p.name))) out.error(at(path, 'name'), `Duplicate value: ${JSON.stringify(p.name)}`);
      names.add(String(p.name));
    }
    portNumber(p.port, at(path, 'port'), out);
    intOrName(p.targetPort, at(path, 'targetPort'), out);
    protocol(p.protocol, at(path, 'protocol'), out);
    const key = `${String(p.port)}/${String(p.protocol ?? 'TCP')}`;
    if (seen.has(key)) out.error(path, `Duplicate value: port ${String(p.port)} with protocol ${String(p.protocol ?? 'TCP')}`);
    seen.add(key);
  });
  if (spec.clusterIP !== undefined && spec.clusterIP !== 'None' && spec.clusterIP !== '' && !isValidIP(spec.clusterIP)) {
    out.error('spec.clusterIP', `Invalid value: ${JSON.stringify(spec.clusterIP)}: must be empty, 'None', or a valid IP address`);
  }
}

function validateContainers(list: unknown, path: string, out: IssueList, required: boolean): void {
  if (list === undefined) {
    if (required) out.error(path, 'Required value');
    return;
  }
  if (!Array.isArray(list) || (required && list.length === 0)) {
    out.error(path, required ? 'Required value' : 'Invalid value: must be a list');
    return;
  }
  const names = new Set<string>();
  (list as Container[]).forEach((c, i) => {
    const p = at(path, i);
    if (!isObject(c)) {
      out.error(p, 'Invalid value: must be an object');
      return;
    }
    if (typeof c.name !== 'string' || !isDNS1123Label(c.name) || c.name !== c.name.toLowerCase()) out.error(at(p, 'name'), c.name === undefined ? 'Required value' : `Invalid value: ${JSON.stringify(c.name)}`);
    else if (names.has(c.name)) out.error(at(p, 'name'), `Duplicate value: ${JSON.stringify(c.name)}`);
    else names.add(c.name);
    for (const f of ['command', 'args'] as const) {
      const v = c[f];
      if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) out.error(at(p, f), 'Invalid value: must be a list of strings');
    }
    (Array.isArray(c.ports) ? c.ports : []).forEach((cp, j) => {
      if (!isObject(cp)) return;
      portNumber(cp.containerPort, at(at(at(p, 'ports'), j), 'containerPort'), out);
      protocol(cp.protocol, at(at(at(p, 'ports'), j), 'protocol'), out);
    });
  });
}

function validatePodSpec(spec: PodSpec | undefined, path: string, out: IssueList): void {
  if (!isObject(spec)) {
    out.error(path, 'Required value');
    return;
  }
  validateContainers(spec.containers, at(path, 'containers'), out, true);
  validateContainers(spec.initContainers, at(path, 'initContainers'), out, false);
  const sa = spec.serviceAccountName ?? spec.serviceAccount;
  if (sa !== undefined && sa !== '' && (typeof sa !== 'string' || !isDNS1123Label(sa))) out.error(at(path, 'serviceAccountName'), `Invalid value: ${JSON.stringify(sa)}`);
}

function validateDeployment(spec: DeploymentSpec, out: IssueList): void {
  if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || spec.replicas < 0 || !Number.isInteger(spec.replicas))) out.error('spec.replicas', 'Invalid value: must be greater than or equal to 0');
  const selector = spec.selector;
  if (!isObject(selector)) out.error('spec.selector', 'Required value');
  else if (stringMap(selector.matchLabels, 'spec.selector.matchLabels', out)) {
    validateLabels(selector.matchLabels, 'spec.selector.matchLabels', out);
    if (!selector.matchLabels && !selector.matchExpressions) out.error('spec.selector', 'Invalid value: empty selector is invalid for deployment');
  }
  const labels = spec.template?.metadata?.labels;
  if (stringMap(labels, 'spec.template.metadata.labels', out)) {
    validateLabels(labels, 'spec.template.metadata.labels', out);
    const ml = isObject(selector) && isObject(selector.matchLabels) ? (selector.matchLabels as Record<string, string>) : {};
    if (Object.entries(ml).some(([k, v]) => labels?.[k] !== v)) out.error('spec.template.metadata.labels', 'Invalid value: `selector` does not match template `labels`');
  }
  validatePodSpec(spec.template?.spec, 'spec.template.spec', out);
}

function validateEndpoints(payload: EndpointsPayload, out: IssueList): void {
  (Array.isArray(payload.subsets) ? payload.subsets : []).forEach((s, i) => {
    const p = at('subsets', i);
    for (const f of ['addresses', 'notReadyAddresses'] as const) {
      (Array.isArray(s?.[f]) ? s[f] : []).forEach((a, j) => {
        if (!isValidIP(String(a?.ip))) out.error(at(at(at(p, f), j), 'ip'), `Invalid value: ${JSON.stringify(a?.ip ?? null)}: must be a valid IP address`);
      });
    }
    (Array.isArray(s?.ports) ? s.ports : []).forEach((port, j) => {
      portNumber(port?.port, at(at(at(p, 'ports'), j), 'port'), out);
      protocol(port?.protocol, at(at(at(p, 'ports'), j), 'protocol'), out);
    });
  });
}

function validateEndpointSlice(payload: EndpointSlicePayload, out: IssueList): void {
  const type = payload.addressType;
  if (type !== 'IPv4' && type !== 'IPv6' && type !== 'FQDN') out.error('addressType', `Unsupported value: ${JSON.stringify(type ?? null)}: supported values: "FQDN", "IPv4", "IPv6"`);
  (Array.isArray(payload.endpoints) ? payload.endpoints : []).forEach((e, i) => {
    const p = at('endpoints', i);
    if (!Array.isArray(e?.addresses) || e.addresses.length === 0) {
      out.error(at(p, 'addresses'), 'Required value');
      return;
    }
    e.addresses.forEach((a, j) => {
      if (type !== 'FQDN' && !isValidIP(String(a))) out.error(at(at(p, 'addresses'), j), `Invalid value: ${JSON.stringify(a)}: must be a valid IP address`);
    });
  });
  (Array.isArray(payload.ports) ? payload.ports : []).forEach((port, j) => {
    portNumber(port?.port, at(at('ports', j), 'port'), out, false);
    protocol(port?.protocol, at(at('ports', j), 'protocol'), out);
  });
}

/** ConfigMap `istio`, key `mesh`: Istio's MeshConfig as YAML; it must at least parse to a mapping. */
function validateMeshConfigText(text: string, path: string, out: IssueList): void {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    out.error(path, `invalid mesh config YAML: ${doc.errors[0].message.split('\n')[0]}`);
    return;
  }
  const value: unknown = doc.toJS();
  if (value !== null && value !== undefined && !isObject(value)) out.error(path, 'mesh config must be a YAML mapping (MeshConfig fields)');
}

function validateConfigMap(name: string, payload: { data?: unknown }, out: IssueList): void {
  if (payload.data === undefined) return;
  if (!isObject(payload.data)) {
    out.error('data', 'Invalid value: must be a map of strings');
    return;
  }
  for (const [k, v] of Object.entries(payload.data)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(k) || k.length > 253) out.error(`data[${k}]`, `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v !== 'string') out.error(`data[${k}]`, 'Invalid value: must be a string');
    else if (name === MESH_CONFIG_MAP_NAME && k === MESH_CONFIG_KEY) validateMeshConfigText(v, `data[${k}]`, out);
  }
}

export function validateKubeResource(r: ConfigResource, out: IssueList): void {
  const name = r.metadata.name;
  if (r.kind === 'Namespace' && (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)) {
    out.error('metadata.name', `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`);
  }
  if (r.kind === 'Service' && (!DNS1035_LABEL.test(name) || name.length > 63)) {
    out.error('metadata.name', `Invalid value: ${JSON.stringify(name)}: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`);
  }
  if (r.metadata.labels !== undefined && stringMap(r.metadata.labels, 'metadata.labels', out)) validateLabels(r.metadata.labels, 'metadata.labels', out);
  switch (r.kind) {
    case 'Service':
      validateService(r.spec as ServiceSpec, out);
      break;
    case 'Deployment':
      validateDeployment(r.spec as DeploymentSpec, out);
      break;
    case 'Pod':
      validatePodSpec(r.spec as PodSpec, 'spec', out);
      break;
    case 'Endpoints':
      validateEndpoints(r.spec as EndpointsPayload, out);
      break;
    case 'EndpointSlice':
      validateEndpointSlice(r.spec as EndpointSlicePayload, out);
      break;
    case 'ConfigMap':
      validateConfigMap(r.metadata.name, r.spec, out);
      break;
    default:
      break; // Namespace, ServiceAccount: metadata only
  }
}
