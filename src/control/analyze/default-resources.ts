import type { ConfigResource } from '../../api/config-resource.ts';
import { str, type Obj } from './untyped-fields.ts';

function resource(apiVersion: string, kind: string, metadata: Obj, spec: Obj): ConfigResource {
  const slash = apiVersion.lastIndexOf('/');
  return {
    apiVersion,
    kind,
    group: slash < 0 ? '' : apiVersion.slice(0, slash),
    version: slash < 0 ? apiVersion : apiVersion.slice(slash + 1),
    metadata: metadata as ConfigResource['metadata'],
    spec,
    raw: { apiVersion, kind, metadata, spec },
  };
}

/**
 * What Istio's file-only analysis adds so that a user's files need not include the control
 * plane: a stand-in ingress gateway Pod and Service in the Istio namespace (unless the mesh
 * config turns the ingress controller off).
 */
export function defaultResources(istioNamespace: string, meshConfig: Obj): ConfigResource[] {
  if (str(meshConfig.ingressControllerMode).toUpperCase() === 'OFF') return [];
  const svc = str(meshConfig.ingressService) || 'istio-ingressgateway';
  const labels = { istio: 'ingressgateway' };
  return [
    resource('v1', 'Pod', { name: `${svc}-dummypod`, namespace: istioNamespace, labels }, { containers: [{ name: 'istio-proxy' }] }),
    resource('v1', 'Service', { name: svc, namespace: istioNamespace }, {
      ports: [
        { name: 'http2', nodePort: 31380, port: 80, protocol: 'TCP', targetPort: 80 },
        { name: 'https', nodePort: 31390, port: 443, protocol: 'TCP', targetPort: 443 },
        { name: 'tcp', nodePort: 31400, port: 31400, protocol: 'TCP', targetPort: 31400 },
        { name: 'tls', nodePort: 31447, port: 15443, protocol: 'TCP', targetPort: 15443 },
      ],
      selector: labels,
    }),
  ];
}
