import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ISTIO_DATA, istioDataMissing } from './istio-data.ts';
import { runCli } from './run-cli.ts';

const SAMPLES = ['bookinfo', 'httpbin', 'sleep', 'curl', 'helloworld', 'external', 'tcp-echo'];
const skip = istioDataMissing('istio/samples');

describe("mizzen validate on Istio's samples", { skip }, () => {
  for (const sample of SAMPLES) {
    it(`validates every file of samples/${sample} (exit 0)`, async () => {
      const run = await runCli(['validate', `${ISTIO_DATA}istio/samples/${sample}`]);
      assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
      assert.equal(run.stdout, '', 'no error lines');
    });
  }

  it('reports every sample resource as valid in JSON', async () => {
    const run = await runCli(['validate', '-o', 'json', ...SAMPLES.map((s) => `${ISTIO_DATA}istio/samples/${s}`)]);
    assert.equal(run.code, 0, run.stderr);
    const reports = JSON.parse(run.stdout) as { valid: boolean; kind: string | null }[];
    assert.ok(reports.length > 100, `expected the samples' resources, got ${reports.length}`);
    assert.ok(reports.every((r) => r.valid));
  });
});
