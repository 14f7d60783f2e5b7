import { Command, CommanderError } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';

/**
 * Composition root of the CLI: every command lives in its own file under cli/ and registers
 * itself on the program. Commands report their exit status through the context, never by
 * calling process.exit, so tests can run them in process.
 */
type Register = (program: Command, ctx: CliContext) => void;

async function loadCommands(): Promise<Register[]> {
  // Each entry is one command file; keep the list sorted.
  const modules = [
    './analyze-command.ts',
    './apply-command.ts',
    './delete-command.ts',
    './discovery-command.ts',
    './down-command.ts',
    './exec-command.ts',
    './get-command.ts',
    './logs-command.ts',
    './proxy-command.ts',
    './proxy-config-command.ts',
    './proxy-status-command.ts',
    './token-command.ts',
    './up-command.ts',
    './validate-command.ts',
  ];
  const loaded: Register[] = [];
  for (const m of modules) {
    const mod = (await import(m)) as { register: Register };
    loaded.push(mod.register);
  }
  return loaded;
}

export async function main(argv: string[], io: Partial<Pick<CliContext, 'stdout' | 'stderr'>> = {}): Promise<number> {
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
  for (const register of await loadCommands()) register(program, ctx);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    ctx.stderr(`error: ${errorMessage(err)}\n`);
    return 1;
  }
  return ctx.exitCode;
}
