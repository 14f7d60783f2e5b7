/** Start a benchmark process inside a network namespace and wait for it to print `ready`. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Started {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
  /** The last part of what the process wrote to stderr (for failure reports). */
  stderrTail(): string;
}

/** readyStream: where the process announces readiness (stdout unless given: fortio logs to stderr). */
export function spawnInNetns(ns: string, args: string[], options: { cpu?: string; readyText?: string; readyStream?: 'stdout' | 'stderr'; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
  const argv = ['netns', 'exec', ns, ...args];
  const cmd = options.cpu ? 'taskset' : 'ip';
  const full = options.cpu ? ['-c', options.cpu, 'ip', ...argv] : argv;
  const child = spawn(cmd, full, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  const readyText = options.readyText ?? 'ready';
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} in ${ns} not ready after ${options.timeoutMs ?? 20000} ms: ${err.slice(-500)}`));
    }, options.timeoutMs ?? 20_000);
    child.stderr!.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-4000)));
    const ready = options.readyStream === 'stderr' ? child.stderr! : child.stdout!;
    if (options.readyStream === 'stderr') child.stdout!.resume();
    const onReady = (d: Buffer): void => {
      out += d.toString();
      if (out.includes(readyText)) {
        clearTimeout(timer);
        ready.removeListener('data', onReady);
        if (ready === child.stdout) child.stdout!.resume();
        resolve({
          child,
          pid: child.pid!,
          stderrTail: () => err.slice(-2000),
          stop: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res();
              child.once('exit', () => res());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 3000).unref();
            }),
        });
      }
    };
    ready.on('data', onReady);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} in ${ns} exited (${code}) before ready: ${err.slice(-500)}`));
    });
  });
}

/** Run a process in a netns to completion and return its stdout. */
export function runInNetns(ns: string, args: string[], cpu?: string): Promise<string> {
  const argv = ['netns', 'exec', ns, ...args];
  const child = cpu ? spawn('taskset', ['-c', cpu, 'ip', ...argv]) : spawn('ip', argv);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} failed (${code}): ${err.slice(-500)}`))));
  });
}
