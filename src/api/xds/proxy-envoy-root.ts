import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ENVOY_PROTO_FILES, loadEnvoyRoot } from './envoy-protos.ts';
import { pruneRoot } from './envoy-root-pruner.ts';

/**
 * The Envoy types the data plane decodes, as one small protobufjs Root. Discovery keeps the full
 * Root (loadEnvoyRoot); the proxy needs only the xDS resources, the discovery messages and the
 * typed configs it understands — every file of ENVOY_PROTO_FILES except the admin dump and CSDS
 * (which import Envoy's whole bootstrap), with what they reference, plus the well-known types.
 * Measured: ~6 MB less per proxy than parsing the .proto files. An `Any` whose type is not in it
 * decodes as an unknown type (`typeUrl`/`value`), which is what the full Root does for every type
 * it does not know either; discovery never sends those (see control/generate/envoy-extensions.ts).
 *
 * The pruned descriptor is cached as JSON in node_modules/.cache/mizzen-envoy/ (filled by
 * `npm prepare` through bin/strip-cache.js, or by the first proxy that can write there), keyed
 * by the protobufjs and @grpc/grpc-js-xds versions and the file list.
 */
export const PROXY_ENVOY_FILES: readonly string[] = ENVOY_PROTO_FILES.filter(
  (f) => f !== 'envoy/admin/v3/config_dump.proto' && f !== 'envoy/service/status/v3/csds.proto',
);

/** Well-known types kept whether or not a kept field refers to them (they may travel in an Any). */
const WELL_KNOWN = ['Any', 'Duration', 'Timestamp', 'Empty', 'Struct', 'Value', 'ListValue', 'NullValue', 'DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`);

/** Bump when the pruning changes, so old cache files are rebuilt. */
const FORMAT = 1;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where the descriptor is cached by default. */
export const PROXY_ENVOY_ROOT_CACHE = join(repoRoot, 'node_modules', '.cache', 'mizzen-envoy', 'proxy-root.json');

function cacheKey(): string {
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;
  return JSON.stringify({ format: FORMAT, protobufjs: version('protobufjs'), xds: version('@grpc/grpc-js-xds'), files: PROXY_ENVOY_FILES });
}

/** The pruned descriptor built from the .proto files (parses the full Root: ~300 ms, and its memory). */
export function buildProxyEnvoyDescriptor(): protobuf.INamespace {
  return pruneRoot(loadEnvoyRoot(), PROXY_ENVOY_FILES, WELL_KNOWN);
}

/**
 * The proxy's descriptor from the cache, built and written (atomically, when the directory is
 * writable) on a miss. `built` says whether this call parsed the .proto files.
 */
export function proxyEnvoyDescriptor(cacheFile = PROXY_ENVOY_ROOT_CACHE): { descriptor: protobuf.INamespace; built: boolean } {
  return cachedDescriptor(cacheFile, cacheKey(), buildProxyEnvoyDescriptor);
}

function cachedDescriptor(cacheFile: string, key: string, build: () => protobuf.INamespace): { descriptor: protobuf.INamespace; built: boolean } {
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key?: string; root?: protobuf.INamespace };
    if (cached.key === key && cached.root) return { descriptor: cached.root, built: false };
  } catch {
    // not cached yet, or unreadable: build it
  }
  const descriptor = build();
  try {
    mkdirSync(dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key, root: descriptor }));
    renameSync(tmp, cacheFile);
  } catch {
    // read-only cache (e.g. a sidecar running as 1337): use it uncached
  }
  return { descriptor, built: true };
}

/**
 * The Envoy types a workload-API client (ztunnel, the waypoint's peer lookup) decodes: only the
 * delta discovery messages and what they reference (Node, Resource, Status, Any). ~0.6 MB of
 * heap where the proxy's root takes ~3.4 MB (measured with Node 24).
 */
export const DISCOVERY_ENVOY_TYPES: readonly string[] = ['envoy.service.discovery.v3.DeltaDiscoveryRequest', 'envoy.service.discovery.v3.DeltaDiscoveryResponse', 'google.protobuf.Any'];

/** Where the discovery-only descriptor is cached by default (beside the proxy's). */
export const DISCOVERY_ENVOY_ROOT_CACHE = join(dirname(PROXY_ENVOY_ROOT_CACHE), 'discovery-root.json');

/** The discovery-only descriptor, pruned from the proxy's (cached beside it, same rules). */
export function discoveryEnvoyDescriptor(cacheFile = DISCOVERY_ENVOY_ROOT_CACHE, proxyCacheFile = PROXY_ENVOY_ROOT_CACHE): { descriptor: protobuf.INamespace; built: boolean } {
  const key = JSON.stringify({ proxy: cacheKey(), types: DISCOVERY_ENVOY_TYPES });
  return cachedDescriptor(cacheFile, key, () => pruneRoot(protobuf.Root.fromJSON(proxyEnvoyDescriptor(proxyCacheFile).descriptor), [], DISCOVERY_ENVOY_TYPES));
}

/** A fresh Root with the discovery messages alone (from the cached descriptor). */
export function loadDiscoveryEnvoyRoot(cacheFile = DISCOVERY_ENVOY_ROOT_CACHE, proxyCacheFile = PROXY_ENVOY_ROOT_CACHE): protobuf.Root {
  const root = protobuf.Root.fromJSON(discoveryEnvoyDescriptor(cacheFile, proxyCacheFile).descriptor);
  root.resolveAll();
  return root;
}

/** A fresh Root with the proxy's Envoy types (from the cached descriptor). */
export function loadProxyEnvoyRoot(cacheFile = PROXY_ENVOY_ROOT_CACHE): protobuf.Root {
  const root = protobuf.Root.fromJSON(proxyEnvoyDescriptor(cacheFile).descriptor);
  root.resolveAll();
  return root;
}
