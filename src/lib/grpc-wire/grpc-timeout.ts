/**
 * The grpc-timeout header (gRPC over HTTP/2 spec): at most 8 digits and a unit
 * (H, M, S, m, u, n).
 */
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Milliseconds, or undefined when the value is not a valid grpc-timeout. */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The shortest exact-or-rounded-up encoding of `ms` that fits the 8-digit limit. */
export function formatGrpcTimeout(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1e8) return `${v}m`;
  const s = Math.ceil(v / 1000);
  if (s < 1e8) return `${s}S`;
  const min = Math.ceil(s / 60);
  if (min < 1e8) return `${min}M`;
  return `${Math.min(99_999_999, Math.ceil(min / 60))}H`;
}
