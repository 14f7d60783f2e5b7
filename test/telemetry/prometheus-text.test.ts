import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeLabelValue, formatLabels, formatValue, PrometheusText } from '../../src/data/telemetry/prometheus-text.ts';

describe('PrometheusText', () => {
  it('writes counters and gauges with HELP/TYPE, families separated by a blank line', () => {
    const text = new PrometheusText()
      .counter('requests_total', 'Total requests.', [{ labels: formatLabels({ code: '200', reporter: 'source' }), value: 3 }, { labels: '', value: 1 }])
      .gauge('up', 'Is it up.', [{ labels: '', value: 1 }])
      .text();
    assert.equal(
      text,
      '# HELP requests_total Total requests.\n# TYPE requests_total counter\nrequests_total{code="200",reporter="source"} 3\nrequests_total 1\n\n' +
        '# HELP up Is it up.\n# TYPE up gauge\nup 1\n',
    );
  });

  it('writes histograms as cumulative buckets with +Inf, _sum and _count', () => {
    const text = new PrometheusText()
      .histogram('d_ms', 'Duration.', [0.5, 1, 5], [{ labels: formatLabels({ a: 'x' }), counts: [1, 0, 2, 1], sum: 12.5, count: 4 }])
      .text();
    assert.equal(
      text,
      '# HELP d_ms Duration.\n# TYPE d_ms histogram\n' +
        'd_ms_bucket{a="x",le="0.5"} 1\nd_ms_bucket{a="x",le="1"} 1\nd_ms_bucket{a="x",le="5"} 3\nd_ms_bucket{a="x",le="+Inf"} 4\n' +
        'd_ms_sum{a="x"} 12.5\nd_ms_count{a="x"} 4\n',
    );
  });

  it('writes a histogram without labels', () => {
    const text = new PrometheusText().histogram('h', 'H.', [1], [{ labels: '', counts: [0, 1], sum: 2, count: 1 }]).text();
    assert.match(text, /^h_bucket\{le="1"\} 0$/m);
    assert.match(text, /^h_bucket\{le="\+Inf"\} 1$/m);
    assert.match(text, /^h_sum 2$/m);
    assert.match(text, /^h_count 1$/m);
  });

  it('escapes label values (backslash, quote, line feed) and HELP text (backslash, line feed)', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(formatLabels({ path: '/x"y', n: 5 }), 'path="/x\\"y",n="5"');
    const text = new PrometheusText().counter('c', 'line one\nback\\slash "quoted"', []).text();
    assert.equal(text, '# HELP c line one\\nback\\\\slash "quoted"\n# TYPE c counter\n');
  });

  it('formats special values as the text format spells them', () => {
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(0.25), '0.25');
  });
});
