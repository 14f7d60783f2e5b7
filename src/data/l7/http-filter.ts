import type { Obj } from '../xds-client/proto-values.ts';
import type { HeaderList } from '../http1/header-list.ts';
import type { Route } from './route-table.ts';
import type { StreamInfo } from './stream-info.ts';

/** A response the proxy produces itself (deny, fault abort, CORS preflight, ...). */
export interface LocalReply {
  status: number;
  body?: string;
  headers?: readonly [string, string][];
  /** Envoy response flag to record (FI, UAEX, RBAC: use 'RBAC' details with no flag, ...). */
  flag?: string;
  details?: string;
}

/** The request as filters see it; headers are mutable (filters may add/remove). */
export interface FilterRequest {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  headers: HeaderList;
}

export interface FilterContext {
  request: FilterRequest;
  info: StreamInfo;
  /** The matched route (undefined: none matched, the router will answer 404 NR). */
  route: Route | undefined;
}

/** A filter's decision on request headers: continue (undefined) or answer locally. */
export type FilterVerdict = LocalReply | undefined;

/**
 * An HTTP filter in the connection manager's chain (envoy.filters.http.*), compiled once per
 * listener config. `decodeHeaders` runs after route selection and before the router; it may
 * return a promise (JWT key fetch, fault delay). `encodeHeaders` may change response headers.
 * This is the hook for RBAC, JWT, telemetry (metadata exchange) filters.
 */
export interface HttpFilter {
  readonly name: string;
  decodeHeaders?(ctx: FilterContext): FilterVerdict | Promise<FilterVerdict>;
  encodeHeaders?(ctx: FilterContext, status: number, headers: HeaderList): void;
}

/** Builds a filter from its typed_config (throws ResourceRejection for invalid config). */
export type HttpFilterFactory = (name: string, config: Obj, path: string) => HttpFilter;

/**
 * Filter factories by config type (`@type` of typed_config). The composition root registers the
 * built-in ones (fault, cors, router) and other components add theirs (rbac, jwt_authn, ...).
 * Filters in `ignored` are accepted and skipped (no traffic effect in this proxy); anything else
 * unknown is rejected unless the HCM marks it is_optional.
 */
export class HttpFilterRegistry {
  private readonly factories = new Map<string, HttpFilterFactory>();
  private readonly ignoredTypes = new Set<string>();
  private readonly ignoredNames = new Set<string>();
  /** Compiles an HCM's `access_log` list into a filter that marks streams for logging (telemetry). */
  accessLog: ((entries: Obj[], path: string) => HttpFilter | undefined) | undefined;

  register(typeName: string, factory: HttpFilterFactory): this {
    this.factories.set(typeName, factory);
    return this;
  }

  ignoreType(typeName: string): this {
    this.ignoredTypes.add(typeName);
    return this;
  }

  ignoreName(name: string): this {
    this.ignoredNames.add(name);
    return this;
  }

  /** The factory for a type (full message name, e.g. envoy.extensions.filters.http.fault.v3.HTTPFault). */
  factory(typeName: string): HttpFilterFactory | undefined {
    return this.factories.get(typeName);
  }

  isIgnored(typeName: string, name: string): boolean {
    return this.ignoredTypes.has(typeName) || this.ignoredNames.has(name);
  }
}
