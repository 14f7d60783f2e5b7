/**
 * A problem a source found in its input, kept for `/debug/configz`, logs and `mizzen apply`.
 * `resource` is `Kind namespace/name` when the problem concerns one resource.
 */
export interface ConfigError {
  file?: string;
  line?: number;
  resource?: string;
  path?: string;
  message: string;
  level: 'error' | 'warning';
}

/** `FILE:LINE: Kind ns/name: path: message`, the shape `mizzen validate` prints. */
export function formatConfigError(e: ConfigError): string {
  const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ''}: ` : '';
  const what = e.resource ? `${e.resource}: ` : '';
  const path = e.path ? `${e.path}: ` : '';
  return `${where}${what}${path}${e.message}`;
}
