import type { Command } from 'commander';
import { registerChangeCommand } from './apply-command.ts';
import type { CliContext } from './cli-context.ts';

/** `mizzen delete -f FILE|DIR`: remove resources from the running local mesh. */
export function register(program: Command, ctx: CliContext): void {
  registerChangeCommand(program, ctx, 'delete');
}
