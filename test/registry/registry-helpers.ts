import { existsSync, readFileSync } from 'node:fs';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';

export const ISTIO = '../shared/istio/istio';

/** Parse YAML text into resources, failing loudly on a syntax problem (test input is ours). */
export function resources(text: string, file = 'test.yaml'): ConfigResource[] {
  const parsed = parseDocuments(text, file);
  if (parsed.problems.length > 0) throw new Error(`bad test YAML: ${JSON.stringify(parsed.problems)}`);
  return parsed.resources;
}

export function storeOf(...texts: string[]): ConfigStore {
  const store = new ConfigStore();
  store.apply('test', texts.flatMap((t) => resources(t)));
  return store;
}

/** Text of one of Istio's published files, or undefined when ../shared/istio is missing. */
export function istioFile(path: string): string | undefined {
  const full = `${ISTIO}/${path}`;
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
}

export function pod(name: string, ip: string, labels: Record<string, string>, extra: { ns?: string; sa?: string; ports?: Record<string, number>; ready?: boolean; annotations?: Record<string, string> } = {}): string {
  const lines = [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${extra.ns ?? 'default'}`,
    `  labels: ${JSON.stringify(labels)}`,
    ...(extra.annotations ? [`  annotations: ${JSON.stringify(extra.annotations)}`] : []),
    'spec:',
    `  serviceAccountName: ${extra.sa ?? 'default'}`,
    '  containers:',
    '  - name: app',
    `    ports: ${JSON.stringify(Object.entries(extra.ports ?? {}).map(([n, p]) => ({ name: n, containerPort: p })))}`,
    'status:',
    `  podIP: ${ip}`,
    ...(extra.ready === undefined ? [] : ['  conditions:', `  - {type: Ready, status: "${extra.ready ? 'True' : 'False'}"}`]),
  ];
  return lines.join('\n') + '\n';
}
