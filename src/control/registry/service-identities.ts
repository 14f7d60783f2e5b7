import type { RegistrySnapshot, Service } from './service.ts';

/** The identities behind one service. */
export interface ServiceIdentities {
  /** `namespace/serviceAccount` of every workload behind the service (any port, any subset), sorted. */
  accounts: readonly string[];
  /** ServiceEntry `subjectAltNames`, as written. */
  subjectAltNames: readonly string[];
}

const NONE: ServiceIdentities = { accounts: [], subjectAltNames: [] };
const memo = new WeakMap<RegistrySnapshot, Map<string, ServiceIdentities>>();

const keyOf = (s: Pick<Service, 'hostname' | 'namespace'>): string => `${s.namespace}/${s.hostname}`;

/**
 * Who may serve a service, as istiod computes it for the SAN check of mesh mTLS clusters: the
 * service accounts of all its endpoints (every port; a subset does not narrow it, so a subset
 * whose pods do not exist yet still checks identity) and a ServiceEntry's subjectAltNames.
 * Computed once per registry snapshot.
 */
export function serviceIdentities(registry: RegistrySnapshot, service: Pick<Service, 'hostname' | 'namespace'>): ServiceIdentities {
  return indexOf(registry).get(keyOf(service)) ?? NONE;
}

function indexOf(registry: RegistrySnapshot): Map<string, ServiceIdentities> {
  let index = memo.get(registry);
  if (index) return index;
  index = new Map();
  for (const s of registry.services) index.set(keyOf(s), identitiesOf(registry, s));
  memo.set(registry, index);
  return index;
}

function identitiesOf(registry: RegistrySnapshot, s: Service): ServiceIdentities {
  const accounts = new Set<string>();
  for (const p of s.ports) {
    for (const e of registry.endpoints(s.hostname, p.port, s.namespace)) if (e.serviceAccount) accounts.add(`${e.namespace}/${e.serviceAccount}`);
  }
  return { accounts: [...accounts].sort(), subjectAltNames: [...(s.subjectAltNames ?? [])] };
}

/** One service's identities, from the snapshot's index when it has one (else without building it). */
function lookup(registry: RegistrySnapshot, s: Service): ServiceIdentities | undefined {
  const index = memo.get(registry);
  if (index) return index.get(keyOf(s));
  const same = registry.servicesByHost(s.hostname).find((x) => x.namespace === s.namespace);
  return same ? identitiesOf(registry, same) : undefined;
}

/**
 * Services present in both snapshots whose identities differ: their clusters' SAN lists change,
 * so an endpoint change that brings a new service account needs a full push (istiod's
 * "service accounts changed"), not EDS alone. With `onlyHosts` (the services whose endpoints
 * moved, the others being the same objects in both), only those are compared: no index of every
 * service is built on an endpoint-only push.
 */
export function servicesWithChangedIdentities(before: RegistrySnapshot, after: RegistrySnapshot, onlyHosts?: ReadonlySet<string>): Service[] {
  if (before === after) return [];
  const candidates = onlyHosts ? [...onlyHosts].flatMap((h) => after.servicesByHost(h)) : after.services;
  const old = onlyHosts ? undefined : indexOf(before);
  const out: Service[] = [];
  for (const s of candidates) {
    const was = old ? old.get(keyOf(s)) : lookup(before, s);
    if (!was) continue;
    const now = onlyHosts ? (lookup(after, s) ?? NONE) : serviceIdentities(after, s);
    if (was.accounts.join() !== now.accounts.join() || was.subjectAltNames.join() !== now.subjectAltNames.join()) out.push(s);
  }
  return out;
}
