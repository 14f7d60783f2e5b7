import { homedir, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MizzenError } from '../lib/errors.ts';
import type { KubeConfigSource } from '../lib/kube/kube-api.ts';
import { baseProcessEnv } from '../runtime/runtime-config.ts';

export interface NodeFlags {
  kubeconfig?: string;
  name?: string;
  stateDir?: string;
  workdir?: string;
  podCidr?: string;
  clusterCidr?: string;
  nodeLabels?: string;
  kubeletPort: string;
}

/**
 * What `mizzen node` runs with, from its flags and the environment (the only place the node
 * reads it: KUBECONFIG, HOME, PATH, LANG, MIZZEN_LOG).
 */
export function nodeConfig(flags: NodeFlags, env: NodeJS.ProcessEnv, cwd: string) {
  const fromEnv = env.KUBECONFIG?.split(':').find((x) => x !== '');
  const kubeconfig: KubeConfigSource = { file: flags.kubeconfig ?? fromEnv ?? join(env.HOME ?? homedir(), '.kube', 'config') };
  const name = (flags.name ?? hostname()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new MizzenError('USAGE', `--name ${name} must be a DNS subdomain (lowercase letters, digits, '-', '.')`);
  const port = Number(flags.kubeletPort);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new MizzenError('USAGE', `--kubelet-port ${flags.kubeletPort} is not a port`);
  const labels: Record<string, string> = {};
  for (const kv of (flags.nodeLabels ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new MizzenError('USAGE', `--node-labels ${kv}: expected KEY=VALUE`);
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const base = baseProcessEnv(env);
  // `node` in containers is the Node that runs Mizzen; put it first on PATH too.
  base.PATH = `${dirname(process.execPath)}:${base.PATH}`;
  return Object.freeze({
    kubeconfig,
    name,
    stateDir: resolve(cwd, flags.stateDir ?? join('.mizzen', 'nodes', name)),
    workdir: resolve(cwd, flags.workdir ?? '.'),
    podCidr: flags.podCidr,
    clusterCidr: flags.clusterCidr,
    labels,
    kubeletPort: port,
    baseEnv: base,
    logLevels: env.MIZZEN_LOG,
  });
}
