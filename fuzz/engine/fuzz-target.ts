/**
 * One thing the fuzzer drives. `run` gets one input and must return (or resolve) when the product
 * handled it; any exception it throws or rejection it returns is a finding (a crash or a broken
 * invariant the target asserts), and so is an uncaught exception while it runs.
 */
export interface FuzzTarget {
  name: string;
  /** What the target drives (for RELIABILITY.md and --list). */
  description: string;
  /** Tokens the mutator inserts (header names, YAML keys, protobuf tags...). */
  dictionary: readonly (string | Buffer)[];
  maxLength: number;
  /** Which scripts' block coverage guides the fuzzer (substring of their file URL). */
  watch: readonly string[];
  /** Longest an input may take before it counts as a hang (ms). */
  timeoutMs?: number;
  setup?(): Promise<void>;
  run(data: Buffer): void | Promise<void>;
  teardown?(): Promise<void>;
}

/** An invariant the target checks, broken: always a finding. */
export class InvariantBroken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantBroken';
  }
}

export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InvariantBroken(message);
}
