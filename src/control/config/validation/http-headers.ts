/** HTTP header names and values in route header operations and matches. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A header field name (RFC 7230 token); pseudo-headers such as `:authority` are allowed. */
export function validateHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  const bare = name.startsWith(':') ? name.slice(1) : name;
  if (!TOKEN.test(bare)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** Strict form (no pseudo-headers): names Istio writes into requests. */
export function validateStrictHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!TOKEN.test(name)) return `header name ${name} is not a valid header name`;
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

/**
 * Envoy header value: no control characters; `%` starts a command operator
 * `%NAME%`, `%NAME(args)%` or `%NAME(args):N%`, or is escaped as `%%`.
 */
export function validateHeaderValue(value: string): string | undefined {
  const invalid = `header value configuration ${value} is invalid`;
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return invalid;
  let i = 0;
  while (i < value.length) {
    if (value[i] !== '%') {
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      i += 2;
      continue;
    }
    let j = i + 1;
    while (j < value.length && /[A-Z0-9_]/.test(value[j])) j++;
    if (j === i + 1) return invalid;
    if (value[j] === '(') {
      const close = value.indexOf(')', j);
      if (close < 0) return invalid;
      j = close + 1;
    }
    if (value[j] === ':') {
      j++;
      while (j < value.length && /[0-9]/.test(value[j])) j++;
    }
    if (value[j] !== '%') return invalid;
    i = j + 1;
  }
  return undefined;
}
