import type { Analyzer } from '../analyzer.ts';
import { obj, objs, str } from '../untyped-fields.ts';

/**
 * Istio's meshnetworks.MeshNetworksAnalyzer: `fromRegistry` in MeshNetworks must name a known
 * registry (`Kubernetes`, `External`, `Mock`) or a cluster from a remote secret (`istio/multiCluster=true`).
 */
export const meshNetworksAnalyzer: Analyzer = {
  name: 'meshnetworks.MeshNetworksAnalyzer',
  description: 'Check the validity of MeshNetworks in the cluster',
  messages: ['UnknownMeshNetworksServiceRegistry'],
  analyze(ctx) {
    const meshNetworks = ctx.list('MeshNetworks')[0];
    if (!meshNetworks) return;
    const known = new Set(['Mock', 'Kubernetes', 'External']);
    for (const s of ctx.list('Secret')) {
      if (s.metadata.labels?.['istio/multiCluster'] !== 'true') continue;
      for (const k of [...Object.keys(obj(s.spec.data)), ...Object.keys(obj(s.spec.stringData))]) known.add(k);
    }
    for (const [name, network] of Object.entries(obj(meshNetworks.spec.networks))) {
      for (const ep of objs(obj(network).endpoints)) {
        const registry = str(ep.fromRegistry);
        if (registry !== '' && !known.has(registry)) ctx.report(meshNetworks, 'UnknownMeshNetworksServiceRegistry', registry, name);
      }
    }
  },
};
