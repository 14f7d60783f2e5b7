import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { Host } from './host.ts';
import type { OutlierConfig } from './outlier-config.ts';

/** Envoy's outlier ejection types (the `ejections_enforced_*` / `ejections_detected_*` stat names). */
export type EjectionType =
  | 'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure'
  | 'success_rate' | 'local_origin_success_rate' | 'failure_percentage' | 'failure_percentage_local_origin';

/** What the detector needs from its cluster. */
export interface OutlierHostSet {
  readonly hosts: readonly Host[];
  /** A host was ejected: the cluster recomputes its usable hosts. */
  ejected(): void;
}

/** Per-interval success and total counts of one host, external and local origin. */
export class HostOutlierCounters {
  externalTotal = 0;
  externalSuccess = 0;
  localTotal = 0;
  localSuccess = 0;
  consecutiveLocalOriginFailure = 0;
  /** Success rates (0..100) of the last interval, −1 when the host had no requests (admin /clusters). */
  externalSuccessRate = -1;
  localSuccessRate = -1;
}

/** The success-rate figures of the last sweep (admin /clusters `outlier::` lines). */
export interface SuccessRateFigures {
  average: number;
  ejectionThreshold: number;
}

/**
 * Envoy's outlier detector for one cluster: consecutive 5xx / gateway / local-origin failures
 * eject inline; every `interval` a sweep takes each host's success rate over the interval just
 * ended and ejects, among the hosts with enough requests, those below mean − stdev_factor × stdev
 * (success rate, when at least `success_rate_minimum_hosts` qualify) and those whose failure share
 * reaches `failure_percentage_threshold` (when at least `failure_percentage_minimum_hosts`
 * qualify). With `split_external_local_origin_errors`, connect failures, resets and timeouts feed
 * their own counters and local-origin success rate; without it they count as 503/504 responses.
 */
export class OutlierDetector {
  private config: OutlierConfig;
  private readonly clock: Clock;
  private readonly set: OutlierHostSet;
  private timer: TimerHandle | undefined;
  /** ejections_enforced_* / ejections_detected_* / ejections_overflow / ejections_enforced_total. */
  readonly counters = new Map<string, number>();
  external: SuccessRateFigures = { average: -1, ejectionThreshold: -1 };
  local: SuccessRateFigures = { average: -1, ejectionThreshold: -1 };

  constructor(config: OutlierConfig, clock: Clock, set: OutlierHostSet) {
    this.config = config;
    this.clock = clock;
    this.set = set;
    this.arm();
  }

