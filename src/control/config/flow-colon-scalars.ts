import { isMap, isScalar, isSeq, Scalar, visit, type Document } from 'yaml';

/**
 * Kubernetes (go-yaml) reads `[1.2.3.4, 2001:db8::]` as two strings; the `yaml` package reads the
 * second item as the implicit mapping `{"2001:db8:": null}` because a `:` before `]` or `,` ends a
 * key in a flow collection under YAML 1.2. Istio's own test data relies on go-yaml's reading
 * (IPv6 addresses ending in `::`), so this turns such items back into strings: an item of a flow
 * sequence that is an implicit (brace-less) single-pair map, with a plain-scalar key, no value, and
 * source text ending in `:` right after the key and followed directly by `,` or `]`.
 */
export function restoreFlowColonScalars(doc: Document, text: string): void {
  visit(doc, {
    Seq(_key, seq) {
      if (!isSeq(seq) || !seq.flow) return;
      seq.items = seq.items.map((item) => {
        if (!isMap(item) || !item.range || item.items.length !== 1) return item;
        const source = text.slice(item.range[0], item.range[1]).trimEnd();
        if (source.startsWith('{') || !source.endsWith(':')) return item;
        // `key: ]` (a space after the colon) is a real mapping in go-yaml too
        const next = text.charAt(item.range[0] + source.length);
        if (next !== ',' && next !== ']') return item;
        const pair = item.items[0];
        if (!pair || !isScalar(pair.key) || pair.key.type !== Scalar.PLAIN) return item;
        const value = pair.value;
        const empty = value === null || (isScalar(value) && value.value === null && (!value.range || value.range[0] === value.range[1]));
        if (!empty) return item;
        if (`${String(pair.key.source ?? pair.key.value)}:` !== source) return item;
        const scalar = new Scalar(source);
        scalar.range = item.range;
        return scalar;
      });
    },
  });
}
