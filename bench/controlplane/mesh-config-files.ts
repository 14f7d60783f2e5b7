/**
 * The benchmark mesh as Istio YAML: M ServiceEntries (MESH_INTERNAL, STATIC, HTTP) each with E
 * inline endpoints, in one namespace, plus one VirtualService whose edit is the measured change.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MeshShape {
  services: number;
  endpointsPerService: number;
  namespace: string;
}

function serviceEntry(i: number, shape: MeshShape, endpointShift: number): string {
  const endpoints = Array.from({ length: shape.endpointsPerService }, (_, e) => {
    const n = i * shape.endpointsPerService + e + endpointShift;
    return `  - address: 10.${200 + ((n >> 16) & 0x3f)}.${(n >> 8) & 0xff}.${n & 0xff}`;
  }).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: svc-${i}
  namespace: ${shape.namespace}
spec:
  hosts: [svc-${i}.${shape.namespace}.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 8080, name: http, protocol: HTTP}
  endpoints:
${endpoints}
`;
}

export function virtualService(shape: MeshShape, weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bench-vs
  namespace: ${shape.namespace}
spec:
  hosts: [svc-0.${shape.namespace}.mesh.internal]
  http:
  - route:
    - destination: {host: svc-0.${shape.namespace}.mesh.internal}
      weight: ${weight}
    - destination: {host: svc-1.${shape.namespace}.mesh.internal}
      weight: ${100 - weight}
`;
}

const MOVING_SERVICE = (ns: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: moving
  namespace: ${ns}
spec:
  hosts: [moving.${ns}.mesh.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 8080, name: http, protocol: HTTP}
  workloadSelector:
    labels: {app: moving}
`;

/** An endpoint-only change: the WorkloadEntry behind the `moving` service gets a new address. */
export function workloadEntry(shape: MeshShape, n: number): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: moving-1
  namespace: ${shape.namespace}
spec:
  address: 10.250.${(n >> 8) & 0xff}.${n & 0xff}
  labels: {app: moving}
`;
}

/** Write the mesh into DIR (services in one file, the changing resources in their own). */
export function writeMesh(dir: string, shape: MeshShape): void {
  mkdirSync(dir, { recursive: true });
  const docs = Array.from({ length: shape.services }, (_, i) => serviceEntry(i, shape, 0));
  docs.push(MOVING_SERVICE(shape.namespace));
  writeFileSync(join(dir, 'services.yaml'), docs.join('---\n'));
  writeFileSync(join(dir, 'virtual-service.yaml'), virtualService(shape, 90));
  writeFileSync(join(dir, 'workload-entry.yaml'), workloadEntry(shape, 1));
}
