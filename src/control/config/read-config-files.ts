import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseDocuments, type ParsedDocuments } from './parse-documents.ts';

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Every config file under the given paths: files as given, directories walked recursively. */
export function listConfigFiles(paths: readonly string[]): { files: string[]; problems: ParsedDocuments['problems'] } {
  const files: string[] = [];
  const problems: ParsedDocuments['problems'] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (CONFIG_EXTENSIONS.has(extname(name))) files.push(p);
    }
  };
  for (const p of paths) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) problems.push({ file: p, line: 0, message: 'no such file or directory', code: 'io' });
    else if (st.isDirectory()) walk(p);
    else files.push(p);
  }
  return { files, problems };
}

/** Read and parse every config file under the given paths; I/O errors become problems. */
export function readConfigFiles(paths: readonly string[], options: { fieldLines?: boolean } = {}): ParsedDocuments {
  const { files, problems } = listConfigFiles(paths);
  const out: ParsedDocuments = { resources: [], problems: [...problems] };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      out.problems.push({ file, line: 0, message: `cannot read: ${(err as Error).message}`, code: 'io' });
      continue;
    }
    const parsed = parseDocuments(text, file, options);
    out.resources.push(...parsed.resources);
    out.problems.push(...parsed.problems);
  }
  return out;
}
