// Istio's `extauthz` sample server (samples/extauthz, image registry.istio.io/testing/ext-authz),
// written here in Node with the same behaviour: an HTTP authorizer on --http (8000) and an
// envoy.service.auth.v3.Authorization gRPC server on --grpc (9000), built on @grpc/grpc-js.
// A request is allowed when its `x-ext-authz` header is `allow`; without that header, the gRPC
// server allows a source principal ending in /sa/<--allow_service_account> (default "a").
// Allowed: `x-ext-authz-check-result: allowed` (gRPC: added to the upstream request; HTTP: a
// response header the mesh config may forward). Denied: 403 with `x-ext-authz-check-result:
// denied` and the body "denied by ext_authz for not found header `x-ext-authz: allow` in the request".
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const CHECK_HEADER = 'x-ext-authz';
const ALLOWED_VALUE = 'allow';
const RESULT_HEADER = 'x-ext-authz-check-result';
const RECEIVED_HEADER = 'x-ext-authz-check-received';
const OVERRIDE_HEADER = 'x-ext-authz-additional-header-override';
const OVERRIDE_GRPC_VALUE = 'grpc-additional-header-override-value';
const DENY_BODY = `denied by ext_authz for not found header \`${CHECK_HEADER}: ${ALLOWED_VALUE}\` in the request`;

function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i].replace(/^--?/, '');
    if (a === name) return args[i + 1] ?? fallback;
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return fallback;
}

const httpPort = Number(flag('http', '8000'));
const grpcPort = Number(flag('grpc', '9000'));
const serviceAccount = flag('allow_service_account', 'a');

/** Go's log.Printf prefix: `2006/01/02 15:04:05 `. */
function log(line: string): void {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  process.stdout.write(`${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${line}\n`);
}

/** Envoy's headers are limited to 60 KiB: a longer echo is replaced, as the Go sample does. */
function notTooLong(s: string): string {
  return s.length > 60000 ? '<too-long>' : s;
}

// --- HTTP authorizer ---
const httpServer = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v : [String(v)]]));
    const line = `${req.method} ${req.headers.host ?? ''}${req.url}, headers: ${JSON.stringify(headers)}, body: [${notTooLong(body)}]`;
    const allowed = req.headers[CHECK_HEADER] === ALLOWED_VALUE;
    log(`[HTTP][${allowed ? 'allowed' : 'denied'}]: ${line}`);
    res.setHeader(RESULT_HEADER, allowed ? 'allowed' : 'denied');
    res.setHeader(OVERRIDE_HEADER, String(req.headers[OVERRIDE_HEADER] ?? ''));
    res.setHeader(RECEIVED_HEADER, notTooLong(line).replace(/[^\t\x20-\x7e]/g, '?'));
    if (allowed) {
      res.writeHead(200);
      res.end();
    } else {
      res.writeHead(403);
      res.end(DENY_BODY);
    }
  });
});

// --- gRPC authorizer (envoy.service.auth.v3.Authorization/Check) ---
const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const definition = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
  includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };

interface CheckRequest {
  attributes?: {
    source?: { principal?: string };
    request?: { http?: { host?: string; path?: string; headers?: Record<string, string> } };
  };
}

function headerOptions(attrs: string, result: string): unknown[] {
  return [
    { header: { key: RESULT_HEADER, value: result } },
    { header: { key: RECEIVED_HEADER, value: notTooLong(attrs) } },
    { header: { key: OVERRIDE_HEADER, value: OVERRIDE_GRPC_VALUE } },
  ];
}

const grpcServer = new grpc.Server();
grpcServer.addService(pkg.envoy.service.auth.v3.Authorization.service, {
  Check(call: grpc.ServerUnaryCall<CheckRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const attrs = call.request.attributes ?? {};
    const httpAttrs = attrs.request?.http ?? {};
    const value = httpAttrs.headers?.[CHECK_HEADER];
    const allowed = value !== undefined ? value === ALLOWED_VALUE : (attrs.source?.principal ?? '').endsWith(`/sa/${serviceAccount}`);
    const text = JSON.stringify(attrs);
    log(`[gRPCv3][${allowed ? 'allowed' : 'denied'}]: ${httpAttrs.host ?? ''}${httpAttrs.path ?? ''}, attributes: ${text}`);
    if (allowed) {
      callback(null, { status: { code: 0 }, ok_response: { headers: headerOptions(text, 'allowed') } });
    } else {
      callback(null, { status: { code: 7 }, denied_response: { status: { code: 'Forbidden' }, body: DENY_BODY, headers: headerOptions(text, 'denied') } });
    }
  },
});

httpServer.listen(httpPort, '::', () => log(`Starting HTTP server at [::]:${httpPort}`));
grpcServer.bindAsync(`[::]:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    log(`Failed to start gRPC server: ${err.message}`);
    process.exit(1);
  }
  log(`Starting gRPC server at [::]:${grpcPort}`);
});

function stop(): void {
  httpServer.close();
  grpcServer.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
