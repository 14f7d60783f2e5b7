import type { Command } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { Discovery } from '../control/discovery.ts';
import { systemClock } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogFactory } from '../lib/log.ts';
import type { CliContext } from './cli-context.ts';
import { discoveryConfig, type DiscoveryFlags } from './discovery-config.ts';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `mizzen discovery`: the control plane (like istiod). Runs until SIGTERM/SIGINT. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('discovery')
    .description('run the control plane: Istio config → Envoy xDS over gRPC ADS (15010, 15012 with --ca-dir), CA, debug/metrics (15014)')
    .option('--config <dir>', 'directory (watched recursively) or file of Istio YAML/JSON; repeatable', collect)
    .option('--ca-dir <dir>', 'run the CA with its root/keys in this directory (created on first start) and serve TLS xDS on --secure-grpc-addr')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('--grpc-addr <addr>', 'plaintext xDS + CA listen address', ':15010')
    .option('--secure-grpc-addr <addr>', 'TLS xDS + CA listen address (with --ca-dir)', ':15012')
    .option('--http-addr <addr>', 'debug/metrics HTTP listen address (/metrics, /ready, /debug/...)', ':15014')
    .option('--http-socket <path>', 'also serve the debug HTTP endpoints on this Unix socket')
    .option('--serving-host <host>', 'extra SAN for the 15012 serving certificate; repeatable', collect)
    .option('--kube', 'read config from the Kubernetes API server (in-cluster credentials in a pod, else $KUBECONFIG or ~/.kube/config); serve the webhooks')
    .option('--kubeconfig <file>', 'kubeconfig of the API server (implies --kube)')
    .option('--webhook-addr <addr>', 'injection and validation webhooks (HTTPS) listen address, with --kube', ':15017')
    .option('--revision <rev>', 'Istio revision this control plane serves (env REVISION; default "default")')
    .addHelpText('after', '\nEnvironment: PILOT_DEBOUNCE_AFTER (100ms), PILOT_DEBOUNCE_MAX (10s), PILOT_PUSH_THROTTLE (100), MIZZEN_LOG (e.g. info,xds=debug);\nwith --kube: POD_NAME (lease identity), POD_NAMESPACE (istio-system), REVISION, MIZZEN_LEASE_DURATION (30s)\n')
    .action(async (flags: DiscoveryFlags) => {
      // Count external memory (Buffers, socket reads) in V8's global heap limit instead of starting
      // a full collection every 64 MB of it: every Envoy ACK of an endpoint push repeats its 40 KB
      // of EDS names, so a push to 10,000 proxies reads 400 MB that die young, and each of those
      // full collections walks the whole heap (BENCHMARKS.md, control plane, session 5). A V8
      // heuristic, not a semantic flag: a Node without it reports the unknown flag on stderr and runs as before.
      setFlagsFromString('--external-memory-accounted-in-global-limit');
      let discovery: Discovery | undefined;
      let stop: (() => void) | undefined;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const onSignal = (): void => stop?.();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        const c = discoveryConfig(flags, ctx.env);
        const logs = createLogFactory({ levels: c.logLevels });
        // @kubernetes/client-node is loaded only in Kubernetes mode.
        const kubeApi = c.kube ? await import('../lib/kube/kube-api.ts').then((m) => new m.KubeApi(m.loadKubeConfig(c.kube!.config))) : undefined;
        discovery = new Discovery({
          configPaths: c.configPaths,
          ...(c.caDir !== undefined ? { caDir: c.caDir } : {}),
          trustDomain: c.trustDomain,
          grpcAddr: c.grpcAddr,
          secureGrpcAddr: c.secureGrpcAddr,
          httpAddr: c.httpAddr,
          ...(c.httpSocket !== undefined ? { httpSocket: c.httpSocket } : {}),
          servingHosts: c.servingHosts,
          debounceAfterMs: c.debounceAfterMs,
          debounceMaxMs: c.debounceMaxMs,
          pushConcurrency: c.pushConcurrency,
          trustedNodeAccounts: c.trustedNodeAccounts,
          tlsOnSidecarIngress: c.tlsOnSidecarIngress,
          clock: systemClock,
          logs,
          ...(c.kube && kubeApi
            ? {
                kube: {
                  api: kubeApi,
                  systemNamespace: c.kube.systemNamespace,
                  revision: c.kube.revision,
                  ...(c.kube.identity ? { identity: c.kube.identity } : {}),
                  leaseDurationMs: c.kube.leaseDurationMs,
                  webhookHost: c.kube.webhookHost,
                  webhookPort: c.kube.webhookPort,
                },
              }
            : {}),
        });
        // SIGTERM while still starting (e.g. waiting for an unreachable API server) stops too.
        const addrs = await Promise.race([discovery.start(), stopped.then(() => undefined)]);
        if (!addrs) return;
        ctx.stdout(`mizzen discovery: xDS ${addrs.grpc}${addrs.secureGrpc ? `, xDS+TLS ${addrs.secureGrpc}` : ''}, debug ${addrs.http}${addrs.webhook ? `, webhooks ${addrs.webhook}` : ''}\n`);
        await stopped;
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await discovery?.close();
      }
    });
}
