import type { ProxyInfo } from '../xds/proxy-info.ts';
import { ClusterGenerator } from './cluster-generator.ts';
import { EndpointGenerator } from './endpoint-generator.ts';
import type { Generator } from './generator.ts';
import { ListenerGenerator } from './listener-generator.ts';
import { RouteGenerator } from './route-generator.ts';

/**
 * typeUrl → Generator. The same four generators serve every proxy kind (they branch on the
 * proxy: sidecar, router, proxyless gRPC); a type URL without a generator is not served (the
 * server answers with no resources). Created by the composition root; stateless.
 */
export class GeneratorRegistry {
  private readonly byType: ReadonlyMap<string, Generator>;

  constructor(generators: readonly Generator[] = [new ClusterGenerator(), new EndpointGenerator(), new ListenerGenerator(), new RouteGenerator()]) {
    this.byType = new Map(generators.map((g) => [g.typeUrl, g]));
  }

  /** The generator for a type URL, if this proxy is served that type. */
  get(typeUrl: string, proxy: ProxyInfo): Generator | undefined {
    if (proxy.type === 'ztunnel') return undefined; // ztunnel speaks the workload API, not Envoy's
    return this.byType.get(typeUrl);
  }

  /** All generators a proxy uses, keyed by type URL. */
  generatorsFor(proxy: ProxyInfo): ReadonlyMap<string, Generator> {
    if (proxy.type === 'ztunnel') return new Map();
    return this.byType;
  }

  typeUrls(): string[] {
    return [...this.byType.keys()];
  }
}
