import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TYPE_URL } from '../../api/xds/type-urls.ts';

const SHORT: Record<string, string> = {
  [TYPE_URL.cluster]: 'cds',
  [TYPE_URL.endpoint]: 'eds',
  [TYPE_URL.listener]: 'lds',
  [TYPE_URL.route]: 'rds',
  [TYPE_URL.secret]: 'sds',
  [TYPE_URL.workloadAddress]: 'wds',
  [TYPE_URL.authorization]: 'wads',
};

/** Istio's short type label (`cds`, `eds`, `lds`, `rds`, `sds`, ...). */
export function shortType(typeUrl: string): string {
  return SHORT[typeUrl] ?? typeUrl.slice(typeUrl.lastIndexOf('.') + 1).toLowerCase();
}

/** The control plane's xDS metrics, with Istio's names, registered on a given Registry. */
export class XdsMetrics {
  readonly connected: Gauge<'version' | 'type'>;
  readonly pushes: Counter<'type'>;
  readonly pushTime: Histogram<'type'>;
  readonly convergence: Histogram;
  readonly rejects: Counter<'type'>;
  readonly pushContextErrors: Counter;
  readonly pushTriggers: Counter<'type'>;
  readonly internalErrors: Counter;
  readonly debounceTime: Histogram;
  readonly configSize: Histogram<'type'>;
  readonly lastWrite: Gauge<'type'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connected = new Gauge({ name: 'pilot_xds', help: 'Number of endpoints connected to this pilot using XDS.', labelNames: ['version', 'type'], registers });
    this.pushes = new Counter({ name: 'pilot_xds_pushes', help: 'Pilot build and send errors for lds, rds, cds and eds.', labelNames: ['type'], registers });
    this.pushTime = new Histogram({
      name: 'pilot_xds_push_time',
      help: 'Total time in seconds Pilot takes to push lds, rds, cds and eds.',
      labelNames: ['type'],
      buckets: [0.001, 0.01, 0.1, 1, 3, 5, 10, 20, 30],
      registers,
    });
    this.convergence = new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Delay in seconds between config change and a proxy receiving all required configuration.',
      buckets: [0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers,
    });
    this.rejects = new Counter({ name: 'pilot_total_xds_rejects', help: 'Total number of XDS responses from pilot rejected by proxy.', labelNames: ['type'], registers });
    this.pushContextErrors = new Counter({ name: 'pilot_xds_push_context_errors', help: 'Number of errors (timeouts) initiating push context.', registers });
    this.pushTriggers = new Counter({ name: 'pilot_push_triggers', help: 'Total number of times a push was triggered, labeled by reason for the push.', labelNames: ['type'], registers });
    this.internalErrors = new Counter({ name: 'pilot_total_xds_internal_errors', help: 'Total number of internal XDS errors in pilot.', registers });
    this.debounceTime = new Histogram({
      name: 'pilot_debounce_time',
      help: 'Delay in seconds between the first config enters debouncing and the merged push request is pushed into the push queue.',
      buckets: [0.01, 0.1, 1, 3, 5, 10, 20, 30],
      registers,
    });
    this.configSize = new Histogram({
      name: 'pilot_xds_config_size_bytes',
      help: 'Distribution of configuration sizes pushed to clients',
      labelNames: ['type'],
      buckets: [1, 10000, 1000000, 4000000, 10000000, 40000000],
      registers,
    });
    // Not an Istio metric: discovery's own share of convergence, apart from the client's reading.
    this.lastWrite = new Gauge({
      name: 'mizzen_xds_push_last_write_seconds',
      help: 'SotW: seconds from the change that started a push to the latest response of that type written out (handed to the socket), for the most recent push.',
      labelNames: ['type'],
      registers,
    });
  }
}
