import net from 'node:net';
import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { openClusterAccess, type ClusterAccess, type KubeObject } from './cluster-access.ts';
import { parseLabelSelector } from './label-selector.ts';
import { resolveKind } from './resource-args.ts';

/** `[LOCAL:]REMOTE` (kubectl: `8080:80`, `:80` for a random local port, `80`). */
export function parsePortPair(text: string): { local: number; remote: string } {
  const both = /^(\d*):([\w-]+)$/.exec(text);
  if (both) return { local: both[1] === '' ? 0 : Number(both[1]), remote: both[2] };
  if (/^\d+$/.test(text)) return { local: Number(text), remote: text };
  if (/^[a-z][\w-]*$/.test(text)) return { local: 0, remote: text };
  throw new MizzenError('USAGE', `invalid port ${JSON.stringify(text)}: use LOCAL:REMOTE, e.g. 8080:80`);
}

/** The pod a `pod/x`, `svc/x` or `deploy/x` target forwards to, and the pod port a REMOTE port maps to. */
async function resolveTarget(access: ClusterAccess, namespace: string, target: string, remote: string): Promise<{ pod: KubeObject; port: number }> {
  const slash = target.indexOf('/');
  const kind = resolveKind(slash < 0 ? 'pod' : target.slice(0, slash));
  const name = slash < 0 ? target : target.slice(slash + 1);
  const pods = await access.list(resolveKind('pods'), namespace);
  const ready = (p: KubeObject): boolean => (p.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');
  const podPort = (pod: KubeObject, port: string): number | undefined => {
    if (/^\d+$/.test(port)) return Number(port);
    for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === port) return Number(p.containerPort);
    return undefined;
  };
  let candidates: KubeObject[];
  let targetPort = remote;
  if (kind.kind === 'Pod') {
    candidates = pods.filter((p) => p.metadata?.name === name);
    if (candidates.length === 0) throw new MizzenError('USAGE', `pods "${name}" not found`);
  } else if (kind.kind === 'Service') {
    const svc = (await access.list(kind, namespace)).find((s) => s.metadata?.name === name);
    if (!svc) throw new MizzenError('USAGE', `services "${name}" not found`);
    const sp = (svc.spec?.ports ?? []).find((p: KubeObject) => String(p.port) === remote || p.name === remote);
    if (!sp) throw new MizzenError('USAGE', `Service ${namespace}/${name} does not have a service port ${remote}`);
    targetPort = String(sp.targetPort ?? sp.port);
    const selector = svc.spec?.selector as Record<string, string> | undefined;
    if (!selector || Object.keys(selector).length === 0) throw new MizzenError('USAGE', `service ${name} has no selector`);
    candidates = pods.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v));
  } else if (kind.kind === 'Deployment') {
    const d = (await access.list(kind, namespace)).find((x) => x.metadata?.name === name);
    if (!d) throw new MizzenError('USAGE', `deployments.apps "${name}" not found`);
    const sel = Object.entries((d.spec?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
    const match = parseLabelSelector(sel);
    candidates = pods.filter((p) => match(p.metadata?.labels));
  } else throw new MizzenError('USAGE', `cannot port-forward to a ${kind.kind}: use pod/NAME, svc/NAME or deploy/NAME`);
  const pod = candidates.find(ready) ?? candidates[0];
  if (!pod) throw new MizzenError('USAGE', `no pods found for ${target}`);
  const port = podPort(pod, targetPort);
  if (port === undefined) throw new MizzenError('USAGE', `pod ${pod.metadata?.name} has no port named ${targetPort}`);
  return { pod, port };
}

/**
 * `mizzen port-forward [-n NS] svc/NAME|pod/NAME|deploy/NAME [LOCAL:]REMOTE...`: listen on
 * 127.0.0.1 and forward each connection to one pod of the target, as kubectl port-forward
 * does (it enters the pod's network: the pod's sidecar is bypassed, so mTLS and authorization
 * policies do not apply to this traffic; test those through the ingress gateway). Runs until
 * Ctrl-C.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('port-forward')
    .description('forward local ports to a pod of the local mesh (kubectl port-forward); bypasses the pod\'s sidecar like kubectl does')
    .argument('<target>', 'pod/NAME, svc/NAME or deploy/NAME')
    .argument('<ports...>', '[LOCAL:]REMOTE, e.g. 8080:9080')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('--address <addr>', 'local address to listen on', '127.0.0.1')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (target: string, ports: string[], flags: { namespace?: string; address: string; stateDir?: string }) => {
      const servers: net.Server[] = [];
      const sockets = new Set<net.Socket | import('node:stream').Duplex>();
      try {
        const access = openClusterAccess(flags, ctx.cwd);
        const ns = flags.namespace ?? 'default';
        for (const spec of ports.map(parsePortPair)) {
          const { pod, port } = await resolveTarget(access, ns, target, spec.remote);
          const server = net.createServer((client) => {
            sockets.add(client);
            client.on('close', () => sockets.delete(client));
            client.on('error', () => {});
            client.pause();
            ctx.stdout(`Handling connection for ${(server.address() as net.AddressInfo).port}\n`);
            access.dialPod(pod, port).then(
              (upstream) => {
                sockets.add(upstream);
                upstream.on('error', () => client.destroy());
                upstream.on('close', () => {
                  sockets.delete(upstream);
                  client.destroy();
                });
                client.on('close', () => upstream.destroy());
                upstream.pipe(client);
                client.pipe(upstream);
                client.resume();
              },
              (err: Error) => {
                ctx.stderr(`E0000 an error occurred forwarding ${spec.local} -> ${port}: ${errorMessage(err)}\n`);
                client.destroy();
              },
            );
          });
          await new Promise<void>((resolve, reject) => {
            server.once('error', (err: NodeJS.ErrnoException) => reject(new MizzenError('USAGE', `unable to listen on port ${spec.local}: ${err.message}`)));
            server.listen({ host: flags.address, port: spec.local }, () => resolve());
          });
          servers.push(server);
          ctx.stdout(`Forwarding from ${flags.address}:${(server.address() as net.AddressInfo).port} -> ${port}\n`);
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      } finally {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      }
    });
}
