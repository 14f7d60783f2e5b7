/**
 * The chaos mesh: namespace `default` with injection on, a fortio server Deployment behind
 * Service `server` (port 8080, HTTP) and an idle fortio client pod the load runs from, both with
 * sidecars (so every request crosses a sidecar pair over mutual TLS).
 */
export interface MeshShape {
  serverReplicas?: number;
  /** The workload certificate lifetime the sidecars ask for (Istio's SECRET_TTL through proxyMetadata). */
  secretTtl?: string;
  /** More documents (DestinationRules...). */
  extra?: string[];
}

const fortioDeployment = (name: string, replicas: number, annotations: Record<string, string>): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}, version: v1}
      annotations: ${JSON.stringify(annotations)}
    spec:
      containers:
      - name: fortio
        image: fortio/fortio:1.63.0
        args: [server, -http-port, "8080"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /debug, port: 8080}, periodSeconds: 2}
`;

export function meshManifests(shape: MeshShape = {}): string {
  const annotations: Record<string, string> = shape.secretTtl ? { 'proxy.istio.io/config': JSON.stringify({ proxyMetadata: { SECRET_TTL: shape.secretTtl } }) } : {};
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: default, labels: {istio-injection: enabled}}\n',
    'apiVersion: v1\nkind: Service\nmetadata: {name: server, namespace: default, labels: {app: server}}\nspec:\n  ports: [{port: 8080, name: http}]\n  selector: {app: server}\n',
    fortioDeployment('server', shape.serverReplicas ?? 1, annotations),
    fortioDeployment('client', 1, annotations),
    ...(shape.extra ?? []),
  ].join('---\n');
}
