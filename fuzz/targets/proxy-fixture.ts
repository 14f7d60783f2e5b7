import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../../test/proxy/support/envoy-builders.ts';
import { startHarness, type Harness } from '../../test/proxy/support/proxy-harness.ts';

const H2_UPSTREAM = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } };

/**
 * A real proxy (in this process) in front of a Node HTTP/1.1 app, for the server-path targets:
 * listener `in` (HTTP/1.1 and h2c, HTTP/1.1 upstream) and `h2up` (HTTP/2 upstream). The app counts
 * requests that its own parser (llhttp) refuses: the proxy must never forward a request that a
 * strict HTTP/1.1 parser reads differently (request smuggling).
 */
export class ProxyFixture {
  harness!: Harness;
  app!: http.Server;
  appH2!: http.Server;
  /** Requests from the proxy that the app's parser refused, with the parser's reason. */
  readonly appParseErrors: string[] = [];

  async start(): Promise<void> {
    const handler: http.RequestListener = (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    };
    this.app = http.createServer(handler);
    this.app.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
      // a request cut short (the client gave up mid-body, the proxy closed the upstream) is not a disagreement
      // llhttp knows a closed list of methods; a custom method that is a valid token (HTTP/2 allows any, Envoy forwards them) is not a framing disagreement
      const customMethod = err.code === 'HPE_INVALID_METHOD' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ /.test(err.rawPacket?.toString('latin1') ?? '');
      if (!customMethod && err.code !== 'ECONNRESET' && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT' && err.code !== 'HPE_INVALID_EOF_STATE') this.appParseErrors.push(`${err.code}: ${err.message} ${JSON.stringify(err.rawPacket?.toString('latin1').slice(0, 300) ?? '')}`);
      socket.destroy();
    });
    await new Promise<void>((r) => this.app.listen(0, '127.0.0.1', r));
    const { createServer } = await import('node:http2');
    const h2 = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    h2.on('sessionError', () => undefined);
    this.appH2 = h2 as unknown as http.Server;
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    this.harness = await startHarness();
    const port = (this.app.address() as AddressInfo).port;
    const h2port = (h2.address() as AddressInfo).port;
    await this.harness.push({
      clusters: [staticCluster('app', [['127.0.0.1', port]]), staticCluster('app-h2', [['127.0.0.1', h2port]], H2_UPSTREAM)],
      listeners: [
        { name: 'in', address: address('0.0.0.0', 15006), filterChains: [{ filters: [hcm('in', { normalizePath: { value: true }, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_REDIRECT' })] }] },
        { name: 'h2up', address: address('0.0.0.0', 15007), filterChains: [{ filters: [hcm('in')] }] },
      ],
      routes: [routeConfig('in', [vhost('all', ['*'], [route({ prefix: '/h2' }, { cluster: 'app-h2', timeout: { seconds: 2 } }), route({ prefix: '/' }, { cluster: 'app', timeout: { seconds: 2 }, retryPolicy: { retryOn: '5xx,reset', numRetries: { value: 1 } } })])])],
    });
  }

  port(name = 'in'): number {
    return this.harness.port(name);
  }

  async stop(): Promise<void> {
    await this.harness?.close();
    this.app?.closeAllConnections();
    await new Promise<void>((r) => (this.app ? this.app.close(() => r()) : r()));
    await new Promise<void>((r) => (this.appH2 ? this.appH2.close(() => r()) : r()));
  }
}
