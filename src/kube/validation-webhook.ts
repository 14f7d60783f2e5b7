import { resourceRef } from '../api/config-resource.ts';
import { toResource } from '../control/config/sources/kube-source.ts';
import type { ResourceValidator } from '../control/config/sources/resource-validator.ts';
import type { AdmissionRequest, AdmissionResponse } from './admission-review.ts';

/**
 * `/validate`: istiod's validating webhook (`validation.istio.io`) with the validator of
 * `mizzen validate` and its messages. Deletes are always allowed; a kind Mizzen does not know is
 * allowed with a warning (the API server's CRD schema still applies to it).
 */
export function validateAdmission(request: AdmissionRequest, validate: ResourceValidator): AdmissionResponse {
  const uid = request.uid;
  if (request.operation === 'DELETE' || !request.object) return { uid, allowed: true };
  const obj = request.object;
  const apiVersion = request.kind.group ? `${request.kind.group}/${request.kind.version}` : request.kind.version;
  const metadata = { ...((obj.metadata ?? {}) as Record<string, unknown>) };
  if (metadata.namespace === undefined && request.namespace) metadata.namespace = request.namespace;
  if (metadata.name === undefined) metadata.name = request.name ?? metadata.generateName ?? '';
  const r = toResource({ ...obj, apiVersion, kind: request.kind.kind, metadata });
  const { errors, warnings } = validate(r);
  const ref = resourceRef(r);
  const line = (i: { path: string; message: string }): string => `${ref}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
  const warningLines = warnings.map(line);
  if (errors.length === 0) return { uid, allowed: true, ...(warningLines.length ? { warnings: warningLines } : {}) };
  return {
    uid,
    allowed: false,
    status: { code: 400, reason: 'BadRequest', message: `configuration is invalid: ${errors.map(line).join('; ')}` },
    ...(warningLines.length ? { warnings: warningLines } : {}),
  };
}
