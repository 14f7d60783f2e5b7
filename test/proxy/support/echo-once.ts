import * as net from 'node:net';

/** Connect to 127.0.0.1:`port`, send `ping`, resolve with what came back within 2 s ('' on any failure). */
export function echoOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const c = net.connect({ port, host: '127.0.0.1' }, () => c.write('ping'));
    const timer = setTimeout(() => c.destroy(), 2000);
    c.on('data', (d: Buffer) => {
      got += d.toString();
      if (got === 'ping') c.end();
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}
