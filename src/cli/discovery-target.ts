import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { MizzenError } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import { defaultDiscoveryAddress } from './discovery-debug-client.ts';

/** The flags that say where discovery is (istioctl's names for the Kubernetes ones). */
export interface DiscoveryTargetFlags {
  discoveryAddress?: string;
  kubeconfig?: string;
  context?: string;
  istioNamespace?: string;
  revision?: string;
  stateDir?: string;
}

/** istioctl's flags to reach the control plane through the API server. */
export function addKubeDiscoveryOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'reach discovery through this cluster\'s API server (default: $KUBECONFIG or ~/.kube/config when there is no local mesh)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-i, --istio-namespace <ns>', 'namespace of the discovery pods', 'istio-system')
    .option('--revision <rev>', 'only discovery pods of this revision (label istio.io/rev)');
}

/** Where discovery's debug server is for this command, and how to let go of it afterwards. */
export interface DiscoveryTarget {
  /** HOST:PORT or unix:/path, for fetchDiscoveryJson. */
  address: string;
  /** The pods behind the address when reached through the API server, for messages. */
  via?: string;
  close(): Promise<void>;
}

/**
 * Pick discovery as istioctl users expect: `--discovery-address` as given; else the API server
 * when `--kubeconfig`/`--context` is given; else the local mesh (`mizzen up` here); else the
 * API server of $KUBECONFIG or ~/.kube/config when there is one (istioctl's default); else
 * 127.0.0.1:15014. Through the API server, a local forwarder reaches the discovery pods' debug
 * port (KubeDiscoveryForwarder). This is where the kube side of these commands reads the
 * environment (KUBECONFIG, HOME).
 */
export async function openDiscoveryTarget(flags: DiscoveryTargetFlags, ctx: CliContext): Promise<DiscoveryTarget> {
  const plain = (address: string): DiscoveryTarget => ({ address, close: async () => {} });
  if (flags.discoveryAddress) return plain(flags.discoveryAddress);
  const fromEnv = ctx.env.KUBECONFIG?.split(':').find((f) => f !== '');
  // An `up --kube` state directory: its cluster.
  const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
  const upKube = flags.kubeconfig === undefined && existsSync(join(stateDir, 'kube.json')) && existsSync(join(stateDir, 'kubeconfig')) ? join(stateDir, 'kubeconfig') : undefined;
  const userConfig = flags.kubeconfig ?? upKube ?? fromEnv ?? join(ctx.env.HOME ?? homedir(), '.kube', 'config');
  const explicit = flags.kubeconfig !== undefined || flags.context !== undefined || upKube !== undefined;
  const fileMode = join(stateDir, 'discovery.sock');
  const local = flags.stateDir !== undefined && existsSync(fileMode) ? `unix:${fileMode}` : defaultDiscoveryAddress(ctx.cwd);
  if (!explicit && (local.startsWith('unix:') || !existsSync(userConfig))) return plain(local);
  // @kubernetes/client-node is loaded only when the API server is used.
  const { KubeApi, loadKubeConfig } = await import('../lib/kube/kube-api.ts');
  const { KubeDiscoveryForwarder, listDiscoveryPods } = await import('./kube-discovery-forwarder.ts');
  if (!existsSync(userConfig)) throw new MizzenError('USAGE', `kubeconfig ${userConfig} does not exist`);
  const api = new KubeApi(loadKubeConfig({ file: userConfig, ...(flags.context ? { context: flags.context } : {}) }));
  const namespace = flags.istioNamespace ?? 'istio-system';
  const pods = await listDiscoveryPods(api, { namespace, ...(flags.revision ? { revision: flags.revision } : {}) });
  const forwarder = new KubeDiscoveryForwarder(api, namespace, pods);
  const address = await forwarder.listen();
  return { address, via: forwarder.describe(), close: () => forwarder.close() };
}
