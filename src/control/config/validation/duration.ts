/**
 * Durations as Istio's YAML spells them: Go's `time.ParseDuration` syntax ("10s", "1.5s",
 * "100ms", "1h30m", "250us"), which includes protobuf's JSON form ("3.000000001s").
 */
const UNIT_NANOS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds, or undefined when the text is not a duration. Negative durations are allowed ("-1s"). */
export function parseDurationNanos(text: string): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  let s = text;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NANOS[m[2]];
    s = s.slice(m[0].length);
  }
  return sign * total;
}

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
