/**
 * What a command gets from the CLI root: output sinks, the environment (read only by a
 * command's own config code) and a place to put its exit status.
 */
export interface CliContext {
  exitCode: number;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}
