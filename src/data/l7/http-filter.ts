import { FilterFactoryRegistry, type FilterFactory } from '../xds-client/filter-factory-registry.ts';
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
  /**
   * The request body so far, once it is complete or at least `maxBytes` long (ext_authz
   * with_request_body); the body still goes upstream afterwards. Absent where not supported.
   */
  bufferBody?(maxBytes: number): Promise<{ data: Buffer; complete: boolean }>;
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
  /**
   * Called for every filter of the chain when a stream's filters are about to run (after route
   * selection), even for filters after one that answers locally: Envoy creates the whole chain
   * per stream, so a filter that logs at the end (istio.stats) sees a fault abort or an RBAC
   * denial by an earlier filter.
   */
  streamStart?(ctx: FilterContext): void;
  decodeHeaders?(ctx: FilterContext): FilterVerdict | Promise<FilterVerdict>;
  encodeHeaders?(ctx: FilterContext, status: number, headers: HeaderList): void;
}

/** Builds a filter from its typed_config (throws ResourceRejection for invalid config). */
export type HttpFilterFactory = FilterFactory<HttpFilter>;

/**
 * HTTP filter factories by config type (built-ins: fault, cors, router; others add rbac,
 * jwt_authn, ...), plus the HCM access-log hook.
 */
export class HttpFilterRegistry extends FilterFactoryRegistry<HttpFilter> {
  /** Compiles an HCM's `access_log` list into a filter that marks streams for logging (telemetry). */
  accessLog: ((entries: Obj[], path: string) => HttpFilter | undefined) | undefined;
  /** Compiles an HCM's `tracing` into the filter that samples, starts spans and propagates context. */
  tracing: ((config: Obj, path: string) => HttpFilter | undefined) | undefined;
}
