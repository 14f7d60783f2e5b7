/**
 * Prometheus text exposition format 0.0.4 for the proxy's own metrics (15090, and the proxy part
 * of 15020), written directly from plain numbers: HELP/TYPE lines, counters, gauges and
 * histograms (cumulative `_bucket{le}` series with `+Inf`, `_sum`, `_count`), label values
 * escaped. The proxy does not load prom-client for this (measured ~11 MB of RSS per process with
 * the modules it pulls in); discovery keeps prom-client. Same layout as prom-client's registry
 * (metric families separated by a blank line), so scrapers and tests see no difference.
 */

/** Label names to values (numbers rendered as JavaScript prints them). */
export type PromLabels = Readonly<Record<string, string | number>>;

/** Metrics content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text escaping: backslash and line feed. */
export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label value escaping: backslash, double quote and line feed. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `a="x",b="y"` (no braces); empty for no labels. */
export function formatLabels(labels: PromLabels): string {
  let out = '';
  for (const name in labels) {
    const v = labels[name];
    out += `${out ? ',' : ''}${name}="${typeof v === 'string' ? escapeLabelValue(v) : String(v)}"`;
  }
  return out;
}

/** A sample value: `+Inf`, `-Inf`, `NaN` or the number. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One histogram's state: per-bucket (not cumulative) counts, one more than the bounds (the +Inf bucket). */
export interface HistogramSample {
  /** Pre-formatted labels (`formatLabels`), without braces. */
  labels: string;
  counts: readonly number[];
  sum: number;
  count: number;
}

/** A counter or gauge sample with pre-formatted labels. */
export interface ValueSample {
  labels: string;
  value: number;
}

/**
 * Builds one exposition: call counter/gauge/histogram per metric family, then `text()`.
 * Samples carry their label text pre-formatted so a proxy can cache it per series.
 */
export class PrometheusText {
  private readonly families: string[] = [];

  private family(name: string, help: string, type: string): string[] {
    return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
  }

  counter(name: string, help: string, samples: Iterable<ValueSample>): this {
    return this.values(name, help, 'counter', samples);
  }

  gauge(name: string, help: string, samples: Iterable<ValueSample>): this {
    return this.values(name, help, 'gauge', samples);
  }

  private values(name: string, help: string, type: string, samples: Iterable<ValueSample>): this {
    const lines = this.family(name, help, type);
    for (const s of samples) lines.push(`${name}${s.labels ? `{${s.labels}}` : ''} ${formatValue(s.value)}`);
    this.families.push(lines.join('\n'));
    return this;
  }

  /** Bucket upper bounds ascending; each sample's `counts` has `bounds.length + 1` entries. */
  histogram(name: string, help: string, bounds: readonly number[], samples: Iterable<HistogramSample>): this {
    const lines = this.family(name, help, 'histogram');
    const les = bounds.map((b) => `le="${formatValue(b)}"`);
    for (const s of samples) {
      const pre = s.labels ? `${s.labels},` : '';
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        acc += s.counts[i];
        lines.push(`${name}_bucket{${pre}${les[i]}} ${acc}`);
      }
      lines.push(`${name}_bucket{${pre}le="+Inf"} ${s.count}`);
      const braces = s.labels ? `{${s.labels}}` : '';
      lines.push(`${name}_sum${braces} ${formatValue(s.sum)}`);
      lines.push(`${name}_count${braces} ${s.count}`);
    }
    this.families.push(lines.join('\n'));
    return this;
  }

  /** The exposition: families separated by a blank line, ending with a line feed. */
  text(): string {
    return `${this.families.join('\n\n')}\n`;
  }
}
