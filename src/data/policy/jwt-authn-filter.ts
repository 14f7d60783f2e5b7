import type { JWTPayload } from 'jose';
import { asArray, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileRegex } from '../matchers/string-matcher.ts';
import { compileHeaderMatcher, type HeaderMatch } from '../l7/header-matcher.ts';
import type { FilterContext, FilterRequest, FilterVerdict, HttpFilter, LocalReply } from '../l7/http-filter.ts';
import { headerValueFor } from '../l7/route-match.ts';
import type { JwksCache } from './jwks-cache.ts';
import { JWT_STATUS, JwtProvider, type FoundToken, type JwtStatus } from './jwt-provider.ts';

export const JWT_AUTHN_TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
/** Dynamic metadata namespace the verified payloads go to (read by RBAC `metadata` matchers). */
export const JWT_METADATA_NS = 'envoy.filters.http.jwt_authn';

type Requirement =
  | { kind: 'provider'; provider: JwtProvider; audiences: readonly string[] | undefined }
  | { kind: 'any' | 'all'; list: Requirement[] }
  | { kind: 'allowMissing' | 'allowMissingOrFailed' | 'none' };

interface Rule {
  test(req: FilterRequest): boolean;
  requires: Requirement;
}

export interface JwtAuthnDeps {
  jwks: JwksCache;
  /** Wall clock in ms (tests may pin it); Date.now by default. */
  now?: () => number;
}

/** Per-request state of one evaluation (tokens found, results of verification). */
class Evaluation {
  readonly found = new Map<JwtProvider, FoundToken | undefined>();
  readonly verified = new Map<string, Promise<{ status: JwtStatus; payload?: JWTPayload }>>();
  readonly ok = new Map<JwtProvider, { found: FoundToken; payload: JWTPayload }>();
  anyToken = false;
}

/**
 * envoy.filters.http.jwt_authn: the first rule whose match fits the request selects a
 * requirement (provider, provider_and_audiences, requires_any, requires_all, allow_missing,
 * allow_missing_or_failed); failures answer 401 (403 for audiences) with `www-authenticate`.
 * Verified payloads are written to dynamic metadata (`payload_in_metadata`), tokens removed
 * unless `forward`, and payload/claims copied to headers when asked. Requests without any token
 * are decided synchronously; verification (jose) is asynchronous.
 */
