import net from 'node:net';

/**
 * A connection to HOST:PORT inside the mesh, made by the node agent (node-agent-main.ts) from
 * the node namespace: the returned socket is the byte pipe, its "OK" line already read.
 */
export function dialThroughNodeAgent(agentSocket: string, host: string, port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(agentSocket);
    let head = Buffer.alloc(0);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      s.off('data', onData);
      s.off('error', fail);
      s.pause();
      const line = head.subarray(0, nl).toString();
      if (!line.startsWith('OK')) {
        fail(new Error(`cannot connect to ${host}:${port}: ${line.replace(/^ERR /, '')}`));
        return;
      }
      clearTimeout(timer);
      const rest = head.subarray(nl + 1);
      if (rest.length > 0) s.unshift(rest);
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', fail);
    s.once('connect', () => s.write(`${JSON.stringify({ host, port })}\n`));
  });
}
