/** Istio's StringMatch: exactly one of exact, prefix or regex (RE2 syntax). */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** Percent as in `percentage: {value: 12.5}` (0..100). */
export interface Percent {
  value?: number;
}

/** Port selector used by destinations: `port: {number: 9080}`. */
export interface PortSelector {
  number?: number;
}
