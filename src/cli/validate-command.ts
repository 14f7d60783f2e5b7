import type { Command } from 'commander';
import { lineOfField, type ConfigResource } from '../api/config-resource.ts';
import { KINDS } from '../api/kinds.ts';
import { readFileSync } from 'node:fs';
import { parseDocuments, type ParsedDocuments, type ParseProblem } from '../control/config/parse-documents.ts';
import { readConfigFiles } from '../control/config/read-config-files.ts';
import { submittedValidator } from '../control/config/support/served-validator.ts';
import { ResourceValidator } from '../control/config/validation/validate-resource.ts';
import type { ValidationIssue } from '../control/config/validation/validation-issue.ts';
import type { CliContext } from './cli-context.ts';

/**
 * `mizzen validate [-o json] FILE|DIR...`: Istio's schema and semantic validation of every
 * document, plus what Mizzen does not implement (control/config/support: security policy it
 * cannot enforce is an error, other unimplemented fields are warnings). Exit 0 only when everything is valid; 1 when anything is invalid or unreadable;
 * 2 on usage errors.
 *
 * Text: one line per error on stdout, `FILE:LINE: Kind namespace/name: field.path: message`
 * (LINE: the field's own line when the file says where it is, else the document's);
 * warnings go to stderr as `FILE:LINE: warning: Kind namespace/name: field.path: message`.
 * JSON: an array with one object per resource (and one per document that could not be read as
 * a resource): `{file, line, apiVersion, kind, namespace, name, valid, errors, warnings}`.
 */
export interface ValidateReport {
  file: string;
  line: number;
  apiVersion: string | null;
  kind: string | null;
  namespace: string | null;
  name: string | null;
  valid: boolean;
  /** Each with the line of its field, when known. */
  errors: (ValidationIssue & { line?: number })[];
  warnings: (ValidationIssue & { line?: number })[];
}

function reportForResource(r: ConfigResource, validator: ResourceValidator): ValidateReport {
  const at = (i: ValidationIssue): ValidationIssue & { line?: number } => ({ ...i, line: lineOfField(r.origin, i.path) });
  const { errors, warnings } = submittedValidator((x) => validator.validate(x))(r);
  return {
    file: r.origin?.file ?? '-',
    line: r.origin?.line ?? 0,
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.metadata.namespace ?? null,
    name: r.metadata.name,
    valid: errors.length === 0,
    errors: errors.map(at),
    warnings: warnings.map(at),
  };
}

/** Malformed YAML and unreadable files are errors; well-formed non-resources (e.g. an OpenAPI file) are warnings. */
function reportForProblem(p: ParseProblem): ValidateReport {
  const issue = { path: '', message: p.message };
  // A nameless object of a kind we do not know (IstioOperator, ...) is skipped like other unknown kinds.
  const warning = p.code === 'not-a-resource' || (p.code === 'invalid-resource' && p.kind !== undefined && !KINDS.some((k) => k.kind === p.kind));
  return {
    file: p.file,
    line: p.line,
    apiVersion: null,
    kind: null,
    namespace: null,
    name: null,
    valid: warning,
    errors: warning ? [] : [issue],
    warnings: warning ? [{ path: '', message: `${p.message}; skipped (not validated)` }] : [],
  };
}

function formatLine(rep: ValidateReport, issue: ValidationIssue & { line?: number }, warning: boolean): string {
  const where = `${rep.file}:${issue.line ?? rep.line}:`;
  const tag = warning ? ' warning:' : '';
  if (rep.kind === null) return `${where}${tag} ${issue.message}\n`;
  const ref = rep.namespace ? `${rep.kind} ${rep.namespace}/${rep.name ?? ''}` : `${rep.kind} ${rep.name ?? ''}`;
  const path = issue.path ? ` ${issue.path}:` : '';
  return `${where}${tag} ${ref}:${path} ${issue.message}\n`;
}

/** Read the given files and directories; `-` is standard input (as `istioctl validate -f -`). */
function readInputs(paths: readonly string[]): ParsedDocuments {
  const files = paths.filter((p) => p !== '-');
  const out = files.length > 0 ? readConfigFiles(files, { fieldLines: true }) : { resources: [], problems: [] };
  if (paths.includes('-')) {
    try {
      const parsed = parseDocuments(readFileSync(0, 'utf8'), '<stdin>', { fieldLines: true });
      out.resources.push(...parsed.resources);
      out.problems.push(...parsed.problems);
    } catch (err) {
      out.problems.push({ file: '<stdin>', line: 0, message: `cannot read: ${(err as Error).message}`, code: 'io' });
    }
  }
  return out;
}

export function validatePaths(paths: readonly string[], validator = new ResourceValidator()): ValidateReport[] {
  const { resources, problems } = readInputs(paths);
  const reports = [...resources.map((r) => reportForResource(r, validator)), ...problems.map(reportForProblem)];
  return reports.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

function run(paths: string[], flags: { output?: string }, ctx: CliContext): void {
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'text') {
    ctx.stderr(`error: unknown output format "${flags.output}" (use json or text)\n`);
    ctx.exitCode = 2;
    return;
  }
  if (paths.length === 0) {
    ctx.stderr('error: give at least one FILE or DIR to validate\n');
    ctx.exitCode = 2;
    return;
  }
  const reports = validatePaths(paths);
  const invalid = reports.filter((r) => !r.valid).length;
  if (flags.output === 'json') {
    ctx.stdout(`${JSON.stringify(reports, null, 2)}\n`);
  } else {
    for (const rep of reports) {
      for (const e of [...rep.errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))) ctx.stdout(formatLine(rep, e, false));
      for (const w of rep.warnings) ctx.stderr(formatLine(rep, w, true));
    }
    const resources = reports.filter((r) => r.kind !== null).length;
    const warnings = reports.reduce((n, r) => n + r.warnings.length, 0);
    ctx.stderr(invalid === 0
      ? `${resources} resource(s) valid${warnings ? ` (${warnings} warning(s))` : ''}\n`
      : `${invalid} of ${reports.length} document(s) invalid\n`);
  }
  ctx.exitCode = invalid === 0 ? 0 : 1;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description("validate Istio and Kubernetes config files as Istio's admission webhook does (schema and semantics), refusing security policy Mizzen cannot enforce")
    .argument('[paths...]', 'files or directories (searched recursively for *.yaml, *.yml, *.json); - reads standard input')
    .option('-o, --output <format>', 'output format: text (default) or json')
    .option('-f, --filename <paths...>', 'files or directories, as istioctl validate -f takes them')
    .action((paths: string[], flags: { output?: string; filename?: string[] }) => run([...(flags.filename ?? []), ...paths], flags, ctx));
}
