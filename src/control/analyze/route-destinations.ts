import { arr, obj, objs, str, type Obj } from './untyped-fields.ts';

/** A destination inside a VirtualService, with where it sits (for messages). */
export interface RouteDestination {
  destination: Obj;
  host: string;
  subset: string;
  /** `http`, `tcp`, `tls` or `http.mirror`. */
  rule: string;
  ruleIndex: number;
  routeIndex: number;
  /** The http/tcp/tls rule the destination belongs to. */
  route: Obj;
}

function fromDestination(destination: Obj, rule: string, ruleIndex: number, routeIndex: number, route: Obj): RouteDestination {
  return { destination, host: str(destination.host), subset: str(destination.subset), rule, ruleIndex, routeIndex, route };
}

/** Every `route[].destination` of the http, tcp and tls rules of a VirtualService spec. */
export function routeDestinations(spec: Obj): RouteDestination[] {
  const out: RouteDestination[] = [];
  for (const rule of ['http', 'tcp', 'tls']) {
    objs(spec[rule]).forEach((r, i) => {
      objs(r.route).forEach((rd, j) => {
        out.push(fromDestination(obj(rd.destination), rule, i, j, r));
      });
    });
  }
  return out;
}

/** Every http mirror destination (`mirror` and `mirrors[].destination`). */
export function mirrorDestinations(spec: Obj): RouteDestination[] {
  const out: RouteDestination[] = [];
  objs(spec.http).forEach((r, i) => {
    if (r.mirror !== undefined && r.mirror !== null) out.push(fromDestination(obj(r.mirror), 'http.mirror', i, 0, r));
    arr(r.mirrors).forEach((m, j) => {
      const d = obj(m).destination;
      if (d !== undefined) out.push(fromDestination(obj(d), 'http.mirror', i, j, r));
    });
  });
  return out;
}

/** The FullName Istio derives from a host: `name.ns...` gives ns/name, a short name the default namespace. */
export function resourceNameFromHost(defaultNamespace: string, host: string): { namespace: string; name: string } {
  const parts = host.split('.');
  if (parts.length < 2) return { namespace: defaultNamespace, name: host };
  return { namespace: parts[1] ?? defaultNamespace, name: parts[0] ?? host };
}
