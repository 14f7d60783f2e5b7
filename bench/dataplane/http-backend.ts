/**
 * The benchmark's upstream: a plain node:http server answering every request with a 1 KB body
 * (the same backend in every mode, so it cancels out of the differences). argv: PORT [HOST]
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8080);
const host = process.argv[3] ?? '0.0.0.0';
const payload = Buffer.alloc(1024, 'y');
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': payload.length });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, host, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
