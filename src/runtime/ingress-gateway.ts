import type { SubmittedFile } from './control-server.ts';

/**
 * `mizzen up --ingress-gateway`: Istio's default ingress gateway, as its gateway chart makes it:
 * namespace istio-system, Service `istio-ingressgateway` (80→8080, 443→8443, 15021) selecting
 * `istio: ingressgateway`, and a Deployment injected with Istio's `gateway` template (its
 * `istio-proxy` container is the proxy: `mizzen proxy router`). Istio's `bookinfo-gateway.yaml`
 * then works unchanged. Its Service is a LoadBalancer: `mizzen up` forwards 127.0.0.1:80 and :443
 * to it (other free ports when those are taken), shown as the Service's EXTERNAL-IP, so Istio's
 * "INGRESS_HOST/INGRESS_PORT" instructions work.
 */
export const INGRESS_GATEWAY = { namespace: 'istio-system', service: 'istio-ingressgateway', ports: [80, 443] } as const;

export const INGRESS_GATEWAY_FILE = '<built-in istio-ingressgateway>';

export function ingressGatewayManifests(): SubmittedFile {
  const text = `apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-ingressgateway-service-account
  namespace: istio-system
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  type: LoadBalancer
  selector: {app: istio-ingressgateway, istio: ingressgateway}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021}
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  replicas: 1
  selector:
    matchLabels: {app: istio-ingressgateway, istio: ingressgateway}
  template:
    metadata:
      labels: {app: istio-ingressgateway, istio: ingressgateway, sidecar.istio.io/inject: "true"}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      serviceAccountName: istio-ingressgateway-service-account
      containers:
      - name: istio-proxy
        image: auto
        ports:
        - {containerPort: 15021, name: status-port}
        - {containerPort: 8080, name: http2}
        - {containerPort: 8443, name: https}
`;
  return { file: INGRESS_GATEWAY_FILE, text };
}
