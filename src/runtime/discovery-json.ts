import http from 'node:http';

/** GET a JSON document from discovery's debug server on its Unix socket (the state dir's discovery.sock). */
export function discoveryJson(socketPath: string, path: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('discovery did not answer')));
    req.on('error', reject);
  });
}
