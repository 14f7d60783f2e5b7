/**
 * Kubernetes resource quantities (`500m`, `2`, `128Mi`, `1G`, `1e3`) as numbers of base units
 * (cores, bytes), and the downward API's rounding of a quantity by a divisor.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

export function parseQuantity(text: string | number | undefined): number | undefined {
  if (typeof text === 'number') return text;
  if (text === undefined) return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  if (m[2]) return value * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return value * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

/** The downward API's value of a resource: ceil(quantity / divisor) (a zero or absent divisor is 1). */
export function divideQuantity(value: number, divisor: string | number | undefined): string {
  const d = parseQuantity(divisor);
  const by = d === undefined || d === 0 ? 1 : d;
  return String(Math.ceil(value / by - 1e-9));
}
