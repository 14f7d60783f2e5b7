import { join } from 'node:path';
import { REPO } from '../netns-test-support.ts';
import { injectedNamespace, meshConfigMap } from '../task-mesh.ts';

/**
 * The YAML of Istio's egress gateway pages (unchanged) and what stands in for the Internet and
 * for Istio's installation in test/runtime/egress-gateway-task.test.ts.
 */
/**
 * CoreDNS's Corefile with a `hosts` entry: how a cluster admin points a name at an address for
 * every pod (mizzen up writes the entry into pods' hosts files). The site's pod IP stands in for
 * the Internet's address of edition.cnn.com (not a Service VIP: sidecars must see an address
 * no mesh service claims, as with a real site).
 */
export function corednsConfigMap(ip: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
    .:53 {
        errors
        kubernetes cluster.local in-addr.arpa ip6.arpa
        hosts {
           ${ip} edition.cnn.com
           fallthrough
        }
        forward . /etc/resolv.conf
    }
`;
}

export function manifests(dir: string): Record<string, string> {
  return {
    'mesh.yaml': meshConfigMap('accessLogFile: /dev/stdout\n'),
    'default.yaml': injectedNamespace('default'),
    'external.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: external
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cnn-origin
  namespace: external
spec:
  selector:
    matchLabels: {app: cnn-origin}
  template:
    metadata:
      labels: {app: cnn-origin}
    spec:
      containers:
      - name: web
        command: ["${process.execPath}", "${join(REPO, 'test/runtime/support/external-web.ts')}", "--http", "80", "--https", "443", "--cert", "${join(dir, 'cnn.pem')}", "--key", "${join(dir, 'cnn-key.pem')}"]
        readinessProbe:
          tcpSocket: {port: 443}
`,
    'egressgateway.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-egressgateway
  namespace: istio-system
---
apiVersion: v1
kind: Service
metadata:
  name: istio-egressgateway
  namespace: istio-system
  labels: {app: istio-egressgateway, istio: egressgateway}
spec:
  type: ClusterIP
  selector: {app: istio-egressgateway, istio: egressgateway}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021}
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-egressgateway
  namespace: istio-system
spec:
  selector:
    matchLabels: {app: istio-egressgateway, istio: egressgateway}
  template:
    metadata:
      labels: {app: istio-egressgateway, istio: egressgateway, sidecar.istio.io/inject: "true"}
      # the stand-in site's CA among the proxy's OS roots (ProxyConfig proxyMetadata sets the
      # agent's environment), as an image with that CA installed would have it: SIMPLE origination
      # without caCertificates verifies against these (Istio's VERIFY_CERTIFICATE_AT_CLIENT)
      annotations:
        inject.istio.io/templates: gateway
        proxy.istio.io/config: '{"proxyMetadata": {"SSL_CERT_FILE": "${dir}/trust-bundle.pem"}}'
    spec:
      serviceAccountName: istio-egressgateway
      containers:
      - name: istio-proxy
        image: auto
`,
  };
}

export const SERVICE_ENTRY_HTTP = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
spec:
  hosts:
  - edition.cnn.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  - number: 443
    name: https
    protocol: HTTPS
  resolution: DNS
`;

export const HTTP_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - edition.cnn.com
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
`;

export const HTTP_VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
spec:
  hosts:
  - edition.cnn.com
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port:
          number: 80
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway
      port: 80
    route:
    - destination:
        host: edition.cnn.com
        port:
          number: 80
      weight: 100
`;

export const SERVICE_ENTRY_TLS = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
spec:
  hosts:
  - edition.cnn.com
  ports:
  - number: 443
    name: tls
    protocol: TLS
  resolution: DNS
`;

export const TLS_PASSTHROUGH = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 443
      name: tls
      protocol: TLS
    hosts:
    - edition.cnn.com
    tls:
      mode: PASSTHROUGH
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
spec:
  hosts:
  - edition.cnn.com
  gateways:
  - mesh
  - istio-egressgateway
  tls:
  - match:
    - gateways:
      - mesh
      port: 443
      sniHosts:
      - edition.cnn.com
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port:
          number: 443
  - match:
    - gateways:
      - istio-egressgateway
      port: 443
      sniHosts:
      - edition.cnn.com
    route:
    - destination:
        host: edition.cnn.com
        port:
          number: 443
      weight: 100
`;

export const TLS_ORIGINATION = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 80
      name: https-port-for-tls-origination
      protocol: HTTPS
    hosts:
    - edition.cnn.com
    tls:
      mode: ISTIO_MUTUAL
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
    trafficPolicy:
      loadBalancer:
        simple: ROUND_ROBIN
      portLevelSettings:
      - port:
          number: 80
        tls:
          mode: ISTIO_MUTUAL
          sni: edition.cnn.com
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
spec:
  hosts:
  - edition.cnn.com
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port:
          number: 80
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway
      port: 80
    route:
    - destination:
        host: edition.cnn.com
        port:
          number: 443
      weight: 100
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: originate-tls-for-edition-cnn-com
spec:
  host: edition.cnn.com
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    portLevelSettings:
    - port:
        number: 443
      tls:
        mode: SIMPLE # initiates HTTPS for connections to edition.cnn.com
`;

