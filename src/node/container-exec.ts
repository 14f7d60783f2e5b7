import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { PseudoTerminal } from '../lib/pseudo-terminal.ts';
import { ChannelStream, STDERR, STDOUT } from './channel-stream.ts';

/** How to run a command inside a running container (from NodePod.execPlan). */
export interface ExecPlan {
  /** `nsenter` into the container's process (mount and network namespaces, working directory), as its user. */
  argv: string[];
  env: Record<string, string>;
}

export interface ExecStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Stop reading the command's output while this much is queued on the WebSocket. */
const HIGH_WATER = 1 << 20;

/**
 * `kubectl exec` over a channel WebSocket: the command runs with pipes for the streams asked for
 * (stdin from channel 0, stdout and stderr to channels 1 and 2); its exit code goes on the error
 * channel once its output is sent. The WebSocket closing (client gone) kills the command. With
 * `tty` it runs on a pseudo-terminal of its own (its controlling terminal, sized by the resize
 * channel), stdout carrying everything, as a container runtime does for `kubectl exec -it`.
 */
export function runExec(ws: ConstructorParameters<typeof ChannelStream>[0], plan: ExecPlan, streams: ExecStreams, log: Logger): void {
  if (streams.tty) return runOnTerminal(ws, plan, log);
  const [cmd, ...args] = plan.argv as [string, ...string[]];
  const child = spawn(cmd, args, { env: plan.env, stdio: [streams.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
  let finished = false;
  const kill = (): void => {
    if (finished || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  const channels = new ChannelStream(ws, {
    stdin: (b) => child.stdin?.write(b),
    stdinEnd: () => child.stdin?.end(),
    closed: kill,
  });
  child.stdin?.on('error', () => undefined);
  const pump = (from: NodeJS.ReadableStream | null, channel: number, wanted: boolean): void => {
    from?.on('data', (b: Buffer) => {
      if (!wanted) return;
      channels.send(channel, b);
      if (channels.buffered > HIGH_WATER) {
        from.pause();
        const wait = setInterval(() => {
          if (channels.buffered < HIGH_WATER / 2 || !channels.isOpen) {
            clearInterval(wait);
            from.resume();
          }
        }, 20);
      }
    });
  };
  pump(child.stdout, STDOUT, streams.stdout);
  pump(child.stderr, STDERR, streams.stderr);
  child.once('error', (err) => {
    finished = true;
    channels.finish({ error: `cannot run ${args.at(-1) ?? cmd}: ${err.message}` });
  });
  child.once('close', (code, signal) => {
    finished = true;
    const exitCode = code ?? (signal ? 128 + (signalNumbers[signal] ?? 1) : 1);
    log.debug({ argv: plan.argv.slice(-3), exitCode }, 'exec finished');
    channels.finish({ exitCode });
  });
}

function runOnTerminal(ws: ConstructorParameters<typeof ChannelStream>[0], plan: ExecPlan, log: Logger): void {
  let pty: PseudoTerminal;
  let terminal: number;
  try {
    pty = PseudoTerminal.open();
    terminal = pty.openTerminal();
  } catch (err) {
    new ChannelStream(ws, { closed: () => undefined }).finish({ error: `cannot open a terminal: ${errorMessage(err)}` });
    return;
  }
  // setsid -c: a session of its own with the terminal as controlling terminal (job control, ^C).
  let child: ChildProcess;
  try {
    child = spawn('setsid', ['-c', ...plan.argv], { env: { TERM: 'xterm', ...plan.env }, stdio: [terminal, terminal, terminal] });
  } finally {
    closeSync(terminal);
  }
  const controller = new ReadStream(pty.controller);
  let exitCode: number | undefined;
  let drained = false;
  let finished = false;
  const finish = (): void => {
    if (finished || exitCode === undefined || !drained) return;
    finished = true;
    controller.destroy();
    channels.finish({ exitCode });
  };
  const channels = new ChannelStream(ws, {
    stdin: (b) => controller.write(b),
    // End of input on a terminal is its EOF character, as a typed ^D.
    stdinEnd: () => controller.write(Buffer.from([4])),
    resize: ({ width, height }) => {
      try {
        pty.resize(width, height);
      } catch (err) {
        log.debug({ err: errorMessage(err) }, 'terminal resize failed');
      }
    },
    closed: () => {
      if (exitCode === undefined && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGHUP');
        } catch {
          // gone already
        }
      }
      controller.destroy();
    },
  });
  controller.on('data', (b: Buffer) => channels.send(STDOUT, b));
  // The last process holding the terminal side exited: reading the controller fails with EIO.
  const drainedNow = (): void => {
    drained = true;
    finish();
  };
  controller.on('error', drainedNow).on('end', drainedNow).on('close', drainedNow);
  child.once('error', (err) => {
    exitCode = 126;
    drained = true;
    channels.finish({ error: `cannot run ${plan.argv.at(-1)}: ${err.message}` });
    finished = true;
    controller.destroy();
  });
  child.once('exit', (code, signal) => {
    exitCode = code ?? (signal ? 128 + (signalNumbers[signal] ?? 1) : 1);
    log.debug({ argv: plan.argv.slice(-3), exitCode }, 'exec on a terminal finished');
    finish();
  });
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
