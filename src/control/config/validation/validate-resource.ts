import type { ConfigResource } from '../../../api/config-resource.ts';
import { lookupKind } from '../../../api/kinds.ts';
import { SchemaValidator } from '../schema/schema-validator.ts';
import { validateAuthorizationPolicy } from './authorization-policy-validator.ts';
import { validateDestinationRule } from './destination-rule-validator.ts';
import { validateGateway } from './gateway-validator.ts';
import { isDNS1123Label, isDNS1123Subdomain } from './hosts.ts';
import { IssueList, isObject } from './issue-list.ts';
import { validateKubeResource } from './kube-validator.ts';
import { validatePeerAuthentication } from './peer-authentication-validator.ts';
import { validateRequestAuthentication } from './request-authentication-validator.ts';
import { validateServiceEntry } from './service-entry-validator.ts';
import { validateSidecar } from './sidecar-validator.ts';
import { validateTelemetry } from './telemetry-validator.ts';
import type { ValidationIssue, ValidationResult } from './validation-issue.ts';
import { validateVirtualService } from './virtual-service-validator.ts';
import { validateWorkloadEntry } from './workload-entry-validator.ts';
import { validateWorkloadGroup } from './workload-group-validator.ts';

export type { ValidationIssue, ValidationResult } from './validation-issue.ts';

type SemanticValidator = (r: ConfigResource<never>, out: IssueList) => void;

/** Semantic validators per Istio kind (Istio's admission webhook rules). */
const SEMANTIC: Record<string, SemanticValidator> = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  Gateway: validateGateway,
  ServiceEntry: validateServiceEntry,
  WorkloadEntry: validateWorkloadEntry,
  WorkloadGroup: validateWorkloadGroup,
  Sidecar: validateSidecar,
  PeerAuthentication: validatePeerAuthentication,
  RequestAuthentication: validateRequestAuthentication,
  AuthorizationPolicy: validateAuthorizationPolicy,
  Telemetry: validateTelemetry,
};

/**
 * Validates resources in two layers, as Istio: the CRD's OpenAPI schema (with its CEL rules),
 * then the kind's semantic rules. Holds the compiled schemas, so create one per process (or
 * use `validateResource`, which shares one). Never throws on user input.
 */
export class ResourceValidator {
  readonly #schema: SchemaValidator;

  constructor(schema: SchemaValidator = new SchemaValidator()) {
    this.#schema = schema;
  }

  validate(r: ConfigResource): ValidationResult {
    const out = new IssueList();
    try {
      this.#validate(r, out);
    } catch (err) {
      out.error('', `internal validation error (please report): ${(err as Error).message}`);
    }
    return { errors: collapseTypos(dedupe(out.errors)), warnings: dedupe(out.warnings) };
  }

