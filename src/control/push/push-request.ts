import type { ConfigChange } from '../config/config-store-reader.ts';

/**
 * What changed, for one push (Istio's PushRequest): the config changes, whether it needs a full
 * push (false: endpoints only, EDS alone is pushed), why, and when the first change happened.
 * Requests are merged while debouncing and in the push queue.
 */
export interface PushRequest {
  /** false: endpoint-only change; only endpoint types are pushed. */
  full: boolean;
  /** Push every type to every proxy regardless of scope (mesh config change, debug trigger). */
  forceAll: boolean;
  changes: readonly ConfigChange[];
  /** Reason → count (`config`, `endpoint`, `mesh`, `debug`...), for pilot_push_triggers. */
  reasons: Readonly<Record<string, number>>;
  /** Clock time of the earliest change merged in. */
  startedAt: number;
}

export type ChangeClass = 'endpoints' | 'config' | 'none';

/** Above this many merged changes scoping is not worth it: everyone gets a full push. */
export const MAX_SCOPED_CHANGES = 500;

const ENDPOINT_KINDS = new Set(['Endpoints', 'EndpointSlice', 'Pod', 'WorkloadEntry']);

/** Default classification: endpoint-bearing kinds are endpoint-only, the rest is config. */
export function defaultClassify(change: ConfigChange): ChangeClass {
  return ENDPOINT_KINDS.has(change.kind) ? 'endpoints' : 'config';
}

/** Build a request from a batch of store changes; undefined when none matters. */
export function requestFromChanges(changes: readonly ConfigChange[], startedAt: number, classify: (c: ConfigChange) => ChangeClass = defaultClassify): PushRequest | undefined {
  let full = false;
  let endpoints = 0;
  let config = 0;
  const kept: ConfigChange[] = [];
  for (const c of changes) {
    const cls = classify(c);
    if (cls === 'none') continue;
    kept.push(c);
    if (cls === 'config') {
      full = true;
      config++;
    } else endpoints++;
  }
  if (kept.length === 0) return undefined;
  const reasons: Record<string, number> = {};
  if (config > 0) reasons.config = config;
  if (endpoints > 0) reasons.endpoint = endpoints;
  return { full, forceAll: false, changes: kept, reasons, startedAt };
}

/** A push of everything to everyone (startup, mesh config change, debug). */
export function fullPushRequest(reason: string, startedAt: number): PushRequest {
  return { full: true, forceAll: true, changes: [], reasons: { [reason]: 1 }, startedAt };
}

export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const reasons: Record<string, number> = { ...a.reasons };
  for (const [k, v] of Object.entries(b.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  const changes = a.changes.length + b.changes.length > MAX_SCOPED_CHANGES ? [] : [...a.changes, ...b.changes];
  return {
    full: a.full || b.full,
    forceAll: a.forceAll || b.forceAll || (changes.length === 0 && a.changes.length + b.changes.length > 0),
    changes,
    reasons,
    startedAt: Math.min(a.startedAt, b.startedAt),
  };
}
