// A stand-in for a web site outside the mesh (e.g. edition.cnn.com in Istio's egress tasks), run
// as a process of a pod that has no sidecar: HTTP on --http and HTTPS on --https (certificate and
// key from --cert/--key). Like the real site, plain HTTP answers `/politics` with a 301 to the
// HTTPS URL; HTTPS answers 200. Every request is logged to stdout as
// `SCHEME METHOD PATH host=HOST from=ADDRESS`, so a test can tell which path reached it.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

const name = flag('name', 'edition.cnn.com');
const handler = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
  const host = req.headers.host ?? '';
  process.stdout.write(`${scheme} ${req.method} ${req.url} host=${host} from=${req.socket.remoteAddress?.replace(/^::ffff:/, '')}\n`);
  if (scheme === 'http' && req.url?.startsWith('/politics')) {
    res.writeHead(301, { location: `https://${name}${req.url}`, 'content-type': 'text/plain' });
    res.end('moved\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-served-over': scheme });
  res.end(`${scheme} ${name} ${req.url}\n`);
};

http.createServer(handler('http')).listen(Number(flag('http', '80')), () => process.stdout.write(`http on ${flag('http', '80')}\n`));
const cert = flag('cert', '');
if (cert) {
  https.createServer({ cert: readFileSync(cert), key: readFileSync(flag('key', '')) }, handler('https')).listen(Number(flag('https', '443')), () => process.stdout.write(`https on ${flag('https', '443')}\n`));
}
