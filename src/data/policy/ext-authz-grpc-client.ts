import * as http2 from 'node:http2';
import type protobuf from 'protobufjs';
import { statusCodeNumber } from '../../api/xds/http-status-codes.ts';
import { FRAME_HEADER_BYTES, frameMessage } from '../../lib/grpc-wire/grpc-message-framing.ts';
import { formatGrpcTimeout } from '../../lib/grpc-wire/grpc-timeout.ts';
import type { Http2UpstreamPool } from '../l7/http2-upstream-pool.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { asArray, asNumber, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { checkAttributes, type CheckInput, type CheckResult, type ExtAuthzClient } from './ext-authz-check.ts';
import type { ExtAuthzConfig } from './ext-authz-config.ts';

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** Types the gRPC client encodes and decodes (from the proxy's Envoy root). */
export interface AuthTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

export function authTypes(root: protobuf.Root): AuthTypes {
  return { request: root.lookupType('envoy.service.auth.v3.CheckRequest'), response: root.lookupType('envoy.service.auth.v3.CheckResponse') };
}

/**
 * envoy.service.auth.v3.Authorization/Check over envoy_grpc: one unary call per check on an
 * HTTP/2 session to a host of the configured cluster (its load balancing and TLS: mTLS to an
 * authorizer with a sidecar), with grpc_service.timeout as deadline. Any failure to get an
 * answer (no host, connect failure, deadline, non-OK gRPC status) is an `error` outcome.
 */
export class GrpcExtAuthzClient implements ExtAuthzClient {
  private readonly cfg: ExtAuthzConfig;
  private readonly service: Extract<ExtAuthzConfig['service'], { kind: 'grpc' }>;
  private readonly clusters: ClusterManager;
  private readonly pool: Http2UpstreamPool;
  private readonly types: AuthTypes;

  constructor(cfg: ExtAuthzConfig, clusters: ClusterManager, pool: Http2UpstreamPool, types: AuthTypes) {
    if (cfg.service.kind !== 'grpc') throw new Error('not a gRPC ext_authz config');
    this.cfg = cfg;
    this.service = cfg.service;
    this.clusters = clusters;
    this.pool = pool;
    this.types = types;
  }

  check(input: CheckInput): Promise<CheckResult> {
    const svc = this.service;
    const cluster = this.clusters.get(svc.cluster);
    if (!cluster) return Promise.resolve({ kind: 'error', detail: `cluster ${svc.cluster} not found` });
    const host = cluster.pick(undefined, undefined);
    if (!host) return Promise.resolve({ kind: 'error', detail: `no healthy host in ${svc.cluster}` });
    const message = this.types.request.encode(this.types.request.fromObject({ attributes: checkAttributes(this.cfg, input, Date.now()) })).finish();
    return new Promise((resolve) => {
      let done = false;
      let call: http2.ClientHttp2Stream | undefined;
      const finish = (r: CheckResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (call && !call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
        resolve(r);
      };
      const timer = setTimeout(() => finish({ kind: 'error', detail: 'ext_authz gRPC deadline exceeded' }), svc.timeoutMs);
      this.pool.get(cluster, host, (session, err) => {
        if (done) return;
        if (!session) return finish({ kind: 'error', detail: `ext_authz connect failure: ${err}` });
        const tls = cluster.tlsFor(host) !== undefined;
        call = session.request({
          ':method': 'POST', ':path': CHECK_PATH, ':authority': svc.authority, ':scheme': tls ? 'https' : 'http',
          'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': formatGrpcTimeout(svc.timeoutMs),
        });
        const chunks: Buffer[] = [];
        let status: string | undefined;
        call.on('response', (h) => {
          if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        });
        call.on('trailers', (t) => {
          if (t['grpc-status'] !== undefined) status = String(t['grpc-status']);
        });
        call.on('data', (c: Buffer) => chunks.push(c));
        call.on('error', (e: Error) => finish({ kind: 'error', detail: `ext_authz gRPC call failed: ${e.message}` }));
        call.on('close', () => {
          if (status !== '0') return finish({ kind: 'error', detail: `ext_authz gRPC status ${status ?? 'missing'}` });
          const all = Buffer.concat(chunks);
          if (all.length < FRAME_HEADER_BYTES || all[0] !== 0) return finish({ kind: 'error', detail: 'ext_authz gRPC response is not one uncompressed message' });
          const len = all.readUInt32BE(1);
          try {
            const decoded = this.types.response.decode(all.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len));
            finish(checkResponseResult(this.types.response.toObject(decoded, { enums: String, longs: Number, bytes: String }) as Obj));
          } catch (e) {
            finish({ kind: 'error', detail: `ext_authz CheckResponse undecodable: ${(e as Error).message}` });
          }
        });
        call.end(frameMessage(message));
      });
    });
  }
}

function headerOptions(list: unknown): { set: [string, string][]; append: [string, string][] } {
  const set: [string, string][] = [];
  const append: [string, string][] = [];
  for (const o of asArray(list)) {
    const h = asObj(o.header);
    const key = asString(h.key).toLowerCase();
    if (!key) continue;
    const value = h.rawValue !== undefined ? Buffer.from(asString(h.rawValue), 'base64').toString('latin1') : asString(h.value);
    // OkHttpResponse/DeniedHttpResponse headers: `append` defaults to false here (override)
    (asObj(o.append).value === true ? append : set).push([key, value]);
  }
  return { set, append };
}

/** CheckResponse → outcome: OK status allows (with its header mutations), anything else denies. */
export function checkResponseResult(r: Obj): CheckResult {
  const code = asNumber(asObj(r.status).code);
  if (code === 0) {
    const ok = asObj(r.okResponse);
    const h = headerOptions(ok.headers);
    const client = headerOptions(ok.responseHeadersToAdd);
    return {
      kind: 'ok',
      upstreamSet: h.set,
      upstreamAppend: h.append,
      upstreamRemove: (Array.isArray(ok.headersToRemove) ? ok.headersToRemove : []).map((x) => String(x).toLowerCase()),
      clientHeaders: [...client.set, ...client.append],
    };
  }
  const denied = asObj(r.deniedResponse);
  const h = headerOptions(denied.headers);
  return { kind: 'denied', status: statusCodeNumber(asObj(denied.status).code) ?? 403, body: asString(denied.body), headers: [...h.set, ...h.append] };
}
