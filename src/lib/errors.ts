/**
 * One error base for the whole product. `code` is stable (logs, metrics and tests key on it);
 * `hint` tells an operator what to check. Expected outcomes (validation results, NACKs, policy
 * denials) are values, not throws: this class is for what really failed.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_PARSE'
  | 'CONFIG_IO'
  | 'XDS_RESOURCE_REJECTED'
  | 'XDS_PROTOCOL'
  | 'CA_CSR_INVALID'
  | 'CA_UNAUTHENTICATED'
  | 'CA_INTERNAL'
  | 'RUNTIME_NOT_ROOT'
  | 'RUNTIME_FAILED'
  | 'RUNTIME_ALREADY_RUNNING'
  | 'PROXY_FAILED'
  | 'UNAVAILABLE'
  | 'USAGE'
  | 'INTERNAL';

export class MizzenError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MizzenError';
    this.code = code;
    this.hint = options.hint;
  }

  /** Message with the operator hint appended, for CLI output and logs. */
  describe(): string {
    return this.hint ? `${this.message} (hint: ${this.hint})` : this.message;
  }
}

/** Narrow an unknown thrown value to a message without ever printing a stack to a user. */
export function errorMessage(err: unknown): string {
  if (err instanceof MizzenError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
