import type { ProxyInfo } from '../xds/proxy-info.ts';
import { AddressGenerator } from './address-generator.ts';
import { AuthorizationGenerator } from './authorization-generator.ts';
import { ClusterGenerator } from './cluster-generator.ts';
import { EndpointGenerator } from './endpoint-generator.ts';
import type { Generator } from './generator.ts';
import { ListenerGenerator } from './listener-generator.ts';
import { NameTableGenerator } from './name-table-generator.ts';
import { RouteGenerator } from './route-generator.ts';

/**
 * typeUrl → Generator. The same four Envoy generators serve every Envoy-speaking proxy kind
 * (they branch on the proxy: sidecar, router, proxyless gRPC), with Istio's NDS name table for
 * the proxies that ask for it (DNS capture); ztunnel gets Istio's workload API
 * (Address, Authorization) and nothing else. A type URL without a generator is not served (the
 * server answers with no resources). Created by the composition root; stateless.
 */
export class GeneratorRegistry {
  private readonly byType: ReadonlyMap<string, Generator>;
  private readonly workloadApi: ReadonlyMap<string, Generator>;
  private readonly waypoint: ReadonlyMap<string, Generator>;

  constructor(
    generators: readonly Generator[] = [new ClusterGenerator(), new EndpointGenerator(), new ListenerGenerator(), new RouteGenerator(), new NameTableGenerator()],
    workloadApi: readonly Generator[] = [new AddressGenerator(), new AuthorizationGenerator()],
  ) {
    this.byType = new Map(generators.map((g) => [g.typeUrl, g]));
    this.workloadApi = new Map(workloadApi.map((g) => [g.typeUrl, g]));
    // waypoints also read the workload API (their peers for telemetry), as Istio's do
    this.waypoint = new Map([...this.byType, ...this.workloadApi]);
  }

  /** The generator for a type URL, if this proxy is served that type. */
  get(typeUrl: string, proxy: ProxyInfo): Generator | undefined {
    return this.generatorsFor(proxy).get(typeUrl);
  }

  /** All generators a proxy uses, keyed by type URL. */
  generatorsFor(proxy: ProxyInfo): ReadonlyMap<string, Generator> {
    if (proxy.type === 'waypoint') return this.waypoint;
    return proxy.type === 'ztunnel' ? this.workloadApi : this.byType;
  }

  typeUrls(): string[] {
    return [...this.byType.keys(), ...this.workloadApi.keys()];
  }
}
