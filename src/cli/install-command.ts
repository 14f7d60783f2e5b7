import type { Command } from 'commander';
import { stringify } from 'yaml';
import { applyObject, deleteObject } from '../kube/install/kube-applier.ts';
import { DEFAULT_INSTALL, installManifest, istioCrdText, type InstallOptions } from '../kube/install/install-manifest.ts';
import { errorMessage } from '../lib/errors.ts';
import { KubeApi, loadKubeConfig, type KubeConfigSource } from '../lib/kube/kube-api.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from './cli-context.ts';

interface Flags {
  revision: string;
  dryRun?: boolean;
  output?: string;
  kubeconfig?: string;
  image: string;
  replicas: string;
  namespace: string;
  purge?: boolean;
}

/** The only place install/uninstall read the environment (KUBECONFIG, HOME). */
function kubeSource(f: Flags, env: NodeJS.ProcessEnv): KubeConfigSource {
  if (f.kubeconfig) return { file: f.kubeconfig };
  const fromEnv = env.KUBECONFIG?.split(':').find((x) => x !== '');
  return { file: fromEnv ?? join(env.HOME ?? homedir(), '.kube', 'config') };
}

function options(f: Flags, crds: boolean): InstallOptions {
  const replicas = Number(f.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas ${f.replicas} must be a positive integer`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(f.revision)) throw new Error(`--revision ${f.revision} must be a DNS label (lowercase letters, digits, -)`);
  return { ...DEFAULT_INSTALL, revision: f.revision, image: f.image, replicas, namespace: f.namespace, crds };
}

const common = (c: Command): Command =>
  c
    .option('--revision <rev>', 'control-plane revision (canary upgrades: namespaces labelled istio.io/rev=REV)', 'default')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default $KUBECONFIG or ~/.kube/config)')
    .option('-n, --namespace <ns>', 'control-plane namespace', 'istio-system')
    .option('--image <image>', 'the mizzen image (discovery and proxies)', DEFAULT_INSTALL.image)
    .option('--replicas <n>', 'discovery replicas', String(DEFAULT_INSTALL.replicas));

/** `mizzen install` / `mizzen uninstall`: istiod's install on a Kubernetes cluster. */
export function register(program: Command, ctx: CliContext): void {
  common(program.command('install'))
    .description("install Mizzen's control plane into a Kubernetes cluster (CRDs, RBAC, Deployment, Service, webhooks, ConfigMaps)")
    .option('--dry-run', 'print what would be applied instead of applying it')
    .option('-o, --output <format>', 'with --dry-run: yaml (default) or json')
    .action(async (f: Flags) => {
      try {
        if (f.dryRun && f.output !== 'json') {
          // The CRDs as shipped (already YAML), then the rest.
          const crds = istioCrdText();
          ctx.stdout(`${crds}${crds.endsWith('\n') ? '' : '\n'}---\n${installManifest(options(f, false)).map((o) => stringify(o, { lineWidth: 0 })).join('---\n')}`);
          return;
        }
        const objects = installManifest(options(f, true));
        if (f.dryRun) return void ctx.stdout(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`);
        const api = new KubeApi(loadKubeConfig(kubeSource(f, ctx.env)));
        for (const o of objects) {
          await applyObject(api, o);
          ctx.stdout(`${String(o.kind).toLowerCase()}/${o.metadata.name} applied\n`);
        }
        ctx.stdout(`Mizzen installed (revision ${f.revision}); label a namespace ${f.revision === 'default' ? 'istio-injection=enabled' : `istio.io/rev=${f.revision}`} to inject its pods\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
  common(program.command('uninstall'))
    .description('remove what mizzen install applied for a revision (Istio CRDs and the namespace stay unless --purge)')
    .option('--purge', "also remove Istio's CRDs (and every Istio object with them) and the namespace")
    .action(async (f: Flags) => {
      try {
        const api = new KubeApi(loadKubeConfig(kubeSource(f, ctx.env)));
        const objects = installManifest(options(f, f.purge === true))
          .filter((o) => f.purge || o.kind !== 'Namespace')
          .reverse();
        for (const o of objects) {
          if (await deleteObject(api, o)) ctx.stdout(`${String(o.kind).toLowerCase()}/${o.metadata.name} deleted\n`);
        }
        for (const name of ['istio-ca-secret']) {
          if (f.purge && (await deleteObject(api, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: f.namespace } }))) ctx.stdout(`secret/${name} deleted\n`);
        }
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
