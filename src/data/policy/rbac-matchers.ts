import { asArray, asNumber, asObj, asString, wrapped, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileCidr, type Cidr } from '../matchers/cidr.ts';
import { compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';
import { compileHeaderMatcher } from '../l7/header-matcher.ts';
import type { FilterRequest } from '../l7/http-filter.ts';
import { headerValueFor } from '../l7/route-match.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import { uriTemplateRegex } from '../../lib/uri-template.ts';
import { compileMetadataMatcher } from './metadata-matcher.ts';

/**
 * A compiled RBAC Permission or Principal: evaluated against the stream (and, in the HTTP
 * filter, the request; `req` is undefined for the network filter, where HTTP-only matchers
 * never match, as in Envoy).
 */
export type RbacMatch = (info: StreamInfo, req: FilterRequest | undefined) => boolean;

const PERMISSION_FIELDS = ['andRules', 'orRules', 'any', 'header', 'urlPath', 'destinationIp', 'destinationPort', 'destinationPortRange', 'metadata', 'notRule', 'requestedServerName', 'matcher', 'uriTemplate'];
const PRINCIPAL_FIELDS = ['andIds', 'orIds', 'any', 'authenticated', 'sourceIp', 'directRemoteIp', 'remoteIp', 'header', 'urlPath', 'metadata', 'filterState', 'notId', 'customExtension', 'sourcedMetadata'];

const always: RbacMatch = () => true;

/** The destination of a stream: the original destination when captured, else the local address. */
export function destinationIp(info: StreamInfo): string {
  const od = info.originalDestination;
  if (!od) return info.downstreamLocalAddress;
  const c = od.lastIndexOf(':');
  return od.slice(0, c).replace(/^\[|\]$/g, '');
}

export function destinationPort(info: StreamInfo): number {
  const od = info.originalDestination;
  if (!od) return info.downstreamLocalPort;
  return Number(od.slice(od.lastIndexOf(':') + 1));
}

function cidrOf(v: unknown, path: string): Cidr {
  const o = asObj(v);
  onlyFields(o, path, ['addressPrefix', 'prefixLen']);
  const prefix = asString(o.addressPrefix);
  const len = o.prefixLen === undefined ? undefined : typeof o.prefixLen === 'object' ? wrapped(o.prefixLen) : asNumber(o.prefixLen);
  const c = compileCidr(prefix, len);
  if (!c) reject(`${path}.addressPrefix`, `invalid CIDR ${prefix}/${String(len ?? '')}`);
  return c;
}

/** The request path without query string and fragment, as Envoy's path matchers see it. */
function pathOnly(p: string): string {
  const q = p.indexOf('?');
  const h = p.indexOf('#');
  const end = q >= 0 ? (h >= 0 ? Math.min(q, h) : q) : h >= 0 ? h : p.length;
  return end === p.length ? p : p.slice(0, end);
}

/** `url_path`: a string matcher on the path. */
function pathMatcher(v: unknown, path: string): RbacMatch {
  const o = asObj(v);
  onlyFields(o, path, ['path']);
  if (o.path === undefined) reject(`${path}.path`, 'path matcher needs a string matcher');
  const sm: StringMatch = compileStringMatcher(o.path, `${path}.path`);
  return (_info, req) => req !== undefined && sm(pathOnly(req.path));
}

const URI_TEMPLATE = 'envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig';

/** `uri_template` (envoy.path.match.uri_template): Istio's `{*}`/`{**}` AuthorizationPolicy paths. */
function uriTemplateMatcher(v: unknown, path: string): RbacMatch {
  const o = asObj(v);
  onlyFields(o, path, ['name', 'typedConfig']);
  const tc = asObj(o.typedConfig);
  const type = asString(tc['@type'] ?? tc.typeUrl);
  if (!type.endsWith(URI_TEMPLATE)) reject(`${path}.typedConfig`, `path matcher ${type || 'without a type'} is not supported (${URI_TEMPLATE})`);
  onlyFields(tc, `${path}.typedConfig`, ['@type', 'pathTemplate']);
  const t = uriTemplateRegex(asString(tc.pathTemplate));
  if ('error' in t) return reject(`${path}.typedConfig.pathTemplate`, t.error);
  const re = new RegExp(t.regex);
  return (_info, req) => req !== undefined && re.test(pathOnly(req.path));
}

function headerMatch(v: unknown, path: string): RbacMatch {
  const hm = compileHeaderMatcher(v, path);
  return (_info, req) => (req ? hm.test(headerValueFor(req, hm.name)) : false);
}

function all(list: RbacMatch[]): RbacMatch {
  if (list.length === 1) return list[0];
  return (info, req) => {
    for (const m of list) if (!m(info, req)) return false;
    return true;
  };
}

function some(list: RbacMatch[]): RbacMatch {
  if (list.length === 1) return list[0];
  return (info, req) => {
    for (const m of list) if (m(info, req)) return true;
    return false;
  };
}

function oneOf(o: Obj, path: string, fields: string[]): string {
  const set = fields.filter((f) => o[f] !== undefined);
  if (set.length !== 1) reject(path, set.length === 0 ? 'no rule set' : `only one of ${set.join(', ')} may be set`);
  return set[0];
}

export function compilePermission(v: unknown, path: string): RbacMatch {
  const o = asObj(v);
  onlyFields(o, path, PERMISSION_FIELDS);
  const k = oneOf(o, path, PERMISSION_FIELDS);
  const p = `${path}.${k}`;
  switch (k) {
    case 'any':
      return always;
    case 'andRules':
      return all(asArray(asObj(o.andRules).rules).map((r, i) => compilePermission(r, `${p}.rules[${i}]`)));
    case 'orRules':
      return some(asArray(asObj(o.orRules).rules).map((r, i) => compilePermission(r, `${p}.rules[${i}]`)));
    case 'notRule': {
      const inner = compilePermission(o.notRule, p);
      return (info, req) => !inner(info, req);
    }
    case 'header':
      return headerMatch(o.header, p);
    case 'urlPath':
      return pathMatcher(o.urlPath, p);
    case 'uriTemplate':
      return uriTemplateMatcher(o.uriTemplate, p);
    case 'destinationIp': {
      const c = cidrOf(o.destinationIp, p);
      return (info) => c.test(destinationIp(info));
    }
    case 'destinationPort': {
      const port = asNumber(o.destinationPort);
      return (info) => destinationPort(info) === port;
    }
    case 'destinationPortRange': {
      const r = asObj(o.destinationPortRange);
      const start = asNumber(r.start);
      const end = asNumber(r.end);
      if (end <= start) reject(p, `empty port range [${start}, ${end})`);
      return (info) => {
        const port = destinationPort(info);
        return port >= start && port < end;
      };
    }
    case 'requestedServerName': {
      const sm = compileStringMatcher(o.requestedServerName, p);
      return (info) => sm(info.requestedServerName);
    }
    case 'metadata': {
      const mm = compileMetadataMatcher(o.metadata, p);
      return (info) => mm(info);
    }
    default:
      return reject(p, `RBAC permission ${k} is not supported by mizzen proxy`);
  }
}

export function compilePrincipal(v: unknown, path: string): RbacMatch {
  const o = asObj(v);
  onlyFields(o, path, PRINCIPAL_FIELDS);
  const k = oneOf(o, path, PRINCIPAL_FIELDS);
  const p = `${path}.${k}`;
  switch (k) {
    case 'any':
      return always;
    case 'andIds':
      return all(asArray(asObj(o.andIds).ids).map((r, i) => compilePrincipal(r, `${p}.ids[${i}]`)));
    case 'orIds':
      return some(asArray(asObj(o.orIds).ids).map((r, i) => compilePrincipal(r, `${p}.ids[${i}]`)));
    case 'notId': {
      const inner = compilePrincipal(o.notId, p);
      return (info, req) => !inner(info, req);
    }
    case 'authenticated': {
      const a = asObj(o.authenticated);
      onlyFields(a, p, ['principalName']);
      // Envoy: an authenticated connection is one whose peer presented a verified certificate
      if (a.principalName === undefined) return (info) => info.mtls;
      const sm = compileStringMatcher(a.principalName, `${p}.principalName`);
      return (info) => info.mtls && sm(info.peerPrincipal);
    }
    case 'sourceIp':
    case 'directRemoteIp': {
      const c = cidrOf(o[k], p);
      return (info) => c.test(info.downstreamRemoteAddress);
    }
    case 'remoteIp': {
      // the client address after X-Forwarded-For processing; this proxy trusts no hops, so it is the peer
      const c = cidrOf(o.remoteIp, p);
      return (info) => c.test(info.downstreamRemoteAddress);
    }
    case 'header':
      return headerMatch(o.header, p);
    case 'urlPath':
      return pathMatcher(o.urlPath, p);
    case 'metadata': {
      const mm = compileMetadataMatcher(o.metadata, p);
      return (info) => mm(info);
    }
    default:
      return reject(p, `RBAC principal ${k} is not supported by mizzen proxy`);
  }
}
