import type { Analyzer } from '../analyzer.ts';
import { num, obj, objs, str, type Obj } from '../untyped-fields.ts';

const ROUTE_LEVEL = new Set(['ROUTE_CONFIGURATION', 'HTTP_ROUTE']);
const REPLACEABLE = new Set(['HTTP_FILTER', 'NETWORK_FILTER', 'VIRTUAL_HOST']);
const RELATIVE = new Set(['INSERT_BEFORE', 'INSERT_AFTER', 'REPLACE', 'REMOVE']);

/**
 * Istio's envoyfilter.EnvoyPatchAnalyzer: patch operations that Istio ignores for their
 * applyTo, and relative operations without a priority (whose order across EnvoyFilters is
 * undefined, worse across proxy versions).
 */
export const envoyFilterPatchAnalyzer: Analyzer = {
  name: 'envoyfilter.EnvoyPatchAnalyzer',
  description: 'Checks an envoyFilters',
  messages: [
    'EnvoyFilterUsesRelativeOperation',
    'EnvoyFilterUsesRelativeOperationWithProxyVersion',
    'EnvoyFilterUsesReplaceOperationIncorrectly',
    'EnvoyFilterUsesAddOperationIncorrectly',
    'EnvoyFilterUsesRemoveOperationIncorrectly',
  ],
  analyze(ctx) {
    for (const ef of ctx.list('EnvoyFilter')) {
      const spec = ef.spec as Obj;
      const prioritized = (num(spec.priority) ?? 0) !== 0;
      for (const cp of objs(spec.configPatches)) {
        const applyTo = str(cp.applyTo);
        const op = str(obj(cp.patch).operation);
        if (op === '') continue;
        if (op === 'ADD' && ROUTE_LEVEL.has(applyTo)) {
          ctx.report(ef, 'EnvoyFilterUsesAddOperationIncorrectly');
          continue;
        }
        if (op === 'REMOVE' && ROUTE_LEVEL.has(applyTo)) {
          ctx.report(ef, 'EnvoyFilterUsesRemoveOperationIncorrectly');
          continue;
        }
        if (op === 'REPLACE' && !REPLACEABLE.has(applyTo)) {
          ctx.report(ef, 'EnvoyFilterUsesReplaceOperationIncorrectly');
          continue;
        }
        if (!RELATIVE.has(op) || prioritized) continue;
        const proxyVersion = str(obj(obj(cp.match).proxy).proxyVersion);
        ctx.report(ef, proxyVersion !== '' ? 'EnvoyFilterUsesRelativeOperationWithProxyVersion' : 'EnvoyFilterUsesRelativeOperation');
      }
    }
  },
};
