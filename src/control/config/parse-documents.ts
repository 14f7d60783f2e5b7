import { isMap, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { restoreFlowColonScalars } from './flow-colon-scalars.ts';
import { splitApiVersion, type ConfigResource } from '../../api/config-resource.ts';

/** A problem with a document as text, before any kind-specific validation. */
export interface ParseProblem {
  file: string;
  line: number;
  message: string;
  /**
   * What kind of problem: `syntax` (malformed YAML/JSON), `io` (cannot read), `not-a-resource`
   * (a well-formed document that is not a Kubernetes object: no apiVersion/kind, e.g. an OpenAPI
   * file next to manifests), `invalid-resource` (a Kubernetes object missing its name).
   */
  code?: 'syntax' | 'io' | 'not-a-resource' | 'invalid-resource';
  /** The document's kind, when it has one. */
  kind?: string;
}

export interface ParsedDocuments {
  resources: ConfigResource[];
  problems: ParseProblem[];
}

/** Kinds whose payload is not under `spec`: keep everything but the envelope. */
const ENVELOPE = new Set(['apiVersion', 'kind', 'metadata', 'status']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turn one parsed object into a ConfigResource, or explain why it is not one. Kubernetes `List`
 * objects are flattened into their items.
 */
function toResources(obj: unknown, file: string, line: number, out: ParsedDocuments, fieldLines?: Record<string, number>): void {
  if (obj === null || obj === undefined) return; // empty document (`---` at the end, comments only)
  if (!isObject(obj)) {
    out.problems.push({ file, line, message: 'document is not an object (expected apiVersion, kind, metadata)', code: 'not-a-resource' });
    return;
  }
  if (obj.kind === 'List' && Array.isArray(obj.items)) {
    obj.items.forEach((item, i) => toResources(item, file, fieldLines?.[`items[${i}]`] ?? line, out, fieldLines && withoutPrefix(fieldLines, `items[${i}].`)));
    return;
  }
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') {
    out.problems.push({ file, line, message: 'document has no apiVersion', code: 'not-a-resource' });
    return;
  }
  if (typeof obj.kind !== 'string' || obj.kind === '') {
    out.problems.push({ file, line, message: 'document has no kind', code: 'not-a-resource' });
    return;
  }
  const metadata = isObject(obj.metadata) ? obj.metadata : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') {
    if (typeof metadata.generateName !== 'string') {
      out.problems.push({ file, line, message: `${obj.kind}: metadata.name is missing`, code: 'invalid-resource', kind: obj.kind });
      return;
    }
  }
  let spec: Record<string, unknown>;
  if (isObject(obj.spec)) spec = obj.spec;
  else if ('spec' in obj) spec = {};
  else spec = Object.fromEntries(Object.entries(obj).filter(([k]) => !ENVELOPE.has(k)));
  const { group, version } = splitApiVersion(obj.apiVersion);
  out.resources.push({
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    group,
    version,
    metadata: { ...metadata, name: String(metadata.name ?? metadata.generateName) } as ConfigResource['metadata'],
    spec,
    raw: obj,
    origin: fieldLines ? { file, line, fieldLines } : { file, line },
  });
}

function withoutPrefix(lines: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(lines)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/** Every field's line in a YAML node: `a.b[0].c` → line of `c:` (list items: the item's line). */
function collectFieldLines(node: unknown, counter: LineCounter, prefix: string, out: Record<string, number>): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key as YamlNode | null;
      const name = key && 'value' in key ? String((key as { value: unknown }).value) : String(key);
      const path = prefix ? `${prefix}.${name}` : name;
      if (key?.range) out[path] = lineOf(counter, key.range[0]);
      collectFieldLines(pair.value, counter, path, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const path = `${prefix}[${i}]`;
      const range = (item as YamlNode | null)?.range;
      if (range) out[path] = lineOf(counter, range[0]);
      collectFieldLines(item, counter, path, out);
    });
  }
}

/** 1-based line of a byte offset. */
function lineOf(counter: LineCounter, offset: number): number {
  return counter.linePos(offset).line;
}

/**
 * Parse a file's text: multi-document YAML (`---`), or JSON (one object, an array, or a List).
 * Never throws on user input; syntax errors come back as problems with file and line.
 */
export function parseDocuments(text: string, file: string, options: { fieldLines?: boolean } = {}): ParsedDocuments {
  const out: ParsedDocuments = { resources: [], problems: [] };
  const trimmed = text.trimStart();
  if (file.endsWith('.json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const value: unknown = JSON.parse(text);
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) toResources(item, file, 1, out);
      return out;
    } catch (err) {
      if (file.endsWith('.json')) {
        const m = /position (\d+)/.exec(String(err));
        const line = m ? text.slice(0, Number(m[1])).split('\n').length : 1;
        out.problems.push({ file, line, message: `invalid JSON: ${(err as Error).message}`, code: 'syntax' });
        return out;
      }
      // not JSON after all: YAML is a superset, fall through
    }
  }
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, uniqueKeys: false, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineOf(counter, start);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const at = e.pos?.[0] ?? start;
        out.problems.push({ file, line: lineOf(counter, at), message: `invalid YAML: ${e.message.split('\n')[0]}`, code: 'syntax' });
      }
      continue;
    }
    restoreFlowColonScalars(doc, text);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      out.problems.push({ file, line, message: `invalid YAML: ${(err as Error).message}`, code: 'syntax' });
      continue;
    }
    let fieldLines: Record<string, number> | undefined;
    if (options.fieldLines) collectFieldLines(doc.contents, counter, '', (fieldLines = {}));
    toResources(value, file, line, out, fieldLines);
  }
  return out;
}
