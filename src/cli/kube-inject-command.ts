import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { injectManifests } from '../kube/inject/inject-manifests.ts';
import { defaultInjectionSettings, settingsFromValues } from '../kube/inject/injection-settings.ts';
import type { CliContext } from './cli-context.ts';

interface Flags {
  filename: string;
  revision: string;
  image?: string;
  injectValues?: string;
  output?: string;
}

/** `mizzen kube-inject -f FILE`: what the injection webhook would return, offline (istioctl kube-inject). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('kube-inject')
    .description('inject istio-init and istio-proxy into the pods and pod templates of a manifest (as the webhook does), printing the result')
    .requiredOption('-f, --filename <file>', 'manifest (YAML, multi-document); - for stdin')
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--revision <rev>', 'control-plane revision (discovery address istiod-REV)', 'default')
    .option('--image <image>', 'proxy image (default: the install default)')
    .option('--inject-values <file>', 'the `values` JSON of an istio-sidecar-injector ConfigMap (hub/tag/proxy image, resources)')
    .action((f: Flags) => {
      let text: string;
      try {
        text = readFileSync(f.filename === '-' ? 0 : f.filename, 'utf8');
      } catch (err) {
        ctx.stderr(`error: cannot read ${f.filename}: ${(err as Error).message}\n`);
        ctx.exitCode = 1;
        return;
      }
      let settings = defaultInjectionSettings({ revision: f.revision });
      if (f.injectValues) {
        const r = settingsFromValues(readFileSync(f.injectValues, 'utf8'), settings);
        if (r.error) {
          ctx.stderr(`error: ${f.injectValues}: ${r.error}\n`);
          ctx.exitCode = 1;
          return;
        }
        settings = r.settings;
      }
      if (f.image) settings = { ...settings, image: f.image };
      const { output, errors } = injectManifests(text, settings, f.filename);
      for (const e of errors) ctx.stderr(`error: ${e}\n`);
      if (f.output) writeFileSync(f.output, output);
      else ctx.stdout(output);
      if (errors.length > 0) ctx.exitCode = 1;
    });
}

