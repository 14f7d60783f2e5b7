/** HTTP header names and values in route header operations and matches. */
const VALID_HEADER = /^[-_A-Za-z0-9]+$/;

export function validateHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!VALID_HEADER.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

export function validateCorsHeaderName(name: string): string | undefined {
  return name === '*' ? undefined : validateHeaderName(name);
}

/** `@request.auth.claims.NAME` or `@request.auth.claims[NAME]...` (routing on JWT claims). */
export function isJwtClaimRoute(name: string): boolean {
  return /^@request\.auth\.claims(\.[^.\[\]]+|\[[^\[\]]+\])+$/.test(name);
}

export function validateHeaderNameOrJwtClaim(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name)) return undefined;
  return validateHeaderName(name);
}

function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}

export function isAuthorityHeader(name: string): boolean {
  const l = name.toLowerCase();
  return l === ':authority' || l === 'host';
}

/** Request `set`/`add`: may set :authority/host, nothing else internal. */
export function validateRequestHeaderOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternalHeader(name) && !isAuthorityHeader(name)) return `invalid header "${name}": header cannot have ":" prefix`;
  return undefined;
}

/** Request `remove`, response operations. */
export function validateHeaderOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header "${name}": cannot set Host header`;
  if (isInternalHeader(name)) return `invalid header "${name}": header cannot have ":" prefix`;
  return undefined;
}

/** Envoy header value: no control characters; `%` starts a `%VARIABLE%` or is escaped as `%%`. */
export function validateHeaderValue(value: string): string | undefined {
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return `header value configuration ${value} is invalid`;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') continue;
    if (value[i + 1] === '%') {
      i++;
      continue;
    }
    const end = value.indexOf('%', i + 1);
    if (end < 0) return `header value configuration: invalid header configuration: un-terminated variable expression '${value.slice(i)}'`;
    const name = value.slice(i + 1, end);
    if (!/^[A-Z_][A-Z0-9_]*(\(.*\))?(:\d+)?$/.test(name)) return `header value configuration: invalid header configuration: unknown variable '${name}'`;
    i = end;
  }
  return undefined;
}
