import { generateKeyPairSync } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  basicConstraintsExtension, buildCertificate, distinguishedName, extKeyUsageExtension, KEY_USAGE, keyUsageExtension,
  OID, randomSerial, subjectAltNameExtension,
} from '../../../src/lib/x509-builder.ts';
import { toPem } from '../../../src/lib/pem.ts';
import { makeCa, type TestCa } from '../../proxy/support/test-pki.ts';

/** A server certificate for a DNS name (e.g. istiod.istio-system.svc), signed by a fresh test CA. */
export async function serverPki(dnsName: string): Promise<{ ca: TestCa; certPem: string; keyPem: string }> {
  const ca = await makeCa('grpc-wire-test-root');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: distinguishedName([{ oid: OID.commonName, value: dnsName }]),
    notBefore: Date.now() - 60_000,
    notAfter: Date.now() + 86_400_000,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]),
      extKeyUsageExtension([OID.serverAuth, OID.clientAuth]),
      subjectAltNameExtension({ dns: [dnsName] }, false),
    ],
    signingKey: ca.key,
  });
  return { ca, certPem: toPem('CERTIFICATE', der), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return { path: `/test.Wire/${name}`, requestStream, responseStream, ...raw };
}

/** What the server saw, for assertions. */
export interface ServerRecord {
  metadata: grpc.Metadata[];
  cancelled: number;
  received: Buffer[];
}

/**
 * A grpc-js server (the interop peer) with raw-bytes methods: Echo (unary), Fail (unary, status
 * from the request text "CODE:message"), Hang (unary, never answers), Chat (bidi echo, OK on
 * half-close), Abort (bidi: two messages then ABORTED), Watch (bidi, records cancellation).
 */
export class TestGrpcServer {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  readonly record: ServerRecord = { metadata: [], cancelled: 0, received: [] };
  private readonly hanging = new Set<grpc.ServerUnaryCall<Buffer, Buffer>>();

  constructor() {
    const def: grpc.ServiceDefinition = {
      Echo: method('Echo', false, false),
      Fail: method('Fail', false, false),
      Hang: method('Hang', false, false),
      Chat: method('Chat', true, true),
      Abort: method('Abort', true, true),
      Watch: method('Watch', true, true),
    };
    const impl: grpc.UntypedServiceImplementation = {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        this.record.metadata.push(call.metadata);
        const md = new grpc.Metadata();
        md.set('x-trailer', 'yes');
        cb(null, call.request, md);
      },
      Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const text = call.request.toString();
        const i = text.indexOf(':');
        cb({ code: Number(text.slice(0, i)), details: text.slice(i + 1) });
      },
      Hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
        this.record.metadata.push(call.metadata);
        this.hanging.add(call);
        call.on('cancelled', () => this.hanging.delete(call));
      },
      Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        this.record.metadata.push(call.metadata);
        call.on('data', (b: Buffer) => {
          this.record.received.push(b);
          call.write(b);
        });
        call.on('end', () => {
          const md = new grpc.Metadata();
          md.set('x-count', String(this.record.received.length));
          call.end(md);
        });
      },
      Abort: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.write(Buffer.from('one'));
        call.write(Buffer.from('two'));
        call.emit('error', { code: grpc.status.ABORTED, details: 'aborted by test' });
      },
      Watch: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', () => call.write(Buffer.from('ack')));
        call.on('cancelled', () => this.record.cancelled++);
      },
    };
    this.server.addService(def, impl);
  }

  /** Bind to `address` (e.g. 127.0.0.1:0 or unix:/path), TLS when a key pair is given; returns the port. */
  start(address: string, tls?: { certPem: string; keyPem: string }): Promise<number> {
    const creds = tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }]) : grpc.ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => this.server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => resolve());
      this.server.forceShutdown();
    });
  }
}