export function createJwtAuthnFilter(name: string, config: Obj, path: string, deps: JwtAuthnDeps): HttpFilter {
  onlyFields(config, path, ['providers', 'rules', 'requirementMap', 'bypassCorsPreflight', 'filterStateRules', 'stripFailureResponse', 'statPrefix']);
  if (config.filterStateRules !== undefined) reject(`${path}.filterStateRules`, 'filter state rules are not supported by mizzen proxy');
  const now = deps.now ?? Date.now;
  const providers = new Map<string, JwtProvider>();
  for (const [pn, pc] of Object.entries(asObj(config.providers))) providers.set(pn, new JwtProvider(pn, asObj(pc), `${path}.providers[${pn}]`, deps.jwks, now));
  const compileReq = (v: unknown, p: string): Requirement => {
    const o = asObj(v);
    onlyFields(o, p, ['providerName', 'providerAndAudiences', 'requiresAny', 'requiresAll', 'allowMissingOrFailed', 'allowMissing']);
    const provider = (n: string, pp: string): JwtProvider => providers.get(n) ?? reject(pp, `unknown provider ${n}`);
    if (typeof o.providerName === 'string') return { kind: 'provider', provider: provider(o.providerName, `${p}.providerName`), audiences: undefined };
    if (o.providerAndAudiences !== undefined) {
      const pa = asObj(o.providerAndAudiences);
      return { kind: 'provider', provider: provider(asString(pa.providerName), `${p}.providerAndAudiences.providerName`), audiences: (pa.audiences as string[] | undefined) ?? [] };
    }
    if (o.requiresAny !== undefined) return { kind: 'any', list: asArray(asObj(o.requiresAny).requirements).map((r, i) => compileReq(r, `${p}.requiresAny.requirements[${i}]`)) };
    if (o.requiresAll !== undefined) return { kind: 'all', list: asArray(asObj(o.requiresAll).requirements).map((r, i) => compileReq(r, `${p}.requiresAll.requirements[${i}]`)) };
    if (o.allowMissingOrFailed !== undefined) return { kind: 'allowMissingOrFailed' };
    if (o.allowMissing !== undefined) return { kind: 'allowMissing' };
    return { kind: 'none' };
  };
  const reqMap = new Map<string, Requirement>();
  for (const [rn, rv] of Object.entries(asObj(config.requirementMap))) reqMap.set(rn, compileReq(rv, `${path}.requirementMap[${rn}]`));
  const rules: Rule[] = asArray(config.rules).map((r, i) => {
    const p = `${path}.rules[${i}]`;
    onlyFields(r, p, ['match', 'requires', 'requirementName']);
    const requires = typeof r.requirementName === 'string' && r.requirementName
      ? reqMap.get(r.requirementName) ?? reject(`${p}.requirementName`, `unknown requirement ${r.requirementName}`)
      : compileReq(r.requires, `${p}.requires`);
    return { test: compileRouteMatch(r.match, `${p}.match`), requires };
  });
  const bypassCors = config.bypassCorsPreflight === true;
  const allProviders = [...providers.values()];

  const verify = (ev: Evaluation, prov: JwtProvider): Promise<{ status: JwtStatus; payload?: JWTPayload }> | JwtStatus => {
    const f = ev.found.get(prov);
    if (!f) return JWT_STATUS.missing;
    const key = `${prov.name}\n${f.token}`;
    let pr = ev.verified.get(key);
    if (!pr) {
      pr = prov.verify(f.token).then((r) => {
        if (r.status === 'ok' && r.payload) ev.ok.set(prov, { found: f, payload: r.payload });
        return r;
      });
      ev.verified.set(key, pr);
    }
    return pr;
  };

  const evaluate = async (r: Requirement, ev: Evaluation): Promise<JwtStatus> => {
    switch (r.kind) {
      case 'none':
        return 'ok';
      case 'allowMissing':
        // a token is present: only a provider that accepts it can satisfy the requirement
        return ev.anyToken ? JWT_STATUS.unknownIssuer : 'ok';
      case 'allowMissingOrFailed':
        await Promise.all(allProviders.map((p) => verify(ev, p)));
        return 'ok';
      case 'provider': {
        const v = verify(ev, r.provider);
        if (typeof v === 'string') return v;
        const res = await v;
        if (res.status !== 'ok' || !r.audiences || r.audiences.length === 0) return res.status;
        const aud = res.payload?.aud === undefined ? [] : Array.isArray(res.payload.aud) ? res.payload.aud : [res.payload.aud];
        return aud.some((a) => r.audiences!.includes(a)) ? 'ok' : JWT_STATUS.audienceNotAllowed;
      }
      case 'all': {
        for (const c of r.list) {
          const s = await evaluate(c, ev);
          if (s !== 'ok') return s;
        }
        return 'ok';
      }
      case 'any': {
        const results = await Promise.all(r.list.map((c) => evaluate(c, ev)));
        if (results.includes('ok')) return 'ok';
        // report the most telling failure: a bad token over a missing one
        return results.find((s) => s !== JWT_STATUS.missing && s !== JWT_STATUS.unknownIssuer) ?? results.find((s) => s !== JWT_STATUS.missing) ?? JWT_STATUS.missing;
      }
    }
  };

  /** The decision when the request carries no token at all: no verification, so synchronous. */
  const noToken = (r: Requirement): JwtStatus => {
    switch (r.kind) {
      case 'provider':
        return JWT_STATUS.missing;
      case 'all':
        for (const c of r.list) {
          const s = noToken(c);
          if (s !== 'ok') return s;
        }
        return 'ok';
      case 'any':
        return r.list.some((c) => noToken(c) === 'ok') ? 'ok' : JWT_STATUS.missing;
      default:
        return 'ok';
    }
  };

  const finish = (ctx: FilterContext, ev: Evaluation, status: JwtStatus): FilterVerdict => {
    // payloads of every verified token go to metadata, tokens are stripped unless forwarded
    if (ev.ok.size > 0) {
      let md = ctx.info.filterState.get(JWT_METADATA_NS) as Obj | undefined;
      if (!md) {
        md = {};
        ctx.info.filterState.set(JWT_METADATA_NS, md);
      }
      for (const [prov, { found, payload }] of ev.ok) {
        if (prov.payloadInMetadata) md[prov.payloadInMetadata] = payload;
        if (!prov.forward) prov.strip(ctx.request, found);
        if (prov.forwardPayloadHeader) ctx.request.headers.set(prov.forwardPayloadHeader, Buffer.from(JSON.stringify(payload)).toString('base64url'));
        for (const c of prov.claimToHeaders) {
          const v = payload[c.claim];
          if (v !== undefined && v !== null && typeof v !== 'object') ctx.request.headers.set(c.header, String(v));
        }
      }
    }
    if (status === 'ok') return undefined;
    return failure(ctx.request, status);
  };

  return {
    name,
    decodeHeaders(ctx: FilterContext): FilterVerdict | Promise<FilterVerdict> {
      const req = ctx.request;
      if (bypassCors && req.method === 'OPTIONS' && req.headers.has('origin') && req.headers.has('access-control-request-method')) return undefined;
      let requires: Requirement | undefined;
      const rc = ctx.route?.perFilterConfig.get(name);
      if (rc) {
        if (rc.disabled === true) return undefined;
        if (typeof rc.requirementName === 'string') requires = reqMap.get(rc.requirementName);
      }
      if (!requires) {
        for (const r of rules) {
          if (r.test(req)) {
            requires = r.requires;
            break;
          }
        }
      }
      // no rule applies: nothing is required or verified
      if (!requires) return undefined;
      let ev: Evaluation | undefined;
      for (const p of allProviders) {
        const f = p.find(req);
        if (!f) continue;
        ev ??= new Evaluation();
        ev.found.set(p, f);
        ev.anyToken = true;
      }
      if (!ev) {
        // the common case: no token at all, decided without allocation or verification
        const s = noToken(requires);
        return s === 'ok' ? undefined : failure(req, s);
      }
      const e = ev;
      return evaluate(requires, e).then((s) => finish(ctx, e, s));
    },
  };
}

