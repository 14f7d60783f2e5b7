import type { ConfigResource } from '../../api/config-resource.ts';
import {
  ISTIO_GATEWAY_CLASS, ISTIO_GATEWAY_CONTROLLER, ISTIO_MESH_CONTROLLER, ISTIO_REMOTE_CLASS, ISTIO_UNMANAGED_CONTROLLER, ISTIO_WAYPOINT_CLASS,
  type GatewayClassSpec,
} from '../../api/gateway-api/gateway-api-types.ts';
import type { ConfigStoreReader } from '../config/config-store-reader.ts';

/**
 * Which controller a GatewayClass name belongs to: istiod's built-in classes (`istio` for
 * gateways it deploys, `istio-waypoint` for waypoints, `istio-remote` for gateways deployed
 * elsewhere) exist without an object, as istiod creates them; a GatewayClass object naming one
 * of Istio's controllers adds a class. Classes of other controllers are not ours.
 */
export type ClassController = 'gateway' | 'mesh' | 'unmanaged' | undefined;

export class GatewayClasses {
  private readonly byName = new Map<string, ClassController>([
    [ISTIO_GATEWAY_CLASS, 'gateway'],
    [ISTIO_WAYPOINT_CLASS, 'mesh'],
    [ISTIO_REMOTE_CLASS, 'unmanaged'],
  ]);
  /** Labels of GatewayClass objects (istio.io/waypoint-for may sit on the class). */
  private readonly labels = new Map<string, Readonly<Record<string, string>>>();

  constructor(config: ConfigStoreReader) {
    for (const r of config.list('GatewayClass') as readonly ConfigResource<GatewayClassSpec>[]) {
      const c = r.spec?.controllerName;
      this.byName.set(r.metadata.name, c === ISTIO_GATEWAY_CONTROLLER ? 'gateway' : c === ISTIO_MESH_CONTROLLER ? 'mesh' : c === ISTIO_UNMANAGED_CONTROLLER ? 'unmanaged' : undefined);
      this.labels.set(r.metadata.name, r.metadata.labels ?? {});
    }
  }

  controller(className: string): ClassController {
    return this.byName.get(className);
  }

  classLabels(className: string): Readonly<Record<string, string>> {
    return this.labels.get(className) ?? {};
  }
}
