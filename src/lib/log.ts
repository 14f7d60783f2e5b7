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
  /** A child logger for one component, at that component's configured level. */
  component(name: string): Logger;
}

export function createLogFactory(options: { levels?: string; destination?: number | string; pretty?: boolean } = {}): LogFactory {
  const { defaultLevel, perComponent } = parseLogLevels(options.levels);
  const root = pino(
    { level: defaultLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
  return {
    root,
    component(name: string): Logger {
      const child = root.child({ component: name });
      const level = perComponent.get(name);
      if (level) child.level = level;
      return child;
    },
  };
}

/** A logger that writes nothing, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
