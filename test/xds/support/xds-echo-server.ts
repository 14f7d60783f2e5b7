/**
 * Child process for end-to-end tests: a proxyless gRPC *server* using @grpc/grpc-js-xds
 * (XdsServer: its listener, mTLS and RBAC come from discovery; bootstrap from GRPC_XDS_BOOTSTRAP).
 * Prints "listening PORT" once bound. Usage: node xds-echo-server.ts PORT NAME
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { echoService } from './echo-backends.ts';

xds.register();
const port = Number(process.argv[2]);
const name = process.argv[3]!;
const server = new xds.XdsServer();
server.addService(echoService().service, {
  Echo: (call: grpc.ServerUnaryCall<{ message: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { message: call.request.message, backend: name }),
});
server.bindAsync(`0.0.0.0:${port}`, new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err, p) => {
  if (err) {
    process.stderr.write(`bind failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening ${p}\n`);
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
