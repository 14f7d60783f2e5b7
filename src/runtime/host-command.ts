import { spawn } from 'node:child_process';
import { MizzenError } from '../lib/errors.ts';

/** What a host tool (ip, nft, ...) printed and how it exited. */
export interface HostCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostCommandOptions {
  /** Text written to the command's stdin (e.g. an nft ruleset for `nft -f -`). */
  input?: string;
  /** Return the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
}

/**
 * Run one host tool without a shell and collect its output. A non-zero exit becomes a
 * MizzenError naming the command and its stderr, unless `allowFailure` is set.
 */
export function runHostCommand(cmd: string, args: readonly string[], options: HostCommandOptions = {}): Promise<HostCommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      reject(new MizzenError('RUNTIME_FAILED', `cannot run ${cmd}: ${err.message}`, { cause: err, hint: `is ${cmd} installed?` }));
    });
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(new MizzenError('RUNTIME_FAILED', `${cmd} ${args.join(' ')} failed (exit ${result.code}): ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolve(result);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
