import type { ConfigChange } from '../config/config-store-reader.ts';
import type { RegistrySnapshot } from '../registry/service.ts';
import { servicesWithChangedIdentities } from '../registry/service-identities.ts';
import type { PushRequest } from './push-request.ts';

/**
 * An endpoint-only request whose endpoints changed who serves a service (a new service account,
 * one gone) becomes a config push for that service, as istiod makes it a full push: the SAN lists
 * of its clusters change, not only its endpoints.
 */
export function withIdentityChanges(req: PushRequest, before: RegistrySnapshot | undefined, after: RegistrySnapshot, moved: ReadonlySet<string> | undefined): PushRequest {
  if (req.full || !before) return req;
  const changed = servicesWithChangedIdentities(before, after, moved);
  if (changed.length === 0) return req;
  const services: ConfigChange[] = changed.map((s) => ({ kind: 'Service', group: '', namespace: s.namespace, name: s.name ?? s.hostname, old: undefined, new: undefined }));
  return { ...req, full: true, changes: [...req.changes, ...services], reasons: { ...req.reasons, serviceaccount: changed.length } };
}
