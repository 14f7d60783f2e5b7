import type { Analyzer } from '../analyzer.ts';
import { arr, obj, objs, str, type Obj } from '../untyped-fields.ts';

/**
 * Istio's telemetry.ProviderAnalyzer: with no default access-log provider in the mesh config, an
 * accessLogging entry without providers (and not disabling logging) does nothing.
 */
export const telemetryProviderAnalyzer: Analyzer = {
  name: 'telemetry.ProviderAnalyzer',
  description: 'Validates that providers in telemetry resource is valid',
  messages: ['InvalidTelemetryProvider'],
  analyze(ctx) {
    if (arr(obj(ctx.meshConfig.defaultProviders).accessLogging).length > 0) return;
    for (const t of ctx.list('Telemetry')) {
      for (const l of objs((t.spec as Obj).accessLogging)) {
        if (arr(l.providers).length === 0 && l.disabled !== true) {
          ctx.report(t, 'InvalidTelemetryProvider', t.metadata.name, t.metadata.namespace ?? '');
          break;
        }
      }
    }
  },
};

/** Istio's telemetry.LightstepAnalyzer: the Lightstep tracing provider is deprecated. */
export const telemetryLightstepAnalyzer: Analyzer = {
  name: 'telemetry.LightstepAnalyzer',
  description: 'Validates that lightstep provider is still used',
  messages: ['Deprecated'],
  analyze(ctx) {
    const lightstep = new Set(objs(ctx.meshConfig.extensionProviders).filter((p) => p.lightstep !== undefined).map((p) => str(p.name)));
    if (lightstep.size === 0) return;
    for (const t of ctx.list('Telemetry')) {
      const uses = objs((t.spec as Obj).tracing).some((tr) => objs(tr.providers).some((p) => lightstep.has(str(p.name))));
      if (uses) ctx.report(t, 'Deprecated', 'The Lightstep provider has been deprecated in favor of OpenTelemetry; configure an opentelemetry provider instead.');
    }
  },
};