  reconfigure(config: OutlierConfig): void {
    const rearm = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (rearm) {
      this.timer?.cancel();
      this.arm();
    }
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * One result from a host: an HTTP status (or the 503/504 standing for a local-origin failure:
   * connect failure, reset, timeout, with `localOrigin`).
   */
  putResult(host: Host, status: number, localOrigin: boolean): void {
    const od = this.config;
    const c = host.outlierCounters;
    if (od.splitLocalOrigin) {
      if (localOrigin) {
        c.localTotal++;
        if (++c.consecutiveLocalOriginFailure === od.consecutiveLocalOriginFailure) {
          c.consecutiveLocalOriginFailure = 0;
          this.detected(host, 'consecutive_local_origin_failure', od.enforcingLocalOrigin);
        }
        return;
      }
      // a response means the connection succeeded
      c.localTotal++;
      c.localSuccess++;
      c.consecutiveLocalOriginFailure = 0;
    }
    c.externalTotal++;
    if (status >= 500 && status <= 599) {
      if (status === 502 || status === 503 || status === 504) {
        if (++host.consecutiveGatewayFailure === od.consecutiveGatewayFailure) {
          host.consecutiveGatewayFailure = 0;
          this.detected(host, 'consecutive_gateway_failure', od.enforcingGateway);
        }
      } else host.consecutiveGatewayFailure = 0;
      if (++host.consecutive5xx === od.consecutive5xx) {
        host.consecutive5xx = 0;
        this.detected(host, 'consecutive_5xx', od.enforcing5xx);
      }
    } else {
      c.externalSuccess++;
      host.consecutive5xx = 0;
      host.consecutiveGatewayFailure = 0;
    }
  }

  /** A TCP connection to the host succeeded (tcp_proxy: Envoy's LocalOriginConnectSuccessFinal). */
  putConnectSuccess(host: Host): void {
    if (!this.config.splitLocalOrigin) return this.putResult(host, 200, false);
    const c = host.outlierCounters;
    c.localTotal++;
    c.localSuccess++;
    c.consecutiveLocalOriginFailure = 0;
  }

  /** The interval sweep (run by the timer; public for tests with a manual clock). */
  sweep(): void {
    const hosts = this.set.hosts;
    const ext: { host: Host; rate: number; volume: number }[] = [];
    const loc: { host: Host; rate: number; volume: number }[] = [];
    for (const h of hosts) {
      const c = h.outlierCounters;
      c.externalSuccessRate = c.externalTotal > 0 ? (100 * c.externalSuccess) / c.externalTotal : -1;
      c.localSuccessRate = c.localTotal > 0 ? (100 * c.localSuccess) / c.localTotal : -1;
      if (c.externalTotal > 0) ext.push({ host: h, rate: c.externalSuccessRate, volume: c.externalTotal });
      if (c.localTotal > 0) loc.push({ host: h, rate: c.localSuccessRate, volume: c.localTotal });
      c.externalTotal = c.externalSuccess = c.localTotal = c.localSuccess = 0;
    }
    const now = this.clock.now();
    const od = this.config;
    this.external = this.evaluate(ext, hosts.length, now, 'success_rate', od.enforcingSuccessRate, 'failure_percentage', od.enforcingFailurePercentage);
    this.local = od.splitLocalOrigin
      ? this.evaluate(loc, hosts.length, now, 'local_origin_success_rate', od.enforcingLocalOriginSuccessRate, 'failure_percentage_local_origin', od.enforcingFailurePercentageLocalOrigin)
      : { average: -1, ejectionThreshold: -1 };
  }

  private evaluate(
    samples: readonly { host: Host; rate: number; volume: number }[], hostCount: number, now: number,
    srType: EjectionType, srEnforcing: number, fpType: EjectionType, fpEnforcing: number,
  ): SuccessRateFigures {
    const od = this.config;
    const figures = { average: -1, ejectionThreshold: -1 };
    if (hostCount < od.successRateMinimumHosts && hostCount < od.failurePercentageMinimumHosts) return figures;
    // hosts already ejected are not measured
    const live = samples.filter((s) => s.host.ejectedUntil <= now);
    const sr = live.filter((s) => s.volume >= od.successRateRequestVolume);
    const fp = live.filter((s) => s.volume >= od.failurePercentageRequestVolume);
    if (sr.length > 0 && sr.length >= od.successRateMinimumHosts) {
      const mean = sr.reduce((a, s) => a + s.rate, 0) / sr.length;
      const variance = sr.reduce((a, s) => a + (s.rate - mean) ** 2, 0) / sr.length;
      const threshold = mean - (od.successRateStdevFactor / 1000) * Math.sqrt(variance);
      figures.average = mean;
      figures.ejectionThreshold = threshold;
      for (const s of sr) if (s.rate < threshold) this.detected(s.host, srType, srEnforcing);
    }
    if (fp.length > 0 && fp.length >= od.failurePercentageMinimumHosts) {
      for (const s of fp) if (100 - s.rate >= od.failurePercentageThreshold) this.detected(s.host, fpType, fpEnforcing);
    }
    return figures;
  }

  private detected(host: Host, type: EjectionType, enforcing: number): void {
    const now = this.clock.now();
    if (host.ejectedUntil > now) return;
    this.count(`ejections_detected_${type}`);
    const od = this.config;
    const hosts = this.set.hosts;
    const active = hosts.reduce((n, h) => n + (h.ejectedUntil > now ? 1 : 0), 0);
    // the first ejection is always allowed unless max_ejection_percent is 0 (always_eject_one_host: even then)
    const allowed = active === 0
      ? od.maxEjectionPercent > 0 || od.alwaysEjectOneHost
      : ((active + 1) / hosts.length) * 100 <= od.maxEjectionPercent;
    if (!allowed) {
      this.count('ejections_overflow');
      return;
    }
    if (!(Math.random() * 100 < enforcing)) return;
    host.ejections++;
    const jitter = od.maxEjectionTimeJitterMs > 0 ? Math.random() * od.maxEjectionTimeJitterMs : 0;
    const cap = Math.max(od.maxEjectionTimeMs, od.baseEjectionTimeMs);
    host.ejectedUntil = now + Math.min(cap, od.baseEjectionTimeMs * host.ejections) + jitter;
    host.consecutive5xx = 0;
    host.consecutiveGatewayFailure = 0;
    host.outlierCounters.consecutiveLocalOriginFailure = 0;
    this.count(`ejections_enforced_${type}`);
    this.count('ejections_enforced_total');
    this.set.ejected();
  }

  private count(name: string): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + 1);
  }

  private arm(): void {
    this.timer = this.clock.setTimer(() => {
      this.sweep();
      this.arm();
    }, this.config.intervalMs);
  }
}
