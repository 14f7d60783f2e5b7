/**
 * core/v1 ConfigMap payload (no `spec`: the resource's `spec` holds `{data, binaryData}`).
 * Mesh config is ConfigMap `istio` with key `mesh` (YAML MeshConfig), as in Istio.
 */
export interface ConfigMapPayload {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export const MESH_CONFIG_MAP_NAME = 'istio';
export const MESH_CONFIG_KEY = 'mesh';
