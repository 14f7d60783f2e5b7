/**
 * Durations as Istio's YAML spells them: Go's `time.ParseDuration` syntax ("10s", "1.5s",
 * "100ms", "1h30m", "250us"), which includes protobuf's JSON form ("3.000000001s").
 */
export { parseDurationNanos } from '../../../lib/duration.ts';
import { parseDurationNanos } from '../../../lib/duration.ts';

export const NANOS_PER_MS = 1e6;
export const NANOS_PER_SECOND = 1e9;

/** Istio's check of a proto Duration field: parseable, at least 1ms, millisecond precision. */
export function validateDuration(text: unknown): string | undefined {
  if (typeof text !== 'string') return `invalid duration ${JSON.stringify(text)}`;
  const nanos = parseDurationNanos(text);
  if (nanos === undefined) return `invalid duration "${text}"`;
  if (nanos < NANOS_PER_MS) return 'duration must be greater than 1ms';
  if (Math.round(nanos) % NANOS_PER_MS !== 0) return 'only durations to ms precision are supported';
  return undefined;
}
