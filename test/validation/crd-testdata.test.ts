import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { ResourceValidator } from '../../src/control/config/validation/validate-resource.ts';
import { ISTIO_DATA, istioDataMissing } from './istio-data.ts';

const DIR = 'istio/pkg/config/validation/testdata/crds/';
const skip = istioDataMissing(DIR);

/**
 * Documents where Mizzen knowingly differs from Istio, with the reason. Keep this empty unless
 * the difference is outside validation itself.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

describe('Istio CRD validation test data (testdata/crds)', { skip }, () => {
  const validator = new ResourceValidator();
  const files = skip ? [] : readdirSync(ISTIO_DATA + DIR).filter((f) => f.endsWith('.yaml')).sort();
  for (const file of files) {
    const expectValid = file.endsWith('-valid.yaml');
    const { resources, problems } = parseDocuments(readFileSync(ISTIO_DATA + DIR + file, 'utf8'), file);
    it(`${file}: parses`, () => {
      assert.deepEqual(problems.filter((p) => p.code === 'syntax'), []);
    });
    resources.forEach((r, i) => {
      const id = `${file}/${r.metadata.name}`;
      const known = KNOWN_DIFFERENCES[id];
      it(`${file} #${i} ${r.kind} ${r.metadata.name}: ${expectValid ? 'accepted' : 'rejected'}`, { skip: known ? `known difference: ${known}` : false }, () => {
        const res = validator.validate(r);
        if (expectValid) assert.deepEqual(res.errors, [], `${id} should be valid`);
        else {
          assert.ok(res.errors.length > 0, `${id} should be rejected (Istio: ${String(r.raw._err ?? '')})`);
          assert.ok(!res.errors.some((e) => e.message.startsWith('internal validation error')), JSON.stringify(res.errors));
        }
      });
    });
    if (!expectValid) {
      // Documents Istio rejects before they become resources (e.g. `spec: null`) count as rejected too.
      for (const p of problems) it(`${file}:${p.line}: rejected while parsing`, () => assert.ok(p.message));
    }
  }
});
