import { Command, CommanderError } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';

/**
 * Composition root of the CLI: every command lives in its own file under cli/ and registers
 * itself on the program. Commands report their exit status through the context, never by
 * calling process.exit, so tests can run them in process.
 */
type Register = (program: Command, ctx: CliContext) => void;

/** Command (and alias) → the file that registers it; keep sorted. */
const COMMAND_MODULES: Readonly<Record<string, string>> = {
  analyze: './analyze-command.ts',
  apply: './apply-command.ts',
  create: './create-command.ts',
  dashboard: './dashboard-command.ts',
  delete: './delete-command.ts',
  diff: './diff-command.ts',
  discovery: './discovery-command.ts',
  down: './down-command.ts',
  exec: './exec-command.ts',
  get: './get-command.ts',
  'grpc-agent': './grpc-agent-command.ts',
  install: './install-command.ts',
  'istio-iptables': './istio-iptables-command.ts',
  'kube-inject': './kube-inject-command.ts',
  label: './label-command.ts',
  logs: './logs-command.ts',
  node: './node-command.ts',
  pc: './proxy-config-command.ts',
  'port-forward': './port-forward-command.ts',
  proxy: './proxy-command.ts',
  'proxy-config': './proxy-config-command.ts',
  'proxy-status': './proxy-status-command.ts',
  ps: './proxy-status-command.ts',
  rollout: './rollout-command.ts',
  token: './token-command.ts',
  uninstall: './install-command.ts',
  up: './up-command.ts',
  validate: './validate-command.ts',
  waypoint: './waypoint-command.ts',
};

/** Commands whose verbs are subcommands (`rollout restart`, `waypoint apply`). */
const COMMANDS_WITH_SUBCOMMANDS = new Set(['rollout', 'waypoint']);

/** Flags kubectl and istioctl take before the verb (`kubectl -n istio-system get svc`), with their value. */
const GLOBAL_FLAGS_WITH_VALUE = new Set(['-n', '--namespace', '--state-dir', '--kubeconfig', '--context']);

/**
 * Move flags given before the command name behind it, as kubectl's global flags work
 * (`mizzen -n istio-system get svc` is `mizzen get svc -n istio-system`).
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const head = argv.slice(0, 2);
  const moved: string[] = [];
  let i = 2;
  while (i < argv.length && argv[i].startsWith('-') && argv[i] !== '--') {
    const a = argv[i];
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (GLOBAL_FLAGS_WITH_VALUE.has(name)) {
      moved.push(a);
      if (!a.includes('=') && i + 1 < argv.length) moved.push(argv[++i]);
      i++;
    } else if (a === '-A' || a === '--all-namespaces') {
      moved.push(a);
      i++;
    } else break;
  }
  if (moved.length === 0 || i >= argv.length) return [...argv];
  // `mizzen -n ns rollout restart deploy/x`: the flags belong to the subcommand.
  const verb = COMMANDS_WITH_SUBCOMMANDS.has(argv[i]) && i + 1 < argv.length && !argv[i + 1].startsWith('-') ? 2 : 1;
  return [...head, ...argv.slice(i, i + verb), ...moved, ...argv.slice(i + verb)];
}

/**
 * Load only the module of the command being run (a proxy does not load the control plane, and a
 * broken command cannot break the others); help and unknown commands load them all.
 */
async function loadCommands(argv: readonly string[]): Promise<Register[]> {
  const invoked = COMMAND_MODULES[argv[2] ?? ''];
  const modules = invoked ? [invoked] : [...new Set(Object.values(COMMAND_MODULES))];
  const loaded: Register[] = [];
  for (const m of modules) {
    const mod = (await import(m)) as { register: Register };
    loaded.push(mod.register);
  }
  return loaded;
}

export async function main(givenArgv: string[], io: Partial<Pick<CliContext, 'stdout' | 'stderr'>> = {}): Promise<number> {
  const argv = hoistGlobalFlags(givenArgv);
  const ctx: CliContext = {
    exitCode: 0,
    stdout: io.stdout ?? ((s: string) => void process.stdout.write(s)),
    stderr: io.stderr ?? ((s: string) => void process.stderr.write(s)),
    env: process.env,
    cwd: process.cwd(),
  };
  const program = new Command('mizzen')
    .description('Mizzen: a service mesh that speaks Istio config and Envoy xDS')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr })
    .showHelpAfterError();
  for (const register of await loadCommands(argv)) register(program, ctx);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    ctx.stderr(`error: ${errorMessage(err)}\n`);
    return 1;
  }
  return ctx.exitCode;
}
