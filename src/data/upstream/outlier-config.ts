import { asObj, durationMs, wrapped } from '../xds-client/proto-values.ts';
import { onlyFields } from '../xds-client/resource-rejection.ts';

/**
 * A compiled envoy.config.cluster.v3.OutlierDetection with Envoy's defaults filled in. The
 * `enforcing*` values are percentages (the chance that a detected outlier is really ejected).
 */
export interface OutlierConfig {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  enforcing5xx: number;
  enforcingGateway: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  maxEjectionTimeMs: number;
  maxEjectionTimeJitterMs: number;
  alwaysEjectOneHost: boolean;
  /** split_external_local_origin_errors: connect failures, resets and timeouts counted apart. */
  splitLocalOrigin: boolean;
  consecutiveLocalOriginFailure: number;
  enforcingLocalOrigin: number;
  /** Success rate: hosts below mean − stdevFactor/1000 × stdev are outliers. */
  enforcingSuccessRate: number;
  enforcingLocalOriginSuccessRate: number;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  successRateStdevFactor: number;
  /** Failure percentage: hosts whose failure share reaches the threshold are outliers. */
  failurePercentageThreshold: number;
  enforcingFailurePercentage: number;
  enforcingFailurePercentageLocalOrigin: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
}

const FIELDS = [
  'consecutive_5xx', 'interval', 'baseEjectionTime', 'maxEjectionPercent', 'enforcingConsecutive_5xx', 'enforcingSuccessRate',
  'successRateMinimumHosts', 'successRateRequestVolume', 'successRateStdevFactor', 'consecutiveGatewayFailure',
  'enforcingConsecutiveGatewayFailure', 'splitExternalLocalOriginErrors', 'consecutiveLocalOriginFailure',
  'enforcingConsecutiveLocalOriginFailure', 'enforcingLocalOriginSuccessRate', 'maxEjectionTime', 'maxEjectionTimeJitter',
  'failurePercentageThreshold', 'enforcingFailurePercentage', 'enforcingFailurePercentageLocalOrigin',
  'failurePercentageMinimumHosts', 'failurePercentageRequestVolume',
  // Only acts with active health checking, which the proxy does not do (as Envoy without health_checks)
  'successfulActiveHealthCheckUnejectHost',
  'alwaysEjectOneHost',
];

/** Cluster.outlier_detection → OutlierConfig (undefined when the cluster has none). */
export function compileOutlier(od: unknown, path: string): OutlierConfig | undefined {
  if (od === undefined) return undefined;
  const o = asObj(od);
  onlyFields(o, path, FIELDS);
  return {
    consecutive5xx: wrapped(o.consecutive_5xx) ?? 5,
    consecutiveGatewayFailure: wrapped(o.consecutiveGatewayFailure) ?? 5,
    enforcing5xx: wrapped(o.enforcingConsecutive_5xx) ?? 100,
    enforcingGateway: wrapped(o.enforcingConsecutiveGatewayFailure) ?? 0,
    intervalMs: durationMs(o.interval) ?? 10_000,
    baseEjectionTimeMs: durationMs(o.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: Math.min(100, wrapped(o.maxEjectionPercent) ?? 10),
    maxEjectionTimeMs: durationMs(o.maxEjectionTime) ?? 300_000,
    maxEjectionTimeJitterMs: durationMs(o.maxEjectionTimeJitter) ?? 0,
    alwaysEjectOneHost: o.alwaysEjectOneHost === true || asObj(o.alwaysEjectOneHost).value === true,
    splitLocalOrigin: o.splitExternalLocalOriginErrors === true,
    consecutiveLocalOriginFailure: wrapped(o.consecutiveLocalOriginFailure) ?? 5,
    enforcingLocalOrigin: wrapped(o.enforcingConsecutiveLocalOriginFailure) ?? 100,
    enforcingSuccessRate: wrapped(o.enforcingSuccessRate) ?? 100,
    enforcingLocalOriginSuccessRate: wrapped(o.enforcingLocalOriginSuccessRate) ?? 100,
    successRateMinimumHosts: wrapped(o.successRateMinimumHosts) ?? 5,
    successRateRequestVolume: wrapped(o.successRateRequestVolume) ?? 100,
    successRateStdevFactor: wrapped(o.successRateStdevFactor) ?? 1900,
    failurePercentageThreshold: wrapped(o.failurePercentageThreshold) ?? 85,
    enforcingFailurePercentage: wrapped(o.enforcingFailurePercentage) ?? 0,
    enforcingFailurePercentageLocalOrigin: wrapped(o.enforcingFailurePercentageLocalOrigin) ?? 0,
    failurePercentageMinimumHosts: wrapped(o.failurePercentageMinimumHosts) ?? 5,
    failurePercentageRequestVolume: wrapped(o.failurePercentageRequestVolume) ?? 50,
  };
}
