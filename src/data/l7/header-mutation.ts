import { asArray, asObj, asString, isObj, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { HeaderList } from '../http1/header-list.ts';

type Action = 'append' | 'addIfAbsent' | 'overwrite' | 'overwriteIfExists';

interface AddOp {
  name: string;
  value: string;
  action: Action;
}

/** Compiled request/response header additions and removals (HeaderValueOption lists). */
export class HeaderMutation {
  readonly adds: readonly AddOp[];
  readonly removes: readonly string[];

  constructor(adds: AddOp[], removes: string[]) {
    this.adds = adds;
    this.removes = removes;
  }

  get empty(): boolean {
    return this.adds.length === 0 && this.removes.length === 0;
  }

  apply(h: HeaderList): void {
    for (const r of this.removes) h.remove(r);
    for (const op of this.adds) {
      switch (op.action) {
        case 'append': h.add(op.name, op.value); break;
        case 'addIfAbsent': if (!h.has(op.name)) h.add(op.name, op.value); break;
        case 'overwrite': h.set(op.name, op.value); break;
        case 'overwriteIfExists': if (h.has(op.name)) h.set(op.name, op.value); break;
      }
    }
  }

  static readonly NONE = new HeaderMutation([], []);

  /** Compile `*_headers_to_add` + `*_headers_to_remove` of one Envoy object. */
  static compile(toAdd: unknown, toRemove: unknown, path: string): HeaderMutation {
    const adds: AddOp[] = [];
    asArray(toAdd).forEach((hv: Obj, i) => {
      const p = `${path}[${i}]`;
      onlyFields(hv, p, ['header', 'append', 'appendAction', 'keepEmptyValue']);
      const header = asObj(hv.header);
      const name = asString(header.key).toLowerCase();
      if (!name) reject(`${p}.header.key`, 'header name is empty');
      const value = typeof header.value === 'string' ? header.value : asString(header.rawValue);
      if (/%[A-Z_]+(\([^)]*\))?%/.test(value)) reject(`${p}.header.value`, `header formatter commands are not supported (${value})`);
      let action: Action = 'append';
      if (isObj(hv.append)) action = hv.append.value === true ? 'append' : 'overwrite';
      if (typeof hv.appendAction === 'string') {
        action = hv.appendAction === 'ADD_IF_ABSENT' ? 'addIfAbsent'
          : hv.appendAction === 'OVERWRITE_IF_EXISTS_OR_ADD' ? 'overwrite'
          : hv.appendAction === 'OVERWRITE_IF_EXISTS' ? 'overwriteIfExists' : 'append';
      }
      if (value === '' && hv.keepEmptyValue !== true) return;
      adds.push({ name, value, action });
    });
    const removes = (Array.isArray(toRemove) ? (toRemove as unknown[]) : []).map((r) => String(r).toLowerCase());
    if (adds.length === 0 && removes.length === 0) return HeaderMutation.NONE;
    return new HeaderMutation(adds, removes);
  }
}
