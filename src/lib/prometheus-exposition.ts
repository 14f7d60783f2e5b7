/** One sample of a Prometheus text exposition. */
export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const UNESCAPE: Record<string, string> = { n: '\n', '\\': '\\', '"': '"' };

/** `{a="x",b="y\"z"}` → labels; returns undefined when the label set is malformed. */
function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') return undefined;
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\' && j + 1 < text.length) value += UNESCAPE[text[++j]] ?? `\\${text[j]}`;
      else value += text[j];
    }
    if (j >= text.length) return undefined;
    labels[name] = value;
    i = j + 1;
  }
}

/**
 * Samples of a Prometheus text exposition (format 0.0.4), keeping only metric names accepted by
 * `want` (default: all). Comments, HELP/TYPE lines, timestamps and malformed lines are skipped.
 */
export function parseExposition(text: string, want: (name: string) => boolean = () => true): ExpositionSample[] {
  const out: ExpositionSample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line === '' || line[0] === '#') continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = line.slice(0, nameEnd);
    if (!want(name)) continue;
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (nameEnd === brace) {
      const parsed = parseLabels(line, brace);
      if (!parsed) continue;
      labels = parsed.labels;
      rest = parsed.end;
    }
    const fields = line.slice(rest).trim().split(/\s+/);
    const raw = fields[0];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (raw === undefined || raw === '' || (Number.isNaN(value) && raw !== 'NaN')) continue;
    out.push({ name, labels, value });
  }
  return out;
}
