import type { GeneratedResource } from '../../../src/control/generate/generator.ts';
import type { XdsSnapshot } from '../../../src/control/xds/xds-snapshot.ts';
import { TYPE_URL } from '../../../src/api/xds/type-urls.ts';

/**
 * A hand-written "generator" for protocol tests: real Envoy resources (clusters, endpoints,
 * listeners, routes) kept in a map the test edits; snapshot() freezes the current state.
 */
export class TestWorld {
  private readonly resources = new Map<string, Map<string, Record<string, unknown>>>();
  private version = 0;

  cluster(name: string, timeoutSeconds = 1): this {
    return this.put(TYPE_URL.cluster, name, {
      name,
      type: 'EDS',
      edsClusterConfig: { edsConfig: { ads: {} }, serviceName: name },
      connectTimeout: { seconds: timeoutSeconds },
    });
  }

  endpoints(name: string, port: number): this {
    return this.put(TYPE_URL.endpoint, name, {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } }] }],
    });
  }

  listener(name: string, port: number): this {
    return this.put(TYPE_URL.listener, name, { name, address: { socketAddress: { address: '0.0.0.0', portValue: port } } });
  }

  route(name: string, cluster: string): this {
    return this.put(TYPE_URL.route, name, {
      name,
      virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
    });
  }

  put(typeUrl: string, name: string, resource: Record<string, unknown>): this {
    let m = this.resources.get(typeUrl);
    if (!m) {
      m = new Map();
      this.resources.set(typeUrl, m);
    }
    m.set(name, resource);
    return this;
  }

  remove(typeUrl: string, name: string): this {
    this.resources.get(typeUrl)?.delete(name);
    return this;
  }

  snapshot(): XdsSnapshot {
    const frozen = new Map([...this.resources].map(([t, m]) => [t, new Map(m)]));
    const version = `v${++this.version}`;
    return {
      version,
      generate(_proxy, typeUrl, names): GeneratedResource[] {
        const m = frozen.get(typeUrl) ?? new Map<string, Record<string, unknown>>();
        const wanted = names ?? [...m.keys()];
        return wanted.filter((n) => m.has(n)).map((n) => ({ name: n, resource: m.get(n)! }));
      },
    };
  }
}
