import { KINDS, kindByName, type KindInfo } from '../api/kinds.ts';
import { MizzenError } from '../lib/errors.ts';

/** `vs`, `virtualservices`, `VirtualService`, `authorizationpolicy.security.istio.io`, `deployments.apps` → the kind. */
export function resolveKind(typed: string): KindInfo {
  const text = typed.trim();
  const dot = text.indexOf('.');
  const base = dot < 0 ? text : text.slice(0, dot);
  const group = dot < 0 ? undefined : text.slice(dot + 1);
  const candidates = KINDS.filter((k) => k === kindByName(base) || k.plural === base.toLowerCase() || k.kind.toLowerCase() === base.toLowerCase() || k.aliases.includes(base.toLowerCase()));
  const kind = candidates.find((k) => group === undefined || k.group === group || (group === 'v1' && k.group === ''));
  if (!kind) throw new MizzenError('USAGE', `the server doesn't have a resource type "${typed}"`);
  return kind;
}

/** One thing named on the command line: a kind and, optionally, names. */
export interface ResourceSelection {
  kind: KindInfo;
  names: string[];
}

/**
 * kubectl's resource arguments: `KIND [NAME...]`, `KIND1,KIND2`, `KIND/NAME [KIND/NAME...]`,
 * `all` (pods, services, deployments).
 */
export function parseResourceArgs(args: readonly string[]): ResourceSelection[] {
  if (args.length === 0) throw new MizzenError('USAGE', 'You must specify the type of resource to get. Use "mizzen api-resources" for a complete list of supported resources.');
  if (args.every((a) => a.includes('/'))) {
    const out: ResourceSelection[] = [];
    for (const a of args) {
      const [typed, name] = [a.slice(0, a.indexOf('/')), a.slice(a.indexOf('/') + 1)];
      const kind = resolveKind(typed);
      const existing = out.find((s) => s.kind === kind);
      if (existing) existing.names.push(name);
      else out.push({ kind, names: [name] });
    }
    return out;
  }
  if (args.slice(1).some((a) => a.includes('/'))) throw new MizzenError('USAGE', 'there is no need to specify a resource type as a separate argument when passing arguments in resource/name form');
  const kinds = args[0].split(',').flatMap((t) => (t === 'all' ? ['pods', 'services', 'deployments'] : [t])).map(resolveKind);
  return kinds.map((kind) => ({ kind, names: args.slice(1) }));
}

/** kubectl's plural resource name in messages: `virtualservices.networking.istio.io`, `pods`. */
export function qualifiedPlural(kind: KindInfo): string {
  return kind.group ? `${kind.plural}.${kind.group}` : kind.plural;
}
