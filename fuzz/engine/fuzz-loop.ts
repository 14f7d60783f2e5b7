import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BlockCoverage } from './block-coverage.ts';
import type { FuzzTarget } from './fuzz-target.ts';
import { Mutator } from './mutator.ts';
import { Prng } from './prng.ts';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many generated inputs (seeds not counted)... */
  maxRuns?: number;
  /** ...or after this long, whichever comes first. */
  maxMs?: number;
  /** Seed corpus directories of this target (every file is an input). */
  corpusDir: string | readonly string[];
  /** Where inputs that found new coverage are written (a long run's corpus), if anywhere. */
  saveCorpusDir?: string;
  /** Where findings are written (input + stack), if anywhere. */
  findingsDir?: string;
  /** Inputs run between two coverage readings (a reading costs a few ms). */
  batch?: number;
}

export interface Finding {
  kind: 'crash' | 'hang';
  message: string;
  input: Buffer;
  file?: string;
}

export interface FuzzReport {
  target: string;
  seed: number;
  seeds: number;
  runs: number;
  corpus: number;
  features: number;
  ms: number;
  findings: Finding[];
}

const sha = (b: Buffer): string => createHash('sha1').update(b).digest('hex').slice(0, 16);

export function readCorpus(dir: string): Buffer[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => readFileSync(join(dir, f)));
}

/**
 * Coverage-guided mutation fuzzing of one target: seeds first, then havoc mutations of corpus
 * entries; an input whose run reaches a block (or a block's hit-count bucket) not seen before
 * joins the corpus. Coverage is read once per batch, and a batch with new coverage is replayed
 * input by input to find which inputs to keep. Deterministic for a seed (up to timing-dependent
 * behaviour inside asynchronous targets).
 */
export async function fuzz(target: FuzzTarget, o: FuzzOptions): Promise<FuzzReport> {
  const rng = new Prng(o.seed);
  const mutator = new Mutator(rng, target.dictionary, target.maxLength);
  const timeoutMs = target.timeoutMs ?? 2000;
  const findings: Finding[] = [];
  const seenMessages = new Set<string>();
  let uncaught: Error | undefined;
  const onUncaught = (err: unknown): void => {
    uncaught ??= err instanceof Error ? err : new Error(String(err));
  };
  await target.setup?.();
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const cov = new BlockCoverage((url) => target.watch.some((w) => url.includes(w)));
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const started = performance.now();
  let runs = 0;

  const record = (kind: Finding['kind'], message: string, input: Buffer): void => {
    const key = `${kind}:${message.split('\n').slice(0, 3).join('|')}`;
    if (seenMessages.has(key)) return;
    seenMessages.add(key);
    const f: Finding = { kind, message, input: Buffer.from(input) };
    if (o.findingsDir) {
      mkdirSync(o.findingsDir, { recursive: true });
      f.file = join(o.findingsDir, `${kind}-${sha(input)}`);
      writeFileSync(f.file, input);
      writeFileSync(`${f.file}.txt`, `${message}\n`);
    }
    findings.push(f);
  };

  const execute = async (input: Buffer): Promise<void> => {
    uncaught = undefined;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = target.run(input);
      if (r && typeof (r as Promise<void>).then === 'function') {
        await Promise.race([r, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new HangError(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
      }
    } catch (err) {
      if (err instanceof HangError) record('hang', err.message, input);
      else record('crash', describe(err), input);
    } finally {
      clearTimeout(timer);
    }
    const ms = performance.now() - t0;
    if (ms > timeoutMs) record('hang', `took ${Math.round(ms)} ms (limit ${timeoutMs})`, input);
    if (uncaught) record('crash', `uncaught: ${describe(uncaught)}`, input);
  };

  const learn = (input: Buffer, feats: string[]): boolean => {
    let fresh = false;
    for (const f of feats) {
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    }
    if (fresh) {
      corpus.push(input);
      if (o.saveCorpusDir) {
        mkdirSync(o.saveCorpusDir, { recursive: true });
        writeFileSync(join(o.saveCorpusDir, sha(input)), input);
      }
    }
    return fresh;
  };

  try {
    const seeds = (typeof o.corpusDir === 'string' ? [o.corpusDir] : o.corpusDir).flatMap((d) => readCorpus(d));
    cov.take();
    for (const s of seeds) {
      await execute(s);
      if (!learn(s, cov.take())) corpus.push(s); // seeds stay even when redundant
    }
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    const batchSize = o.batch ?? 16;
    const maxRuns = o.maxRuns ?? Number.POSITIVE_INFINITY;
    const maxMs = o.maxMs ?? Number.POSITIVE_INFINITY;
    const other = (): Buffer => corpus[rng.below(corpus.length)];
    while (runs < maxRuns && performance.now() - started < maxMs) {
      const batch: Buffer[] = [];
      for (let i = 0; i < batchSize && runs < maxRuns; i++) {
        const child = mutator.mutate(corpus[rng.below(corpus.length)], other);
        batch.push(child);
        runs++;
        await execute(child);
      }
      const feats = cov.take();
      if (!feats.some((f) => !seen.has(f))) continue;
      for (const child of batch) {
        await execute(child);
        learn(child, cov.take());
      }
      for (const f of feats) seen.add(f);
    }
    return { target: target.name, seed: o.seed, seeds: seeds.length, runs, corpus: corpus.length, features: seen.size, ms: Math.round(performance.now() - started), findings };
  } finally {
    cov.close();
    await target.teardown?.();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
}

class HangError extends Error {}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** Replay inputs (a regression corpus) once each; returns the findings. */
export async function replay(target: FuzzTarget, inputs: readonly Buffer[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  let uncaught: Error | undefined;
  const onUncaught = (err: unknown): void => {
    uncaught ??= err instanceof Error ? err : new Error(String(err));
  };
  await target.setup?.();
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    for (const input of inputs) {
      uncaught = undefined;
      try {
        await target.run(input);
      } catch (err) {
        findings.push({ kind: 'crash', message: describe(err), input });
      }
      if (uncaught) findings.push({ kind: 'crash', message: `uncaught: ${describe(uncaught)}`, input });
    }
  } finally {
    await target.teardown?.();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  return findings;
}
