import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { HboneServer, respondError, type HboneRequest } from '../../src/data/hbone/hbone-server.ts';
import { HboneError, HbonePool, type HboneDestination } from '../../src/data/hbone/hbone-pool.ts';
import { baggageValue, forwardedHost, forwardedValue, newTraceparent, parseBaggage } from '../../src/data/hbone/hbone-headers.ts';
import type { HboneCredentials } from '../../src/data/hbone/hbone-settings.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { issue, makeCa } from '../proxy/support/test-pki.ts';

/** HBONE (HTTP/2 CONNECT over mutual TLS 1.3, ALPN h2) between our client pool and server, over real sockets. */
describe('HBONE', () => {
  let creds: { server: HboneCredentials; client: HboneCredentials; stranger: HboneCredentials };
  let app: Server;
  let appPort: number;
  let hbone: HboneServer;
  let hbonePort: number;
  const seen: { identity: string | undefined; authority: string; headers: Record<string, unknown> }[] = [];
  const pool = new HbonePool({ log: silentLogger() });

  before(async () => {
    const ca = await makeCa('mesh');
    const other = await makeCa('other');
    const s = await issue(ca, 'spiffe://cluster.local/ns/demo/sa/server');
    const c = await issue(ca, 'spiffe://cluster.local/ns/demo/sa/client');
    const x = await issue(other, 'spiffe://cluster.local/ns/demo/sa/client');
    creds = {
      server: { certChainPem: s.certPem, privateKeyPem: s.keyPem, rootCertPem: ca.certPem },
      client: { certChainPem: c.certPem, privateKeyPem: c.keyPem, rootCertPem: ca.certPem },
      stranger: { certChainPem: x.certPem, privateKeyPem: x.keyPem, rootCertPem: ca.certPem },
    };
    app = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as { port: number }).port;
    hbone = new HboneServer({
      credentials: creds.server,
      log: silentLogger(),
      onRequest: (req: HboneRequest) => {
        seen.push({ identity: req.peerIdentity, authority: req.authority, headers: req.headers });
        if (req.target.port === 1) return respondError(req.stream, 401);
        const up: Socket = connect(req.target.port, req.target.host);
        up.once('error', () => respondError(req.stream, 503));
        up.once('connect', () => {
          req.stream.respond({ ':status': 200 });
          req.stream.pipe(up).pipe(req.stream);
        });
      },
    });
    hbonePort = await hbone.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => {
    pool.close();
    hbone.close();
    app.close();
  });

  const dest = (over: Partial<HboneDestination> = {}): HboneDestination => ({
    sourceIdentity: 'spiffe://cluster.local/ns/demo/sa/client',
    expectedIdentities: ['spiffe://cluster.local/ns/demo/sa/server'],
    address: '127.0.0.1',
    port: hbonePort,
    sourceAddress: '127.0.0.1',
    credentials: creds.client,
    connectSocket: () => connect(hbonePort, '127.0.0.1'),
    ...over,
  });

  const roundTrip = async (d: HboneDestination, payload: string): Promise<string> => {
    const t = await pool.open(d, `127.0.0.1:${appPort}`, { forwarded: forwardedValue('10.0.0.1', 4242, 'echo.demo.svc.cluster.local'), baggage: baggageValue({ namespace: 'demo', workloadName: 'client' }), traceparent: newTraceparent() });
    return new Promise((resolve, reject) => {
      let got = '';
      t.stream.on('data', (b: Buffer) => {
        got += b.toString();
        if (got.length >= payload.length) {
          t.stream.end();
          resolve(got);
        }
      });
      t.stream.once('error', reject);
      t.stream.write(payload);
    });
  };

  it('tunnels bytes with both identities checked, and pools streams on one connection', async () => {
    const before = pool.connectionsOpened;
    const results = await Promise.all([1, 2, 3].map((i) => roundTrip(dest(), `hello ${i} `.repeat(1000))));
    assert.deepEqual(results, [1, 2, 3].map((i) => `hello ${i} `.repeat(1000)));
    assert.equal(pool.connectionsOpened - before, 1, 'three tunnels, one HBONE connection');
    const last = seen[seen.length - 1]!;
    assert.equal(last.identity, 'spiffe://cluster.local/ns/demo/sa/client');
    assert.equal(last.authority, `127.0.0.1:${appPort}`);
    assert.equal(forwardedHost(last.headers.forwarded as string), 'echo.demo.svc.cluster.local');
    assert.deepEqual(parseBaggage(last.headers.baggage as string), { namespace: 'demo', workloadName: 'client', workloadType: 'deployment' });
    assert.match(String(last.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('answers 401 and 503 as statuses, and refuses a destination with the wrong identity', async () => {
    await assert.rejects(pool.open(dest(), '127.0.0.1:1', {}), (e: HboneError) => e.status === 401 && e.flag === 'REFUSED');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    closed.close();
    await assert.rejects(pool.open(dest(), `127.0.0.1:${port}`, {}), (e: HboneError) => e.status === 503);
    await assert.rejects(pool.open(dest({ expectedIdentities: ['spiffe://cluster.local/ns/demo/sa/other'] }), `127.0.0.1:${appPort}`, {}), (e: HboneError) => e.flag === 'IDENTITY_ERROR');
  });

  it('refuses a client without a mesh certificate, and anything but CONNECT', async () => {
    await assert.rejects(pool.open(dest({ credentials: creds.stranger, sourceIdentity: 'x' }), `127.0.0.1:${appPort}`, {}), (e: HboneError) => e.flag === 'TLS_FAILURE' || e.flag === 'CONNECT');
    const plain = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: hbonePort, ca: creds.client.rootCertPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      s.once('error', (e) => resolve(e.message));
      s.once('secureConnect', () => s.write('x'));
      s.once('close', () => resolve('closed'));
    });
    assert.ok(plain.length > 0, 'a TLS client without a certificate is cut');
    const session = h2connect(`https://127.0.0.1:${hbonePort}`, { cert: creds.client.certChainPem, key: creds.client.privateKeyPem, ca: creds.client.rootCertPem, checkServerIdentity: () => undefined });
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': '/' });
      req.once('response', (h) => resolve(Number(h[':status'])));
      req.once('error', reject);
      req.end();
    });
    session.close();
    assert.equal(status, 400);
  });
});
