import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A child process (cwd: the repository) read line by line from stdout; stderr kept for messages. */
export class LineProcess {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private readonly rl: Interface;
  stderr = '';

  constructor(args: string[], env: NodeJS.ProcessEnv, cmd: string = process.execPath) {
    this.child = spawn(cmd, args, { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (c) => (this.stderr = (this.stderr + String(c)).slice(-4000)));
    this.rl = createInterface({ input: this.child.stdout! });
    this.rl.on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }

  /** The next stdout line; a process that starts slowly on a loaded machine gets a minute by default. */
  nextLine(timeoutMs = 60_000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const waiter = (x: string): void => {
        clearTimeout(t);
        resolve(x);
      };
      const t = setTimeout(() => {
        // a waiter that timed out must not swallow the line that comes later
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no output within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
