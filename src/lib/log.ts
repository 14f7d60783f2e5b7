import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Parse `MIZZEN_LOG`-style level specs: `info` or `xds=debug,hbone=trace` (a bare level sets the
 * default). Only command config modules read the environment; they pass the string here.
 */
export function parseLogLevels(spec: string | undefined): { defaultLevel: string; perComponent: Map<string, string> } {
  const perComponent = new Map<string, string>();
  let defaultLevel = 'info';
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) defaultLevel = part;
    else perComponent.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return { defaultLevel, perComponent };
}

export interface LogFactory {
  root: Logger;
  /** The child logger of one component (one per name), at that component's configured level. */
  component(name: string): Logger;
  /** Every logger and its level (`default` is the root), as Envoy's /logging lists them. */
  levels(): Record<string, string>;
}

/** One JSON log line as a person reads it: `warning: message (key=value ...)`. */
export function humanLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = Number(rec.level) >= 50 ? 'error' : Number(rec.level) >= 40 ? 'warning' : 'info';
  const { level: _l, time: _t, msg, component: _c, ...rest } = rec;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${level}: ${String(msg ?? '')}${fields.length > 0 ? ` (${fields.join(' ')})` : ''}`;
}

export interface LogFactoryOptions {
  levels?: string;
  /** Where the JSON lines go: a file descriptor (default 2, stderr) or a file path. */
  destination?: number | string;
  pretty?: boolean;
  /** Also hand warnings and errors to this sink as human lines (a foreground command's terminal). */
  humanWarnings?: (line: string) => void;
}

export function createLogFactory(options: LogFactoryOptions = {}): LogFactory {
  const { defaultLevel, perComponent } = parseLogLevels(options.levels);
  const json = pino.destination({ dest: options.destination ?? 2, sync: true, mkdir: true });
  const human = options.humanWarnings;
  const streams: pino.StreamEntry[] = [{ level: 'trace', stream: json }];
  if (human) streams.push({ level: 'warn', stream: { write: (line: string) => human(humanLogLine(line)) } });
  const root = pino({ level: defaultLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, human ? pino.multistream(streams) : json);
  const children = new Map<string, Logger>();
  return {
    root,
    component(name: string): Logger {
      let child = children.get(name);
      if (child) return child;
      child = root.child({ component: name });
      const level = perComponent.get(name);
      if (level) child.level = level;
      children.set(name, child);
      return child;
    },
    levels(): Record<string, string> {
      const out: Record<string, string> = { default: root.level };
      for (const [name, child] of [...children].sort(([a], [b]) => a.localeCompare(b))) out[name] = child.level;
      return out;
    },
  };
}

/** A logger that writes nothing, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
