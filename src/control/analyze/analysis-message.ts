import type { MessageLevel, MessageType } from './message-catalog.ts';

/** One finding of an analyzer, as `istioctl analyze` prints it. */
export interface AnalysisMessage {
  code: string;
  name: string;
  level: MessageLevel;
  /** `Kind namespace/name`, or `Kind name` when the resource has no namespace. */
  resource: string;
  message: string;
  /** Name of the analyzer that reported it (Istio's name, e.g. `virtualservice.GatewayAnalyzer`). */
  analyzer: string;
  /** Where the resource came from, when known. */
  file?: string;
  line?: number;
}

function goValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * Render a Go fmt template with the subset of verbs Istio's messages use: %s, %v, %d (value),
 * %q (double-quoted string) and %% (a literal percent). Missing arguments render as Go does.
 */
export function formatTemplate(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%([svdq%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const arg = args[i++];
    if (verb === 'q') return Array.isArray(arg) ? `[${arg.map((a) => JSON.stringify(goValue(a))).join(' ')}]` : JSON.stringify(goValue(arg));
    return goValue(arg);
  });
}

/** Build a message of a catalog type for a resource. */
export function newMessage(type: MessageType, resource: string, args: readonly unknown[], analyzer: string): AnalysisMessage {
  return { code: type.code, name: type.name, level: type.level, resource, message: formatTemplate(type.template, args), analyzer };
}
