import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function echoService(): { service: grpc.ServiceDefinition; Client: any } {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { mizzen: { test: { Echo: grpc.ServiceClientConstructor } } };
  return { service: pkg.mizzen.test.Echo.service, Client: pkg.mizzen.test.Echo };
}

/** A real gRPC Echo server on 127.0.0.1 (ephemeral port) answering with its name. */
export async function startEchoBackend(name: string): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server();
  server.addService(echoService().service, {
    Echo: (call: grpc.ServerUnaryCall<{ message: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { message: call.request.message, backend: name }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => server.forceShutdown() };
}
