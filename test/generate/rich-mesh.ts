/** A Bookinfo-like mesh using most features, shared by the generation tests. */
import type { EndpointSpec, ServiceSpec } from '../support/generate-fixture.ts';

export const RICH_SERVICES: ServiceSpec[] = [
  { name: 'productpage', vip: '10.96.0.10', ports: [{ port: 9080 }] },
  { name: 'reviews', vip: '10.96.0.11', ports: [{ port: 9080 }] },
  { name: 'ratings', vip: '10.96.0.12', ports: [{ port: 9080, protocol: 'GRPC' }] },
  { name: 'details', vip: '10.96.0.13', ports: [{ port: 9080 }] },
  { name: 'mongodb', vip: '10.96.0.14', ports: [{ port: 27017, protocol: 'TCP' }] },
  { name: 'legacy', vip: '10.96.0.15', ports: [{ port: 7000, protocol: 'UNSUPPORTED' }] },
  { name: 'db', hostname: 'db.external', vip: '192.168.10.0/24', registry: 'ServiceEntry', resolution: 'NONE', location: 'MESH_EXTERNAL', ports: [{ port: 5432, protocol: 'TCP' }] },
  { name: 'pg', hostname: 'pg.external', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 5432, protocol: 'TCP' }] },
  { name: 'httpbin', hostname: 'httpbin.org', registry: 'ServiceEntry', resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ port: 80 }, { port: 443, protocol: 'TLS' }] },
];

export const RICH_ENDPOINTS: EndpointSpec[] = [
  { service: 'productpage', address: '10.244.0.10', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'productpage', workloadName: 'productpage-v1' },
  { service: 'reviews', address: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', locality: { region: 'r1', zone: 'z1' } },
  { service: 'reviews', address: '10.244.0.21', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'reviews', locality: { region: 'r1', zone: 'z2' } },
  { service: 'reviews', address: '10.244.0.31', labels: { app: 'reviews', version: 'v3' }, serviceAccount: 'reviews', healthy: false },
  { service: 'ratings', address: '10.244.0.12', labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'ratings', tlsMode: 'disabled' },
  { service: 'details', address: '10.244.0.13', targetPort: 8080, labels: { app: 'details' }, serviceAccount: 'details' },
  { service: 'mongodb', address: '10.244.0.14', labels: { app: 'mongodb' } },
];

export const RICH_CONFIG = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    fault: { delay: { fixedDelay: 2s, percentage: { value: 50 } } }
  - name: api
    match: [{ uri: { prefix: /api }, method: { exact: POST } }, { uri: { regex: '/v[0-9]+/.*' }, queryParams: { debug: { exact: "1" } } }]
    rewrite: { uri: /, authority: reviews.internal }
    timeout: 3s
    retries: { attempts: 3, perTryTimeout: 1s, retryOn: "5xx,503" }
    mirror: { host: ratings }
    mirrorPercentage: { value: 10 }
    headers: { request: { set: { x-a: "1" }, add: { x-b: "2" }, remove: [x-c] }, response: { set: { x-r: "y" } } }
    corsPolicy: { allowOrigins: [{ exact: "https://a.example" }], allowMethods: [GET], maxAge: 24h, allowCredentials: true }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - name: moved
    match: [{ uri: { exact: /old } }]
    redirect: { uri: /new, authority: example.com, redirectCode: 302 }
  - name: gone
    match: [{ uri: { exact: /gone } }]
    directResponse: { status: 410, body: { string: gone } }
  - name: split
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 80 }
    - { destination: { host: reviews, subset: v3 }, weight: 20, headers: { request: { set: { x-canary: "1" } } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST }
    connectionPool: { tcp: { maxConnections: 100, connectTimeout: 2s, tcpKeepalive: { time: 7200s, interval: 75s } }, http: { http1MaxPendingRequests: 10, maxRequestsPerConnection: 5, idleTimeout: 30s } }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50, minHealthPercent: 20 }
    portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 1024 } } } }]
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { loadBalancer: { simple: RANDOM } } }
  - { name: v3, labels: { version: v3 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: httpbin-tls, namespace: default }
spec:
  host: httpbin.org
  trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: SIMPLE, sni: httpbin.org } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mongo, namespace: default }
spec:
  hosts: [mongodb]
  tcp: [{ route: [{ destination: { host: mongodb, port: { number: 27017 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }
  - { port: { number: 443, name: https, protocol: HTTPS }, hosts: [bookinfo.example.com], tls: { mode: SIMPLE, credentialName: bookinfo-cert } }
  - { port: { number: 15443, name: tls, protocol: TLS }, hosts: [passthrough.example.com], tls: { mode: PASSTHROUGH } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*", bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http:
  - match: [{ uri: { exact: /productpage } }, { uri: { prefix: /static } }]
    route: [{ destination: { host: productpage, port: { number: 9080 } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: passthrough, namespace: default }
spec:
  hosts: [passthrough.example.com]
  gateways: [bookinfo-gateway]
  tls:
  - match: [{ port: 15443, sniHosts: [passthrough.example.com] }]
    route: [{ destination: { host: httpbin.org, port: { number: 443 } } }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/default/sa/productpage] } }]
    to: [{ operation: { methods: [GET], paths: ["/reviews/*"] } }]
  - from: [{ source: { namespaces: [monitoring], ipBlocks: [10.0.0.0/8] } }]
    when: [{ key: "request.headers[x-token]", values: [ok] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin*] } }] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  jwtRules:
  - { issuer: "https://issuer.example", jwks: '{"keys":[]}', audiences: [reviews], fromHeaders: [{ name: x-jwt, prefix: "Bearer " }] }
`;
