import type { ConfigResource } from '../api/config-resource.ts';
import {
  GATEWAY_NAME_LABEL, ISTIO_GATEWAY_CLASS, ISTIO_WAYPOINT_CLASS, type GatewaySpec, type GatewayStatus,
} from '../api/gateway-api/gateway-api-types.ts';
import { GATEWAY_API_GROUP } from '../api/kinds.ts';

/**
 * istiod's gateway deployment controller for a local mesh: a Gateway API `Gateway` whose class is
 * `istio` gets a Deployment, Service and ServiceAccount `NAME-istio` running the proxy as a
 * gateway (`mizzen proxy router`, Istio's `gateway` injection template); one of class
 * `istio-waypoint` gets `NAME` running `mizzen proxy waypoint` (pods labelled
 * `gateway.networking.k8s.io/gateway-name`, never captured by ambient mode, speaking HBONE natively).
 * The objects carry the Gateway as owner and go with it. Once a pod is ready the Gateway's status
 * gets the Service's hostname as address and Programmed=True, which is what makes a waypoint
 * usable (before that, ambient traffic bypasses it, as in Istio).
 */
export const DERIVED_FROM_ANNOTATION = 'gateway.istio.io/controller-owned-by';

export type GatewayRole = 'gateway' | 'waypoint';

export function gatewayRole(r: ConfigResource): GatewayRole | undefined {
  if (r.group !== GATEWAY_API_GROUP || r.kind !== 'Gateway') return undefined;
  const cls = (r.spec as unknown as GatewaySpec | undefined)?.gatewayClassName;
  return cls === ISTIO_GATEWAY_CLASS ? 'gateway' : cls === ISTIO_WAYPOINT_CLASS ? 'waypoint' : undefined;
}

/** The Deployment/Service/ServiceAccount name for a Gateway. */
export function deployedName(gateway: ConfigResource, role: GatewayRole): string {
  return role === 'waypoint' ? gateway.metadata.name : `${gateway.metadata.name}-istio`;
}

function object(apiVersion: string, kind: string, group: string, metadata: Record<string, unknown>, body: Record<string, unknown>): ConfigResource {
  const spec = (body.spec ?? {}) as Record<string, unknown>;
  return { apiVersion, kind, group, version: 'v1', metadata: metadata as ConfigResource['metadata'], spec, raw: { apiVersion, kind, metadata, ...body } };
}

/** The objects a Gateway's deployment consists of (empty when its class is not one istiod deploys). */
export function gatewayDeploymentObjects(gateway: ConfigResource): ConfigResource[] {
  const role = gatewayRole(gateway);
  if (!role) return [];
  const ns = gateway.metadata.namespace ?? 'default';
  const name = deployedName(gateway, role);
  const gwName = gateway.metadata.name;
  const spec = gateway.spec as unknown as GatewaySpec;
  const owner = `${GATEWAY_API_GROUP}/Gateway/${ns}/${gwName}`;
  const labels: Record<string, string> = { [GATEWAY_NAME_LABEL]: gwName, 'gateway.networking.k8s.io/gateway-class-name': spec.gatewayClassName, 'gateway.istio.io/managed': role === 'waypoint' ? 'istio.io-mesh-controller' : 'istio.io-gateway-controller' };
  const meta = (n: string): Record<string, unknown> => ({
    name: n,
    namespace: ns,
    labels,
    annotations: { [DERIVED_FROM_ANNOTATION]: owner },
    ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: gwName, ...(gateway.metadata.uid ? { uid: gateway.metadata.uid } : {}) }],
  });
  const ports: Record<string, unknown>[] = [{ name: 'status-port', port: 15021, protocol: 'TCP', targetPort: 15021 }];
  if (role === 'waypoint') ports.push({ name: 'mesh', port: 15008, protocol: 'TCP', targetPort: 15008, appProtocol: 'all' });
  else for (const l of spec.listeners ?? []) if (!ports.some((p) => p.port === l.port)) ports.push({ name: `${l.protocol.toLowerCase()}-${l.port}`, port: l.port, protocol: 'TCP', targetPort: l.port });
  const podLabels: Record<string, string> = {
    ...labels,
    'sidecar.istio.io/inject': 'true',
    // a gateway or waypoint is never captured by ambient mode; a waypoint speaks HBONE itself
    'istio.io/dataplane-mode': 'none',
    ...(role === 'waypoint' ? { 'networking.istio.io/tunnel': 'http', app: name } : { app: name }),
  };
  const deployment = object('apps/v1', 'Deployment', 'apps', meta(name), {
    spec: {
      replicas: 1,
      selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gwName } },
      template: {
        metadata: { labels: podLabels, annotations: { 'inject.istio.io/templates': role === 'waypoint' ? 'waypoint' : 'gateway' } },
        spec: {
          serviceAccountName: name,
          containers: [{ name: 'istio-proxy', image: 'auto', ports: ports.map((p) => ({ containerPort: p.targetPort, name: p.name })) }],
        },
      },
    },
  });
  const service = object('v1', 'Service', '', meta(name), { spec: { selector: { [GATEWAY_NAME_LABEL]: gwName }, ports } });
  const account = object('v1', 'ServiceAccount', '', meta(name), {});
  return [account, service, deployment];
}

/** Is this object one the controller made (and so removes when its Gateway goes)? */
export function derivedFrom(r: ConfigResource): string | undefined {
  return r.metadata.annotations?.[DERIVED_FROM_ANNOTATION];
}

/**
 * The Gateway's status as istiod writes it: Accepted always (the class is ours), Programmed and the
 * Service hostname as address once a pod of its deployment is ready.
 */
export function gatewayStatus(gateway: ConfigResource, ready: boolean, previous: GatewayStatus | undefined, now: string): GatewayStatus {
  const role = gatewayRole(gateway);
  const ns = gateway.metadata.namespace ?? 'default';
  const host = `${deployedName(gateway, role ?? 'gateway')}.${ns}.svc.cluster.local`;
  const generation = gateway.metadata.generation;
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string): NonNullable<GatewayStatus['conditions']>[number] => {
    const prev = previous?.conditions?.find((c) => c.type === type);
    return { type, status, reason, message, lastTransitionTime: prev && prev.status === status ? (prev.lastTransitionTime ?? now) : now, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  };
  const spec = gateway.spec as unknown as GatewaySpec;
  return {
    ...(ready ? { addresses: [{ type: 'Hostname', value: host }] } : {}),
    conditions: [
      cond('Accepted', 'True', 'Accepted', 'Resource accepted'),
      ready ? cond('Programmed', 'True', 'Programmed', 'Resource programmed, assigned to service(s) ' + host) : cond('Programmed', 'False', 'Pending', `Deployment ${deployedName(gateway, role ?? 'gateway')} has no ready pod yet`),
    ],
    listeners: (spec.listeners ?? []).map((l) => ({
      name: l.name,
      attachedRoutes: 0,
      supportedKinds: role === 'waypoint' ? [] : [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute' }, { group: GATEWAY_API_GROUP, kind: 'GRPCRoute' }],
      conditions: [cond('Accepted', 'True', 'Accepted', 'No errors found'), ready ? cond('Programmed', 'True', 'Programmed', 'No errors found') : cond('Programmed', 'False', 'Pending', 'Waiting for a ready pod')],
    })),
  };
}
