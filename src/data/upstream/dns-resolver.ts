import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { EndpointSpec } from './endpoint-config.ts';

/** STRICT_DNS: every address each hostname resolves to becomes an endpoint. */
export async function resolveStrictDns(endpoints: readonly EndpointSpec[], family: 0 | 4 | 6 = 0): Promise<EndpointSpec[]> {
  const out: EndpointSpec[] = [];
  for (const e of endpoints) {
    if (isIP(e.address)) {
      out.push(e);
      continue;
    }
    const addrs = (await lookup(e.address, { all: true, family })).sort((a, b) => a.family - b.family);
    for (const a of addrs) out.push({ ...e, address: a.address, hostname: e.address });
  }
  return out;
}
