import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, after } from 'node:test';
import { splitApiVersion, type ConfigResource, type ObjectMeta } from '../../src/api/config-resource.ts';
import { ResourceValidator } from '../../src/control/config/validation/validate-resource.ts';
import { ISTIO_DATA, istioDataMissing } from './istio-data.ts';

interface Case {
  id: string;
  kind: string;
  apiVersion: string;
  metadata: ObjectMeta;
  spec: Record<string, unknown>;
  valid: boolean;
  warning?: boolean | null;
  errorContains?: string;
  warningContains?: string;
  reason: string;
}

const skip = istioDataMissing('validation-cases.json');

function toResource(c: Case): ConfigResource {
  const { group, version } = splitApiVersion(c.apiVersion);
  const raw = { apiVersion: c.apiVersion, kind: c.kind, metadata: c.metadata, spec: c.spec };
  return { apiVersion: c.apiVersion, kind: c.kind, group, version, metadata: c.metadata, spec: c.spec ?? {}, raw };
}

describe("Istio's validation cases (validation-cases.json)", { skip }, () => {
  const cases: Case[] = skip ? [] : (JSON.parse(readFileSync(`${ISTIO_DATA}validation-cases.json`, 'utf8')) as { cases: Case[] }).cases;
  const validator = new ResourceValidator();
  let agree = 0;
  after(() => {
    if (cases.length > 0) process.stdout.write(`# validation-cases.json agreement: ${agree}/${cases.length} (${((100 * agree) / cases.length).toFixed(1)}%)\n`);
  });
  for (const c of cases) {
    it(`${c.id}: ${c.valid ? 'valid' : 'invalid'}${c.reason ? ` (${c.reason})` : ''}`, () => {
      const res = validator.validate(toResource(c));
      assert.equal(res.errors.length === 0, c.valid, `errors: ${JSON.stringify(res.errors)}`);
      agree++;
      if (c.warning === true) assert.ok(res.warnings.length > 0, 'expected a warning');
      if (c.warning === false) assert.deepEqual(res.warnings, [], 'expected no warning');
      if (c.warningContains) assert.ok(res.warnings.some((w) => w.message.includes(c.warningContains as string)), JSON.stringify(res.warnings));
      if (c.errorContains) assert.ok(res.errors.some((e) => e.message.includes(c.errorContains as string)), `no error contains "${c.errorContains}": ${JSON.stringify(res.errors)}`);
    });
  }
});
