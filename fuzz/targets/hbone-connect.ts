import * as tls from 'node:tls';
import { HboneServer, respondError } from '../../src/data/hbone/hbone-server.ts';
import { forwardedHost, parseBaggage, parseHostPort } from '../../src/data/hbone/hbone-headers.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { issueWith, makeCa, type TestCert } from '../../test/proxy/support/test-pki.ts';
import { invariant, type FuzzTarget } from '../engine/fuzz-target.ts';
import { HTTP2_DICTIONARY } from './dictionaries.ts';
import { clientFrames } from './h2-frames.ts';
import { h2Exchange } from './http2-proxy.ts';

let server: HboneServer | undefined;
let port = 0;
let client: TestCert | undefined;
let root = '';

/**
 * ztunnel's HBONE inbound (15008): a client with a mesh certificate opens mutual TLS 1.3 with ALPN
 * h2 and sends frames built from the input (CONNECT or not, any :authority, extra headers,
 * DATA, resets, CONTINUATION, raw frames) to the real HboneServer; accepted CONNECTs go through
 * the header readers ztunnel's inbound uses (forwarded host, baggage) and get 200 and an echo.
 * Invariants: a request reaches the handler only as a CONNECT to a valid IP:PORT-like
 * authority; the server reads every frame (PING ACK) or closes; nothing crashes.
 */
export const hboneConnect: FuzzTarget = {
  name: 'hbone-connect',
  description: "HBONE (HTTP/2 CONNECT over mutual TLS 1.3) server of ztunnel's inbound: frames from the input, header readers",
  dictionary: [...HTTP2_DICTIONARY, '10.0.0.1:80', '[::1]:15008', '127.0.0.1:0', '1.2.3.4:65536', 'forwarded', 'for=1.2.3.4;host=a', 'baggage', 'k8s.namespace.name=default,service.name=x'],
  maxLength: 2048,
  watch: ['/src/data/hbone/'],
  timeoutMs: 8000,
  async setup() {
    const ca = await makeCa('hbone-fuzz-root');
    root = ca.certPem;
    const srv = issueWith(ca, { uris: ['spiffe://cluster.local/ns/default/sa/server'] });
    client = issueWith(ca, { uris: ['spiffe://cluster.local/ns/default/sa/client'] });
    server = new HboneServer({
      credentials: { certChainPem: srv.certPem, privateKeyPem: srv.keyPem, rootCertPem: ca.certPem },
      log: createLogFactory({ levels: 'silent' }).component('hbone'),
      onRequest: (req) => {
        invariant(req.headers[':method'] === 'CONNECT', `handler got ${String(req.headers[':method'])}`);
        invariant(parseHostPort(req.authority) !== undefined, `handler got authority ${JSON.stringify(req.authority)}`);
        invariant(req.peerIdentity === 'spiffe://cluster.local/ns/default/sa/client', `peer ${req.peerIdentity}`);
        forwardedHost(req.headers.forwarded);
        parseBaggage(req.headers.baggage);
        if (req.target.port % 2 === 0) {
          respondError(req.stream, 400);
          return;
        }
        req.stream.respond({ ':status': 200 });
        req.stream.on('data', (d: Buffer) => {
          if (!req.stream.destroyed) req.stream.write(d);
        });
        req.stream.on('end', () => req.stream.end());
      },
    });
    port = await server.listen({ port: 0, host: '127.0.0.1' });
  },
  async run(data) {
    const s = tls.connect({ port, host: '127.0.0.1', ca: root, cert: client!.certPem, key: client!.keyPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', () => resolve());
      s.once('error', reject);
    });
    await h2Exchange(s, clientFrames(data, { connect: true }));
  },
  async teardown() {
    server?.close();
    server = undefined;
  },
};
