import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { MizzenError } from '../../lib/errors.ts';
import type { ConfigResource } from '../../api/config-resource.ts';
import { isObj, obj, str, type Obj } from './untyped-fields.ts';

/**
 * Read a MeshConfig or MeshNetworks file as istioctl's `--meshConfigFile`/`--meshNetworksFile`
 * take it: plain YAML of the object, or a ConfigMap whose `data.mesh` / `data.meshNetworks`
 * holds it.
 */
export function readMeshFile(path: string, dataKey: 'mesh' | 'meshNetworks'): Obj {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MizzenError('CONFIG_IO', `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new MizzenError('CONFIG_PARSE', `${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw new MizzenError('CONFIG_PARSE', `${path}: expected a YAML object`);
  if (doc.kind === 'ConfigMap') return parseEmbedded(str(obj(doc.data)[dataKey]), path);
  return doc;
}

function parseEmbedded(text: string, path: string): Obj {
  if (text === '') return {};
  try {
    const v: unknown = parse(text);
    return isObj(v) ? v : {};
  } catch (err) {
    throw new MizzenError('CONFIG_PARSE', `${path}: embedded mesh config: ${(err as Error).message}`);
  }
}

/**
 * MeshConfig (`data.mesh`) or MeshNetworks (`data.meshNetworks`) carried by the input itself:
 * the `istio` ConfigMap in the Istio namespace. Unparseable text is ignored here.
 */
export function meshDataFromResources(resources: readonly ConfigResource[], istioNamespace: string, dataKey: 'mesh' | 'meshNetworks'): Obj | undefined {
  for (const r of resources) {
    if (r.kind !== 'ConfigMap' || r.metadata.name !== 'istio' || (r.metadata.namespace ?? '') !== istioNamespace) continue;
    const text = str(obj(r.spec.data)[dataKey]);
    if (text === '') continue;
    try {
      const v: unknown = parse(text);
      if (isObj(v)) return v;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
