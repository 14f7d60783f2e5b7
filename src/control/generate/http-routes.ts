import type { HTTPMatchRequest, HTTPRoute } from '../../api/istio/virtual-service.ts';
import { EXT, type JsonObject } from './envoy-extensions.ts';
import { buildRouteAction, defaultRetryPolicy, type RouteBuildContext } from './route-actions.ts';
import { corsConfig, faultConfig, headerOptions, redirectAction } from './route-filters.ts';
import { buildRouteMatch, matchApplies } from './route-matches.ts';

/**
 * Envoy routes for a VirtualService's `http` list, in first-match order: one Envoy route per
 * Istio match condition that applies to this proxy and port (a route without match catches all).
 * Routes after a catch-all are unreachable and dropped, as Istio does.
 */
export function buildHttpRoutes(routes: readonly HTTPRoute[], ctx: RouteBuildContext, source?: ConfigRef): JsonObject[] {
  const metadata = source ? routeMetadata(source) : undefined;
  // VirtualServices translated from the Gateway API carry istiod's marker for its semantics
  if (source?.resource?.metadata.annotations?.[ROUTE_SEMANTICS] === 'gateway' && !ctx.gatewaySemantics) ctx = { ...ctx, gatewaySemantics: true };
  const out: JsonObject[] = [];
  for (const route of routes) {
    const matches = route.match && route.match.length > 0 ? route.match : [undefined];
    let catchAll = false;
    for (const match of matches) {
      if (match && !matchApplies(match, ctx)) continue;
      const built = buildEnvoyRoute(route, match, ctx);
      if (metadata) built.metadata = metadata;
      if (!ctx.grpc && built.route) built.decorator = { operation: routeOperation(built, source?.name ?? '', ctx.port) };
      out.push(built);
      if (isCatchAll(match)) catchAll = true;
    }
    if (catchAll) break;
  }
  return out;
}

/**
 * The span operation of a route (Istio's GetRouteOperation): `HOST:PORT` of its one cluster, else
 * `VIRTUAL_SERVICE:PORT`, then the matched path (`/prefix*`, the exact path, or the regex).
 */
export function routeOperation(route: JsonObject, vsName: string, port: number): string {
  const m = (route.match ?? {}) as { prefix?: string; path?: string; safeRegex?: { regex?: string } };
  const path = m.prefix !== undefined ? `${m.prefix}*` : m.path !== undefined ? m.path : m.safeRegex?.regex !== undefined ? m.safeRegex.regex : '/*';
  const cluster = (route.route as { cluster?: string } | undefined)?.cluster;
  const parts = cluster?.split('|');
  if (parts && parts.length === 4 && parts[0] === 'outbound') return `${parts[3]}:${parts[1]}${path}`;
  return `${vsName}:${port}${path}`;
}

/** The VirtualService a route came from. */
export interface ConfigRef {
  name: string;
  namespace: string;
  resource?: { metadata: { annotations?: Record<string, string> } };
}

const ROUTE_SEMANTICS = 'internal.istio.io/route-semantics';

/** Istio's route metadata naming its VirtualService (what `istioctl proxy-config routes` shows). */
function routeMetadata(ref: ConfigRef): JsonObject {
  return { filterMetadata: { istio: { config: `/apis/networking.istio.io/v1/namespaces/${ref.namespace}/virtual-service/${ref.name}` } } };
}

function isCatchAll(match: HTTPMatchRequest | undefined): boolean {
  if (!match) return true;
  const { uri, name: _n, sourceLabels: _s, gateways: _g, port: _p, sourceNamespace: _ns, statPrefix: _sp, ...rest } = match;
  const restEmpty = Object.values(rest).every((v) => v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));
  return restEmpty && (!uri || uri.prefix === '/' || (uri.exact === undefined && uri.prefix === undefined && uri.regex === undefined));
}

/** One Envoy route for an Istio HTTPRoute and one of its match conditions. */
export function buildEnvoyRoute(route: HTTPRoute, match: HTTPMatchRequest | undefined, ctx: RouteBuildContext): JsonObject {
  const name = [match?.name, route.name].filter(Boolean).join('.');
  const out: JsonObject = { match: buildRouteMatch(match, ctx.grpc, ctx.gatewaySemantics === true) };
  if (name) out.name = name;
  if (route.redirect) out.redirect = redirectAction(route.redirect);
  else if (route.directResponse) {
    const body = route.directResponse.body;
    out.directResponse = {
      status: route.directResponse.status ?? 200,
      ...(body?.string !== undefined ? { body: { inlineString: body.string } } : body?.bytes !== undefined ? { body: { inlineBytes: body.bytes } } : {}),
    };
  } else out.route = buildRouteAction(route, match, ctx);
  const singleDestHeaders = route.route?.length === 1 ? route.route[0]!.headers : undefined;
  Object.assign(out, mergeHeaderOptions(headerOptions(route.headers), headerOptions(singleDestHeaders)));
  const perFilter: JsonObject = {};
  const fault = route.fault ? faultConfig(route.fault) : undefined;
  if (fault) perFilter[EXT.fault.name] = fault;
  if (route.corsPolicy && !ctx.grpc) perFilter[EXT.cors.name] = corsConfig(route.corsPolicy);
  if (Object.keys(perFilter).length > 0) out.typedPerFilterConfig = perFilter;
  return out;
}

function mergeHeaderOptions(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = [...((out[k] as unknown[]) ?? []), ...(v as unknown[])];
  return out;
}

/**
 * The route a host gets when no VirtualService routes it: everything to its cluster, hashed by
 * the DestinationRule's consistentHash when it has one (`hash`).
 */
export function defaultRoute(cluster: string, grpc: boolean, hash?: JsonObject): JsonObject {
  if (grpc) return { name: 'default', match: { prefix: '/' }, route: { cluster } };
  const route: JsonObject = { cluster, timeout: '0s', retryPolicy: defaultRetryPolicy(hash !== undefined), maxGrpcTimeout: '0s' };
  if (hash) route.hashPolicy = [hash];
  const parts = cluster.split('|');
  return { name: 'default', match: { prefix: '/' }, route, ...(parts.length === 4 ? { decorator: { operation: `${parts[3]}:${parts[1]}/*` } } : {}) };
}