function failure(req: FilterRequest, status: JwtStatus): LocalReply {
  const code = status === JWT_STATUS.audienceNotAllowed ? 403 : 401;
  const host = req.authority;
  const q = req.path.indexOf('?');
  const realm = `http://${host}${q >= 0 ? req.path.slice(0, q) : req.path}`;
  const auth = status === JWT_STATUS.missing ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`;
  return { status: code, body: status, headers: [['www-authenticate', auth]], details: `jwt_authn_access_denied{${status.replace(/ /g, '_')}}` };
}

/** The subset of RouteMatch jwt_authn rules use: prefix / path / safe_regex / path_separated_prefix and headers. */
function compileRouteMatch(v: unknown, path: string): (req: FilterRequest) => boolean {
  const o = asObj(v);
  onlyFields(o, path, ['prefix', 'path', 'safeRegex', 'pathSeparatedPrefix', 'caseSensitive', 'headers']);
  const cs = o.caseSensitive === undefined || asObj(o.caseSensitive).value !== false;
  const norm = (s: string): string => (cs ? s : s.toLowerCase());
  const pathOnly = (p: string): string => {
    const q = p.indexOf('?');
    return q >= 0 ? p.slice(0, q) : p;
  };
  let pm: (p: string) => boolean;
  if (typeof o.prefix === 'string') {
    const w = norm(o.prefix);
    pm = (p) => norm(p).startsWith(w);
  } else if (typeof o.path === 'string') {
    const w = norm(o.path);
    pm = (p) => norm(pathOnly(p)) === w;
  } else if (typeof o.pathSeparatedPrefix === 'string') {
    const w = norm(o.pathSeparatedPrefix);
    pm = (p) => {
      const x = norm(pathOnly(p));
      return x === w || x.startsWith(`${w}/`);
    };
  } else if (o.safeRegex !== undefined) {
    const re = compileRegex(asString(asObj(o.safeRegex).regex), `${path}.safeRegex.regex`);
    pm = (p) => re.test(pathOnly(p));
  } else return reject(path, 'rule match needs prefix, path, path_separated_prefix or safe_regex');
  const headers: HeaderMatch[] = asArray(o.headers).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`));
  return (req) => pm(req.path) && headers.every((h) => h.test(headerValueFor(req, h.name)));
}
