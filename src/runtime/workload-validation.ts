import { knownSampleImage } from './sample-images.ts';
import type { ConfigResource } from '../api/config-resource.ts';

/** A problem with a field of a Kubernetes object `mizzen up` runs. */
export interface FieldIssue {
  path: string;
  message: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536;

function checkLabels(v: unknown, path: string, out: FieldIssue[]): void {
  if (v === undefined) return;
  if (!isObj(v)) {
    out.push({ path, message: 'must be a map of strings' });
    return;
  }
  for (const [k, val] of Object.entries(v)) if (typeof val !== 'string') out.push({ path: `${path}.${k}`, message: 'label values must be strings' });
}

function checkContainer(c: unknown, path: string, out: FieldIssue[], injectedProxy = false): void {
  if (!isObj(c)) {
    out.push({ path, message: 'must be an object' });
    return;
  }
  if (typeof c.name !== 'string' || !NAME.test(c.name)) out.push({ path: `${path}.name`, message: 'required: a DNS label (lowercase letters, digits, -)' });
  for (const f of ['command', 'args'] as const) {
    const v = c[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) out.push({ path: `${path}.${f}`, message: 'must be a list of strings' });
  }
  if (!Array.isArray(c.command) && !Array.isArray(c.args) && !(injectedProxy && c.name === 'istio-proxy') && !knownSampleImage(c.image)) out.push({ path: `${path}.command`, message: 'required by mizzen up: images are not run (except the Istio sample images of src/runtime/sample-images.ts), give command/args of a local process' });
  if (c.env !== undefined) {
    if (!Array.isArray(c.env)) out.push({ path: `${path}.env`, message: 'must be a list' });
    else
      c.env.forEach((e, i) => {
        if (!isObj(e) || typeof e.name !== 'string' || e.name === '') out.push({ path: `${path}.env[${i}].name`, message: 'required' });
        else if (e.value !== undefined && typeof e.value !== 'string') out.push({ path: `${path}.env[${i}].value`, message: 'must be a string (quote numbers)' });
      });
  }
  if (c.ports !== undefined) {
    if (!Array.isArray(c.ports)) out.push({ path: `${path}.ports`, message: 'must be a list' });
    else c.ports.forEach((p, i) => !isObj(p) || !isPort(p.containerPort) ? out.push({ path: `${path}.ports[${i}].containerPort`, message: 'must be a port number 1-65535' }) : undefined);
  }
}

/** Errors in the fields of Namespace, ServiceAccount, Service, Deployment and Pod that the runtime uses. */
export function validateWorkloadResource(r: ConfigResource): FieldIssue[] {
  const out: FieldIssue[] = [];
  const name = r.metadata.name;
  if (typeof name !== 'string' || !SUBDOMAIN.test(name) || name.length > 253) out.push({ path: 'metadata.name', message: 'must be a lowercase RFC 1123 name' });
  checkLabels(r.metadata.labels, 'metadata.labels', out);
  const spec = r.spec as Record<string, unknown>;
  if (r.kind === 'Service' && r.group === '') {
    if (name.length > 63 || !NAME.test(name)) out.push({ path: 'metadata.name', message: 'a Service name must be a DNS label (<= 63 chars)' });
    const ports = spec.ports;
    if (ports !== undefined && !Array.isArray(ports)) out.push({ path: 'spec.ports', message: 'must be a list' });
    if (Array.isArray(ports)) {
      ports.forEach((p, i) => {
        if (!isObj(p) || !isPort(p.port)) out.push({ path: `spec.ports[${i}].port`, message: 'must be a port number 1-65535' });
        else if (p.targetPort !== undefined && !isPort(p.targetPort) && (typeof p.targetPort !== 'string' || p.targetPort === '')) out.push({ path: `spec.ports[${i}].targetPort`, message: 'must be a port number or a container port name' });
        if (isObj(p) && p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(String(p.protocol))) out.push({ path: `spec.ports[${i}].protocol`, message: 'must be TCP, UDP or SCTP' });
      });
    }
    if (spec.selector !== undefined) checkLabels(spec.selector, 'spec.selector', out);
  }
  if (r.kind === 'Deployment' && r.group === 'apps') {
    if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || !Number.isInteger(spec.replicas) || spec.replicas < 0)) out.push({ path: 'spec.replicas', message: 'must be a non-negative integer' });
    const template = spec.template;
    if (!isObj(template)) out.push({ path: 'spec.template', message: 'required' });
    else {
      const meta = isObj(template.metadata) ? template.metadata : {};
      checkLabels(meta.labels, 'spec.template.metadata.labels', out);
      const selector = isObj(spec.selector) && isObj(spec.selector.matchLabels) ? spec.selector.matchLabels : undefined;
      const labels = isObj(meta.labels) ? meta.labels : {};
      if (selector) for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) out.push({ path: `spec.selector.matchLabels.${k}`, message: 'selector does not match template labels' });
      const podSpec = isObj(template.spec) ? template.spec : undefined;
      if (!podSpec) out.push({ path: 'spec.template.spec', message: 'required' });
      else if (!Array.isArray(podSpec.containers) || podSpec.containers.length === 0) out.push({ path: 'spec.template.spec.containers', message: 'required: at least one container' });
      else {
        // Istio's gateway injection: the `istio-proxy` container (image: auto) is the proxy itself.
        const annotations = isObj(meta.annotations) ? meta.annotations : {};
        const templates = String(annotations['inject.istio.io/templates'] ?? '').split(',');
        const gateway = templates.includes('gateway') || templates.includes('waypoint');
        podSpec.containers.forEach((c, i) => checkContainer(c, `spec.template.spec.containers[${i}]`, out, gateway));
      }
    }
  }
  if (r.kind === 'Pod' && r.group === '') {
    const podSpec = isObj(spec) ? spec : undefined;
    if (!podSpec) out.push({ path: 'spec', message: 'required' });
    else if (!Array.isArray(podSpec.containers) || podSpec.containers.length === 0) out.push({ path: 'spec.containers', message: 'required: at least one container' });
    else podSpec.containers.forEach((c, i) => checkContainer(c, `spec.containers[${i}]`, out));
    if (podSpec && podSpec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(String(podSpec.restartPolicy))) out.push({ path: 'spec.restartPolicy', message: 'must be Always, OnFailure or Never' });
  }
  return out;
}
