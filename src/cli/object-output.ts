import { stringify } from 'yaml';
import type { KindInfo } from '../api/kinds.ts';
import { MizzenError } from '../lib/errors.ts';
import type { KubeObject } from './cluster-access.ts';
import { compileJsonPath, jsonPathValues } from './jsonpath.ts';
import { columnsFor, type Column } from './kube-printers.ts';
import { formatTable } from './text-table.ts';

/** How `get` prints (kubectl's -o, --show-labels, -L, --no-headers). */
export interface PrintOptions {
  output: string | undefined;
  /** Show the NAMESPACE column (-A). */
  withNamespace: boolean;
  showLabels?: boolean;
  labelColumns?: string[];
  noHeaders?: boolean;
  now?: number;
}

/** Keys sorted at every level, as kubectl prints unstructured objects. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

/** `-o json|yaml` of one object, or of a `kind: List` when a list was asked for. */
export function serialize(objects: readonly KubeObject[], asList: boolean, format: 'json' | 'yaml'): string {
  const value = asList || objects.length !== 1 ? { apiVersion: 'v1', items: objects, kind: 'List', metadata: { resourceVersion: '' } } : objects[0];
  if (format === 'json') return `${JSON.stringify(sorted(value), null, 4)}\n`;
  return stringify(sorted(value), { lineWidth: 0 });
}

/** kubectl's `-o name`: `pod/x`, `deployment.apps/x`, `virtualservice.networking.istio.io/x`. */
export function resourceName(kind: KindInfo, o: KubeObject): string {
  return `${kind.kind.toLowerCase()}${kind.group ? `.${kind.group}` : ''}/${o.metadata?.name}`;
}

function customColumns(spec: string): Column[] {
  return spec.split(',').map((part) => {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new MizzenError('USAGE', `custom-columns format expects HEADER:PATH, got ${JSON.stringify(part)}`);
    const path = part.slice(colon + 1);
    return {
      header: part.slice(0, colon),
      cell: (o: KubeObject) => {
        const v = jsonPathValues(path, o);
        return v.length === 0 ? '<none>' : v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(',');
      },
    };
  });
}

/** Render objects of one kind as kubectl would for `-o` (table when undefined or wide). */
export function renderObjects(kind: KindInfo, objects: readonly KubeObject[], asList: boolean, o: PrintOptions): string {
  const out = o.output;
  if (out === 'json' || out === 'yaml') return serialize(objects, asList, out);
  if (out === 'name') return objects.map((x) => `${resourceName(kind, x)}\n`).join('');
  if (out?.startsWith('jsonpath=') || out?.startsWith('jsonpath-as-json=')) {
    const template = out.slice(out.indexOf('=') + 1);
    const data = asList || objects.length !== 1 ? { apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } } : objects[0];
    return compileJsonPath(template)(data);
  }
  const now = o.now ?? Date.now();
  let columns: Column[];
  if (out?.startsWith('custom-columns=')) columns = customColumns(out.slice('custom-columns='.length));
  else if (out === undefined || out === 'wide') columns = columnsFor(kind).filter((c) => out === 'wide' || !c.wide);
  else throw new MizzenError('USAGE', `unable to match a printer suitable for the output format "${out}", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml`);
  if (o.withNamespace) columns = [{ header: 'NAMESPACE', cell: (x) => String(x.metadata?.namespace ?? '') }, ...columns];
  for (const key of o.labelColumns ?? []) columns.push({ header: key.split('/').pop()!.toUpperCase(), cell: (x) => String(x.metadata?.labels?.[key] ?? '') });
  if (o.showLabels) {
    columns.push({ header: 'LABELS', cell: (x) => { const l = Object.entries(x.metadata?.labels ?? {}); return l.length > 0 ? l.map(([k, v]) => `${k}=${v}`).join(',') : '<none>'; } });
  }
  const rows = objects.map((x) => columns.map((c) => c.cell(x, now)));
  const table = formatTable(columns.map((c) => c.header), rows);
  return o.noHeaders ? table.split('\n').slice(1).join('\n') : table;
}
