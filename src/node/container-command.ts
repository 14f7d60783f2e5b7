import { accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

type Obj = Record<string, any>;

/** How a container runs here, or why it cannot (a waiting reason, as the kubelet reports ErrImagePull). */
export type CommandResolution = { argv: string[]; cwd: string; reads: string[] } | { waiting: { reason: string; message: string } };

export interface CommandContext {
  nodeBinary: string;
  /** bin/mizzen.js: the `mizzen` command of Mizzen's image. */
  cliEntry: string;
  /** Where relative paths start when the container sets no workingDir (the node's --workdir). */
  workdir: string;
  /** PATH of the container's environment. */
  path: string;
}

/** The waiting reasons of containers that cannot run here (`kubectl describe pod` shows them). */
export const IMAGE_NOT_RUNNABLE = 'ImageNotRunnable';
export const COMMAND_NOT_FOUND = 'CommandNotFound';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * A container's argv on this machine. `mizzen node` runs commands, not images: `command` +
 * `args` must name a program here (`node` is the Node that runs Mizzen, `mizzen` is Mizzen's
 * own CLI, as in Mizzen's image). A container with neither, or whose program is not on this
 * machine, gets a waiting reason with a message saying what to do.
 */
export function resolveContainerCommand(c: Obj, ctx: CommandContext): CommandResolution {
  const given = [...((c.command ?? []) as string[]), ...((c.args ?? []) as string[])];
  const image = c.image ? ` (image ${c.image})` : '';
  const wd = typeof c.workingDir === 'string' && c.workingDir !== '' ? c.workingDir : undefined;
  const cwd = wd ? (isAbsolute(wd) ? wd : resolve(ctx.workdir, wd)) : ctx.workdir;
  if (given.length === 0) {
    return {
      waiting: {
        reason: IMAGE_NOT_RUNNABLE,
        message: `container ${c.name}${image} has no command: mizzen node runs commands on this machine, not container images; give the container a command (a program on this machine, e.g. command: ["node", "./app.ts"])`,
      },
    };
  }
  const [program, ...rest] = given;
  if (program === 'mizzen') return { argv: [ctx.nodeBinary, ctx.cliEntry, ...rest], cwd: wd ? cwd : '/', reads: [dirname(dirname(ctx.cliEntry))] };
  if (program === 'node') return { argv: [ctx.nodeBinary, ...rest], cwd, reads: [cwd, ...rest.filter((a) => isAbsolute(a)).map((a) => dirname(a))] };
  let found: string | undefined;
  if (program.includes('/')) {
    const file = isAbsolute(program) ? program : resolve(cwd, program);
    if (executable(file)) found = file;
  } else {
    for (const dir of ctx.path.split(':').filter(Boolean)) {
      if (executable(join(dir, program))) {
        found = join(dir, program);
        break;
      }
    }
  }
  if (!found) {
    return {
      waiting: {
        reason: COMMAND_NOT_FOUND,
        message: `container ${c.name}${image}: ${program} is not ${program.includes('/') ? 'an executable file' : 'a program on PATH'} on this machine (mizzen node runs commands here, not container images)`,
      },
    };
  }
  return { argv: [program.includes('/') ? found : program, ...rest], cwd, reads: [cwd, dirname(found), ...rest.filter((a) => isAbsolute(a)).map((a) => dirname(a))] };
}
