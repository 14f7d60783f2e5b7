import { asArray, asNumber, asObj, asString, durationMs, wrapped, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';

/** A compiled envoy.config.route.v3.RetryPolicy. */
export interface RetryPolicy {
  numRetries: number;
  perTryTimeoutMs: number | undefined;
  baseIntervalMs: number;
  maxIntervalMs: number;
  on5xx: boolean;
  onGatewayError: boolean;
  onConnectFailure: boolean;
  onReset: boolean;
  onRefusedStream: boolean;
  onRetriable4xx: boolean;
  onRetriableStatus: boolean;
  retriableStatusCodes: ReadonlySet<number>;
  grpcStatuses: ReadonlySet<string>;
  /** retry_host_predicate previous_hosts: prefer another host on retry. */
  otherHost: boolean;
}

const KNOWN_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'reset-before-request', 'envoy-ratelimited', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const GRPC_CODES: Record<string, string> = { cancelled: '1', 'deadline-exceeded': '4', internal: '13', 'resource-exhausted': '8', unavailable: '14' };

export function compileRetryPolicy(p: unknown, path: string): RetryPolicy {
  const o = asObj(p) as Obj;
  onlyFields(o, path, [
    'retryOn', 'numRetries', 'perTryTimeout', 'retryBackOff', 'retriableStatusCodes', 'retryHostPredicate',
    'hostSelectionRetryMaxAttempts', 'retryPriority', 'perTryIdleTimeout', 'retriableHeaders', 'retriableRequestHeaders',
  ]);
  const on = asString(o.retryOn).split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of on) if (!KNOWN_ON.has(c)) reject(`${path}.retryOn`, `unknown retry condition "${c}"`);
  const backoff = asObj(o.retryBackOff);
  const base = durationMs(backoff.baseInterval) ?? 25;
  const grpcStatuses = new Set<string>();
  for (const c of on) if (GRPC_CODES[c]) grpcStatuses.add(GRPC_CODES[c]);
  return {
    numRetries: wrapped(o.numRetries) ?? 1,
    perTryTimeoutMs: durationMs(o.perTryTimeout) || undefined,
    baseIntervalMs: base,
    maxIntervalMs: durationMs(backoff.maxInterval) ?? base * 10,
    on5xx: on.includes('5xx'),
    onGatewayError: on.includes('gateway-error'),
    onConnectFailure: on.includes('connect-failure') || on.includes('5xx') || on.includes('gateway-error') || on.includes('reset-before-request'),
    onReset: on.includes('reset') || on.includes('5xx') || on.includes('gateway-error'),
    onRefusedStream: on.includes('refused-stream') || on.includes('5xx'),
    onRetriable4xx: on.includes('retriable-4xx'),
    onRetriableStatus: on.includes('retriable-status-codes'),
    retriableStatusCodes: new Set(asArray(o.retriableStatusCodes).map((c) => asNumber(c))),
    grpcStatuses,
    otherHost: asArray(o.retryHostPredicate).some((h) => asString(h.name).includes('previous_hosts')),
  };
}

/** Should a response with this status (and grpc-status, if any) be retried? */
export function retriableStatus(p: RetryPolicy, status: number, grpcStatus: string | undefined): boolean {
  if (p.on5xx && status >= 500) return true;
  if (p.onGatewayError && (status === 502 || status === 503 || status === 504)) return true;
  if (p.onRetriable4xx && status === 409) return true;
  if (p.onRetriableStatus && p.retriableStatusCodes.has(status)) return true;
  if (grpcStatus !== undefined && p.grpcStatuses.has(grpcStatus)) return true;
  return false;
}

/** Envoy's fully jittered exponential backoff for attempt n (1-based). */
export function retryBackoffMs(p: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(p.maxIntervalMs, p.baseIntervalMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}
