import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * Istio's workload API (.proto files in ./proto, written with Istio's package, names and field
 * numbers): `istio.workload.Address` (Workload | Service), `istio.security.Authorization` and
 * the ZDS messages (`istio.workload.zds.*`) that carry pods to ztunnel.
 */
export const WORKLOAD_PROTO_FILES: readonly string[] = ['workload.proto', 'authorization.proto', 'zds.proto'].map((f) =>
  fileURLToPath(new URL(`./proto/${f}`, import.meta.url)),
);

/** A Root with only the workload API (and the well-known types it imports). */
export function loadWorkloadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.loadSync([...WORKLOAD_PROTO_FILES], { keepCase: false });
  root.resolveAll();
  return root;
}
