/**
 * envoy.type.v3.StatusCode: the HTTP statuses Envoy's `HttpStatus` can carry, by number and by
 * enum name (protobuf JSON writes the name). Discovery turns Istio's `statusOnError: "403"` into
 * `{code: Forbidden}`; the proxy reads it back as 403. Istio refuses a status not in this table.
 */
const NAMES: Readonly<Record<number, string>> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'NonAuthoritativeInformation', 204: 'NoContent',
  205: 'ResetContent', 206: 'PartialContent', 207: 'MultiStatus', 208: 'AlreadyReported', 226: 'IMUsed',
  300: 'MultipleChoices', 301: 'MovedPermanently', 302: 'Found', 303: 'SeeOther', 304: 'NotModified', 305: 'UseProxy',
  307: 'TemporaryRedirect', 308: 'PermanentRedirect', 400: 'BadRequest', 401: 'Unauthorized', 402: 'PaymentRequired',
  403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 406: 'NotAcceptable', 407: 'ProxyAuthenticationRequired',
  408: 'RequestTimeout', 409: 'Conflict', 410: 'Gone', 411: 'LengthRequired', 412: 'PreconditionFailed', 413: 'PayloadTooLarge',
  414: 'URITooLong', 415: 'UnsupportedMediaType', 416: 'RangeNotSatisfiable', 417: 'ExpectationFailed', 421: 'MisdirectedRequest',
  422: 'UnprocessableEntity', 423: 'Locked', 424: 'FailedDependency', 426: 'UpgradeRequired', 428: 'PreconditionRequired',
  429: 'TooManyRequests', 431: 'RequestHeaderFieldsTooLarge', 500: 'InternalServerError', 501: 'NotImplemented', 502: 'BadGateway',
  503: 'ServiceUnavailable', 504: 'GatewayTimeout', 505: 'HTTPVersionNotSupported', 506: 'VariantAlsoNegotiates',
  507: 'InsufficientStorage', 508: 'LoopDetected', 510: 'NotExtended', 511: 'NetworkAuthenticationRequired',
};

const CODES: ReadonlyMap<string, number> = new Map(Object.entries(NAMES).map(([code, name]) => [name, Number(code)]));

/** The enum name of a status Envoy's StatusCode knows (undefined otherwise). */
export function statusCodeName(code: number): string | undefined {
  return NAMES[code];
}

/** A StatusCode given as enum name or number → the number (undefined when unknown; `Empty`/0 too). */
export function statusCodeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return NAMES[v] !== undefined ? v : undefined;
  if (typeof v === 'string') return CODES.get(v) ?? (NAMES[Number(v)] !== undefined ? Number(v) : undefined);
  return undefined;
}

/** Every status Envoy's StatusCode knows, ascending (for error messages). */
export const KNOWN_STATUS_CODES: readonly number[] = Object.keys(NAMES).map(Number);
