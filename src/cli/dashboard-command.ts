import type { Command } from 'commander';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { ControlClient } from '../runtime/control-client.ts';
import type { MeshStatus } from '../runtime/local-mesh.ts';
import { stateDirFrom } from '../runtime/runtime-config.ts';
import type { CliContext } from './cli-context.ts';

/** Does the dashboard serve Zipkin (the mesh runs a `zipkin` Service with a ready pod)? */
async function servesZipkin(dashboard: string): Promise<boolean> {
  const r = await fetch(new URL('zipkin/api/v2/services', dashboard), { signal: AbortSignal.timeout(10_000) });
  await r.arrayBuffer();
  return r.ok;
}

/**
 * `mizzen dashboard [graph|prometheus|zipkin]`: the URL of the running mesh's service graph (the
 * local web UI that `mizzen up` serves, Kiali's job), of an addon, or of Zipkin's UI through the
 * dashboard when the mesh runs Zipkin, like `istioctl dashboard kiali|prometheus|zipkin` prints
 * where it forwarded.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description("print the URL of the local mesh's web UI (service graph), of an addon (`mizzen dashboard prometheus`), or of Zipkin's UI (`mizzen dashboard zipkin`)")
    .argument('[name]', 'graph (default, also kiali), zipkin, or an addon started with `mizzen up --addons`', 'graph')
    .option('--state-dir <dir>', 'state directory (default .mizzen in the current directory)')
    .action(async (name: string, flags: { stateDir?: string }) => {
      try {
        const stateDir = stateDirFrom(flags.stateDir, ctx.cwd);
        const status = await new ControlClient(stateDir).get<MeshStatus>('/status');
        const dashboard = status.dashboard;
        if (name === 'graph' || name === 'kiali' || name === 'zipkin') {
          if (!dashboard) throw new MizzenError('USAGE', 'this mesh runs without its dashboard (it was started with --dashboard-port none)');
          if (name === 'zipkin' && !(await servesZipkin(dashboard))) {
            throw new MizzenError('USAGE', 'no Zipkin in this mesh', { hint: 'run Zipkin as a Service named zipkin with port 9411 (e.g. istio-system/zipkin, as Istio\'s samples/addons/extras/zipkin.yaml)' });
          }
          ctx.stdout(`${name === 'zipkin' ? new URL('zipkin/', dashboard).href : dashboard}\n`);
          return;
        }
        const url = status.addons?.[name];
        if (!url) {
          const running = Object.keys(status.addons ?? {});
          throw new MizzenError('USAGE', `no ${name} addon in this mesh${running.length > 0 ? ` (running: ${running.join(', ')})` : ''}`, { hint: `start the mesh with \`mizzen up --addons ${name} DIR\`` });
        }
        ctx.stdout(`${url}\n`);
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
