import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../lib/clock.ts';
import { errorMessage } from '../lib/errors.ts';
import { KubeApi, loadKubeConfig } from '../lib/kube/kube-api.ts';
import { createLogFactory } from '../lib/log.ts';
import { KubeNode } from '../node/kube-node.ts';
import { requireHostTools, requireRootLinux } from '../runtime/runtime-config.ts';
import { refreshStripCache } from './strip-cache-refresh.ts';
import type { CliContext } from './cli-context.ts';
import { nodeConfig, type NodeFlags } from './node-config.ts';

const CLI_ENTRY = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));

/** `mizzen node`: a kubelet for a real API server, running its pods as network-namespace pods. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('node')
    .description('join a Kubernetes cluster as a node: run the pods bound to it as network-namespace pods (needs root and Linux)')
    .option('--kubeconfig <file>', 'kubeconfig of the API server (default $KUBECONFIG or ~/.kube/config)')
    .option('--name <name>', 'node name (default: the host name)')
    .option('--state-dir <dir>', 'state directory (default .mizzen/nodes/NAME)')
    .option('--workdir <dir>', 'where relative container commands start when a container sets no workingDir (default: the current directory)')
    .option('--pod-cidr <cidr>', "the node's pod CIDR when the cluster allocates none (kube-controller-manager --allocate-node-cidrs)")
    .option('--cluster-cidr <cidr>', "hold an unreachable guard route for the cluster's pod CIDR while running")
    .option('--node-labels <k=v,...>', 'extra Node labels (e.g. topology.kubernetes.io/zone=z1)')
    .option('--kubelet-port <port>', "the kubelet API's port (kubectl logs/exec through the API server)", '10250')
    .action(async (flags: NodeFlags) => {
      let node: KubeNode | undefined;
      let stop: () => void = () => {};
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      process.once('SIGINT', () => stop());
      process.once('SIGTERM', () => stop());
      try {
        requireRootLinux('node');
        requireHostTools(ctx.env.PATH ? `${ctx.env.PATH}:/usr/sbin:/sbin` : undefined, existsSync);
        const c = nodeConfig(flags, ctx.env, ctx.cwd);
        const logs = createLogFactory({ levels: c.logLevels });
        const failed = refreshStripCache(CLI_ENTRY);
        if (failed) logs.component('node').warn({ err: failed }, 'could not refresh the type-stripped code cache: proxies will strip TypeScript at start (more memory each)');
        node = new KubeNode({
          api: new KubeApi(loadKubeConfig(c.kubeconfig)),
          name: c.name,
          stateDir: c.stateDir,
          nodeBinary: process.execPath,
          cliEntry: CLI_ENTRY,
          workdir: c.workdir,
          baseEnv: c.baseEnv,
          labels: c.labels,
          ...(c.podCidr ? { podCidr: c.podCidr } : {}),
          ...(c.clusterCidr ? { clusterCidr: c.clusterCidr } : {}),
          kubeletPort: c.kubeletPort,
          clock: systemClock,
          log: logs.component('node'),
        });
        await Promise.race([node.start(), stopped]);
        ctx.stdout(`node ${c.name} is running (state in ${c.stateDir}); Ctrl-C stops it\n`);
        await stopped;
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      } finally {
        await node?.close().catch((err: unknown) => ctx.stderr(`error: ${errorMessage(err)}\n`));
      }
    });
}
