import { execFile } from 'node:child_process';
import { REPO_ROOT } from './istio-data.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `node bin/mizzen.js ARGS` as a child process (the real CLI, as a user runs it). */
export function runCli(args: string[], cwd = REPO_ROOT, stdin?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [`${REPO_ROOT}bin/mizzen.js`, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}
