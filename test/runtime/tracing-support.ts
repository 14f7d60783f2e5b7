import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
export { cli, freePort } from './netns-test-support.ts';

/** Where scripts/tracing-backends.sh caches the real backends. */
export const CACHE = '/var/cache/mizzen';
export const ZIPKIN_JAR = join(CACHE, 'zipkin-server-3.5.1-exec.jar');
export const OTELCOL = join(CACHE, 'otelcol-0.165.0/otelcol');

/** GET on a fresh connection (no keep-alive: each request meets the gateway's current config). */
export function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(10_000, () => req.destroy());
  });
}

/** The collector's config: OTLP gRPC and HTTP receivers, spans printed by the debug exporter. */
export const OTEL_CONFIG = `receivers:
  otlp:
    protocols:
      grpc: {endpoint: 0.0.0.0:4317}
      http: {endpoint: 0.0.0.0:4318}
exporters:
  debug: {verbosity: detailed}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
`;

/**
 * istio-system for a `mizzen up` directory: the mesh config's extension providers (as Istio's
 * tracing task installs them), the mesh-wide Telemetry at 100 % with `provider`, and the
 * backends as pods without sidecars (Zipkin's server; the collector when `otelConfig` is given).
 */
export function observabilityManifests(provider: 'zipkin' | 'otel', otelConfig?: string): string {
  const out = [`apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: zipkin
      zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
    - name: otel
      opentelemetry: {service: otel-collector.istio-system.svc.cluster.local, port: 4317}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: ${provider}}]
    randomSamplingPercentage: 100`];
  if (provider === 'zipkin' && existsSync(ZIPKIN_JAR)) {
    out.push(`apiVersion: v1
kind: Service
metadata: {name: zipkin, namespace: istio-system, labels: {app: zipkin}}
spec:
  ports: [{port: 9411, name: http-query}]
  selector: {app: zipkin}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: zipkin, namespace: istio-system}
spec:
  selector: {matchLabels: {app: zipkin}}
  template:
    metadata: {labels: {app: zipkin}}
    spec:
      containers:
      - name: zipkin
        command: [java, -Xmx256m, -XX:TieredStopAtLevel=1, -jar, ${ZIPKIN_JAR}]
        ports: [{containerPort: 9411}]
        readinessProbe: {httpGet: {path: /health, port: 9411}, periodSeconds: 2}`);
  }
  if (otelConfig) {
    out.push(`apiVersion: v1
kind: Service
metadata: {name: otel-collector, namespace: istio-system, labels: {app: otel-collector}}
spec:
  ports: [{port: 4317, name: grpc-otlp}, {port: 4318, name: http-otlp}]
  selector: {app: otel-collector}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: otel-collector, namespace: istio-system}
spec:
  selector: {matchLabels: {app: otel-collector}}
  template:
    metadata: {labels: {app: otel-collector}}
    spec:
      containers:
      - name: otel-collector
        command: [${OTELCOL}, --config=file:${otelConfig}]
        ports: [{containerPort: 4317}]
        readinessProbe: {tcpSocket: {port: 4317}, periodSeconds: 2}`);
  }
  return `${out.join('\n---\n')}\n`;
}
