import type { ConfigResource } from '../../../api/config-resource.ts';
import type { ReadinessProbe, WorkloadGroupSpec } from '../../../api/istio/workload-group.ts';
import { validateStrictHeaderName } from './http-headers.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels } from './labels.ts';
import { validatePort } from './ports.ts';

function validateProbe(probe: ReadinessProbe | undefined, path: string, out: IssueList): void {
  if (!probe) return;
  for (const f of ['periodSeconds', 'initialDelaySeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const) {
    if ((probe[f] ?? 0) < 0) out.error(at(path, f), `${f} must be non-negative`);
  }
  if (probe.httpGet) {
    const h = probe.httpGet;
    const p = at(path, 'httpGet');
    out.check(at(p, 'port'), validatePort(h.port ?? 0));
    if (h.scheme && h.scheme !== 'HTTPS' && h.scheme !== 'HTTP') out.error(at(p, 'scheme'), 'httpGet.scheme must be one of "HTTPS", "HTTP"');
    (h.httpHeaders ?? []).forEach((hdr, i) => {
      if (!hdr) out.error(at(at(p, 'httpHeaders'), i), 'invalid nil header');
      else out.check(at(at(p, 'httpHeaders'), i), validateStrictHeaderName(hdr.name ?? ''));
    });
  } else if (probe.tcpSocket) {
    out.check(at(path, 'tcpSocket.port'), validatePort(probe.tcpSocket.port ?? 0));
  } else if (probe.exec) {
    if (!probe.exec.command?.length) out.error(at(path, 'exec.command'), 'exec.command is required');
  } else if (probe.grpc) {
    out.check(at(path, 'grpc.port'), validatePort(probe.grpc.port ?? 0));
  } else {
    out.error(path, 'unknown health check method <nil>');
  }
}

export function validateWorkloadGroup(r: ConfigResource<WorkloadGroupSpec>, out: IssueList): void {
  if (!r.spec.template) {
    out.error('spec.template', 'template is required');
    return;
  }
  validateLabels(r.spec.metadata?.labels, 'spec.metadata.labels', out);
  validateProbe(r.spec.probe, 'spec.probe', out);
}
