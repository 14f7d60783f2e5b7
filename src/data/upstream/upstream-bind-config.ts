import { isIP } from 'node:net';
import { asArray, asNumber, asObj, asString, wrappedBool } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';

/** One source address upstream sockets bind to (port 0: ephemeral). */
export interface SourceAddress {
  address: string;
  port: number;
}

/**
 * A compiled envoy.config.core.v3.BindConfig (Cluster.upstream_bind_config): the source address
 * per IP family. Envoy binds `source_address`, or the `extra_source_addresses` entry of the
 * destination's family when the destination's family differs (Istio's dual-stack 127.0.0.6 / ::6).
 */
export interface UpstreamBind {
  v4: SourceAddress | undefined;
  v6: SourceAddress | undefined;
}

/** The source address for a destination, or undefined when none of the destination's family is configured. */
export function sourceFor(bind: UpstreamBind, destination: string): SourceAddress | undefined {
  return destination.includes(':') ? bind.v6 : bind.v4;
}

function compileSocketAddress(v: unknown, path: string): SourceAddress {
  const o = asObj(v);
  onlyFields(o, path, ['protocol', 'address', 'portValue', 'ipv4Compat']);
  if (o.protocol !== undefined && o.protocol !== 'TCP') reject(`${path}.protocol`, `only TCP source addresses are supported`);
  const address = asString(o.address);
  if (isIP(address) === 0) reject(`${path}.address`, `source address must be an IP literal, got "${address}"`);
  const port = asNumber(o.portValue, 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) reject(`${path}.portValue`, `invalid port ${String(o.portValue)}`);
  return { address, port };
}

/** Compile `upstream_bind_config`; absent → undefined. Fields the proxy cannot honour are rejected. */
export function compileUpstreamBind(v: unknown, path: string): UpstreamBind | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObj(v);
  onlyFields(o, path, ['sourceAddress', 'freebind', 'socketOptions', 'extraSourceAddresses', 'additionalSourceAddresses']);
  if (wrappedBool(o.freebind) === true) reject(`${path}.freebind`, 'IP_FREEBIND on upstream sockets is not supported');
  if (asArray(o.socketOptions).length > 0) reject(`${path}.socketOptions`, 'socket options on upstream sockets are not supported');
  if (o.sourceAddress === undefined) reject(`${path}.sourceAddress`, 'source_address is required');
  const all = [compileSocketAddress(o.sourceAddress, `${path}.sourceAddress`)];
  asArray(o.extraSourceAddresses).forEach((e, i) => {
    const p = `${path}.extraSourceAddresses[${i}]`;
    onlyFields(e, p, ['address', 'socketOptions']);
    if (asArray(asObj(e.socketOptions).socketOptions).length > 0) reject(`${p}.socketOptions`, 'socket options on upstream sockets are not supported');
    all.push(compileSocketAddress(e.address, `${p}.address`));
  });
  asArray(o.additionalSourceAddresses).forEach((a, i) => all.push(compileSocketAddress(a, `${path}.additionalSourceAddresses[${i}]`)));
  const v4 = all.filter((a) => isIP(a.address) === 4);
  const v6 = all.filter((a) => isIP(a.address) === 6);
  if (v4.length > 1 || v6.length > 1) reject(path, 'at most one source address per IP family');
  return { v4: v4[0], v6: v6[0] };
}
