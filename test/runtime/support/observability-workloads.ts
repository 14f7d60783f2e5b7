/**
 * Workloads that make known traffic in a `mizzen up` mesh for the observability tests: an HTTP
 * client at a fixed request rate, a TCP echo server and its client, a caller without a sidecar,
 * and an idle pod to run fortio from.
 */

/** `node client.ts URL QPS`: GET URL at QPS requests per second on a fixed schedule (not waiting for answers). */
export const CLIENT_SCRIPT = `import http from 'node:http';
const [url, qpsText] = process.argv.slice(2);
const qps = Number(qpsText);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const start = Date.now();
let sent = 0;
const tick = () => {
  const due = Math.floor(((Date.now() - start) / 1000) * qps);
  while (sent < due) {
    sent++;
    const req = http.get(url, { agent }, (res) => res.resume());
    req.setTimeout(10000, () => req.destroy());
    req.on('error', () => {});
  }
};
setInterval(tick, 20);
`;

/** \`node tcp-echo.ts PORT\`: echoes what it reads. */
export const TCP_ECHO_SCRIPT = `import net from 'node:net';
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(Number(process.argv[2]), '0.0.0.0');
`;

/** \`node tcp-client.ts HOST PORT\`: twice a second, a connection that sends a line, reads it back and closes. */
export const TCP_CLIENT_SCRIPT = `import net from 'node:net';
const [host, port] = process.argv.slice(2);
setInterval(() => {
  const s = net.connect(Number(port), host, () => s.write('hello mesh\\n'));
  s.on('data', () => s.end());
  s.on('error', () => {});
  s.setTimeout(5000, () => s.destroy());
}, 500);
`;

const deployment = (name: string, namespace: string, command: string[], extra = ''): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}, version: v1}}
    spec:
      containers:
      - name: ${name}
        command: ${JSON.stringify(command)}${extra}
`;

/**
 * The manifests: loadgen (QPS to productpage), client (idle, for fortio), tcp-echo + tcp-client,
 * legacy (no sidecar, 1 rps), and tcp-echo + tcp-client again in namespace `ambient`
 * (`istio.io/dataplane-mode: ambient`: no sidecars, the node's ztunnel carries them over HBONE).
 */
export function trafficManifests(qps: number): string {
  return [
    deployment('loadgen', 'default', ['node', './client.ts', 'http://productpage:9080/productpage', String(qps)]),
    deployment('client', 'default', ['node', '-e', 'setInterval(() => {}, 60000)']),
    `apiVersion: v1
kind: Service
metadata: {name: tcp-echo, namespace: default, labels: {app: tcp-echo}}
spec:
  ports: [{port: 9000, name: tcp}]
  selector: {app: tcp-echo}
`,
    deployment('tcp-echo', 'default', ['node', './tcp-echo.ts', '9000'], '\n        ports: [{containerPort: 9000}]\n        readinessProbe: {tcpSocket: {port: 9000}, periodSeconds: 2}'),
    deployment('tcp-client', 'default', ['node', './tcp-client.ts', 'tcp-echo', '9000']),
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy}\n',
    deployment('legacy-client', 'legacy', ['node', './client.ts', 'http://productpage.default:9080/productpage', '1']),
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: ambient, labels: {istio.io/dataplane-mode: ambient}}\n',
    `apiVersion: v1
kind: Service
metadata: {name: tcp-echo, namespace: ambient, labels: {app: tcp-echo}}
spec:
  ports: [{port: 9000, name: tcp}]
  selector: {app: tcp-echo}
`,
    deployment('tcp-echo', 'ambient', ['node', './tcp-echo.ts', '9000'], '\n        ports: [{containerPort: 9000}]\n        readinessProbe: {tcpSocket: {port: 9000}, periodSeconds: 2}'),
    deployment('tcp-client', 'ambient', ['node', './tcp-client.ts', 'tcp-echo', '9000']),
  ].join('---\n');
}
