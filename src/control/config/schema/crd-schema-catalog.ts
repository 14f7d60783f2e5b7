import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** One served version of a CRD: its raw structural schema (`openAPIV3Schema`). */
export interface CrdVersionSchema {
  group: string;
  kind: string;
  version: string;
  served: boolean;
  schema: Record<string, unknown>;
}

export const BUNDLED_CRD_FILE = fileURLToPath(new URL('./istio-crds.gen.yaml', import.meta.url));
/** The Gateway API's standard-channel CRDs (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant). */
export const GATEWAY_API_CRD_FILE = fileURLToPath(new URL('./gateway-api-crds.gen.yaml', import.meta.url));

/** A CRD's `additionalPrinterColumns` entry (what `kubectl get` shows for the kind). */
export interface PrinterColumn {
  name: string;
  jsonPath: string;
  type: string;
  /** 0: default table; higher: only with `-o wide`. */
  priority: number;
}

interface CrdDocument {
  spec?: {
    group?: string;
    names?: { kind?: string };
    versions?: { name?: string; served?: boolean; storage?: boolean; schema?: { openAPIV3Schema?: Record<string, unknown> }; additionalPrinterColumns?: Partial<PrinterColumn>[] }[];
  };
}

/**
 * Istio's and the Gateway API's CRDs, loaded lazily from multi-document YAML files: the files are
 * read on first use and only the document of a requested kind is parsed (Istio's file alone is
 * ~19,000 lines).
 */
export class CrdSchemaCatalog {
  readonly #files: readonly string[];
  #documents: Map<string, string> | undefined;
  readonly #parsed = new Map<string, CrdDocument | undefined>();

  constructor(files: string | readonly string[] = [BUNDLED_CRD_FILE, GATEWAY_API_CRD_FILE]) {
    this.#files = typeof files === 'string' ? [files] : files;
  }

  /** `group/kind` → document text, found by a cheap scan (no YAML parsing). */
  #index(): Map<string, string> {
    if (this.#documents) return this.#documents;
    const docs = new Map<string, string>();
    for (const file of this.#files) {
      const text = readFileSync(file, 'utf8');
      for (const doc of text.split(/^---\s*$/m)) {
        const group = /^ {2}group: (\S+)/m.exec(doc)?.[1];
        const kind = /^ {4}kind: (\S+)/m.exec(doc)?.[1];
        if (group && kind) docs.set(`${group}/${kind}`, doc);
      }
    }
    this.#documents = docs;
    return docs;
  }

  #document(group: string, kind: string): CrdDocument | undefined {
    const key = `${group}/${kind}`;
    if (!this.#parsed.has(key)) {
      const text = this.#index().get(key);
      this.#parsed.set(key, text === undefined ? undefined : (parse(text) as CrdDocument));
    }
    return this.#parsed.get(key);
  }

  /** Whether the catalog has a CRD for this kind at all. */
  has(group: string, kind: string): boolean {
    return this.#index().has(`${group}/${kind}`);
  }

  /** Versions the CRD declares (served or not). */
  versions(group: string, kind: string): { name: string; served: boolean }[] {
    const doc = this.#document(group, kind);
    return (doc?.spec?.versions ?? []).map((v) => ({ name: String(v.name), served: v.served !== false }));
  }

  /** The storage version's printer columns (kubectl prints NAME and these; none: NAME, AGE). */
  printerColumns(group: string, kind: string): PrinterColumn[] {
    const versions = this.#document(group, kind)?.spec?.versions ?? [];
    const v = versions.find((x) => x.storage) ?? versions[0];
    return (v?.additionalPrinterColumns ?? []).map((c) => ({ name: String(c.name), jsonPath: String(c.jsonPath), type: String(c.type ?? 'string'), priority: c.priority ?? 0 }));
  }

  schemaFor(group: string, kind: string, version: string): CrdVersionSchema | undefined {
    const doc = this.#document(group, kind);
    const v = doc?.spec?.versions?.find((x) => x.name === version);
    const schema = v?.schema?.openAPIV3Schema;
    if (!v || !schema) return undefined;
    return { group, kind, version, served: v.served !== false, schema };
  }
}