  #validate(r: ConfigResource, out: IssueList): void {
    const found = lookupKind(r.group, r.version, r.kind);
    if (!found.known) {
      if (found.reason === 'unserved-version') {
        out.error('apiVersion', `version "${r.version}" of ${r.kind} is not served (served versions: ${(found.served ?? []).join(', ')})`);
      } else if (this.#schema.has(r.group, r.kind)) {
        // An Istio kind Mizzen does not implement (EnvoyFilter, WasmPlugin, ...): a warning, but
        // its CRD schema still applies, as it would in a cluster.
        const schema = this.#schema.check(r.group, r.kind, r.version, r.raw);
        if (schema.status === 'unserved') out.error('apiVersion', `version "${r.version}" of ${r.kind} is not served (served versions: ${schema.served.join(', ')})`);
        else if (schema.status === 'checked') for (const e of schema.errors) out.error(e.path, e.message);
        out.warn('kind', `${r.kind} (${r.apiVersion}) is not supported by Mizzen: checked against its CRD schema only, ignored otherwise`);
      } else {
        out.warn('kind', `unknown kind ${r.kind} (apiVersion ${r.apiVersion}): not validated`);
      }
      return;
    }
    const { info } = found;
    if (!info.istio) {
      // The apiserver's object-name rules; Istio's own validation checks names of Istio kinds
      // only where it cares (Gateway), so they are not applied to those.
      const name = r.metadata.name;
      if (!isDNS1123Subdomain(name)) {
        out.error('metadata.name', `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
      }
      const ns = r.metadata.namespace;
      if (ns !== undefined && (typeof ns !== 'string' || !isDNS1123Label(ns) || ns !== ns.toLowerCase())) {
        out.error('metadata.namespace', `Invalid value: ${JSON.stringify(ns)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`);
      }
      if (info.crdSchema) {
        // Gateway API kinds: what the API server checks (their CRDs' schemas and CEL rules).
        const schema = this.#schema.check(r.group, r.kind, r.version, r.raw);
        if (schema.status === 'unserved') out.error('apiVersion', `version "${r.version}" of ${r.kind} is not served (served versions: ${schema.served.join(', ')})`);
        else if (schema.status === 'checked') for (const e of schema.errors) out.error(e.path, e.message);
        else out.error('kind', `no schema bundled for ${r.kind} (${r.apiVersion}) (please report)`);
      }
      validateKubeResource(r, out);
      return;
    }
    const schema = this.#schema.check(r.group, r.kind, r.version, r.raw);
    if (schema.status === 'unserved') {
      out.error('apiVersion', `version "${r.version}" of ${r.kind} is not served (served versions: ${schema.served.join(', ')})`);
      return;
    }
    const schemaErrors = schema.status === 'checked' ? schema.errors : [];
    for (const e of schemaErrors) out.error(e.path, e.message);
    if (r.metadata.annotations?.['istio.io/always-reject'] !== undefined) {
      out.error('metadata.annotations', '"istio.io/always-reject" annotation found, rejecting');
      return;
    }
    if (r.kind !== 'AuthorizationPolicy' && r.metadata.annotations?.['istio.io/dry-run'] !== undefined) {
      out.error('metadata.annotations', `${r.metadata.namespace ?? ''}/${r.metadata.name} has unsupported annotation istio.io/dry-run, please remove the annotation`);
    }
    const spec = isObject(r.raw.spec) ? r : { ...r, spec: {} };
    const semanticFrom = out.errors.length;
    try {
      SEMANTIC[r.kind]?.(spec as ConfigResource<never>, out);
    } catch (err) {
      // Semantic rules assume the schema's types; after schema errors a crash is expected noise.
      if (schemaErrors.length === 0) throw err;
    }
    // A field the schema already refused gets no second error from the semantic rules.
    const refused = new Set(schemaErrors.map((e) => e.path));
    const semantic = out.errors.splice(semanticFrom).filter((e) => !refused.has(e.path));
    out.errors.push(...semantic);
  }
}

/**
 * One typo, one error: `destinaton:` is reported as the unknown field with its likely meaning,
 * and the errors that only follow from it (the meant field "Required", its semantic checks)
 * are dropped.
 */
function collapseTypos(list: ValidationIssue[]): ValidationIssue[] {
  const meant: string[] = [];
  for (const i of list) {
    const m = /^unknown field "[^"]*", did you mean "([^"]*)"\?$/.exec(i.message);
    if (m) meant.push(`${i.path.slice(0, Math.max(0, i.path.lastIndexOf('.')))}${i.path.includes('.') ? '.' : ''}${m[1]}`);
  }
  if (meant.length === 0) return list;
  const follows = (path: string): boolean => meant.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  return list.filter((i) => /did you mean/.test(i.message) || !follows(i.path));
}

function dedupe(list: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return list.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

let shared: ResourceValidator | undefined;

/**
 * Validate one resource: schema layer first, then semantics. Unknown kinds are a warning,
 * unserved versions an error. Uses one lazily created ResourceValidator (an immutable cache of
 * the bundled CRD schemas) shared by all callers.
 */
export function validateResource(r: ConfigResource): ValidationResult {
  shared ??= new ResourceValidator();
  return shared.validate(r);
}
