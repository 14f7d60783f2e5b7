import type { ConfigResource } from '../../api/config-resource.ts';

/** One target group of Prometheus' file-based service discovery (`file_sd_configs`). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Kubernetes SD's label-name sanitizing: every character outside [a-zA-Z0-9_] becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

interface PodShape {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] };
  spec?: { nodeName?: string; containers?: { name?: string; image?: string; ports?: { name?: string; containerPort?: number; protocol?: string }[] }[] };
  status?: { phase?: string; podIP?: string; hostIP?: string; conditions?: { type?: string; status?: string }[] };
}

/**
 * The targets Prometheus' Kubernetes service discovery (`role: pod`) finds for these Pod objects,
 * with its `__meta_kubernetes_pod_*` labels: one target per declared container port
 * (`IP:PORT`), one (`IP`) for a container without ports. Written to a file_sd file, they let
 * Istio's own Prometheus relabelling (the `kubernetes-pods` job, prometheus.io/* annotations)
 * run unchanged on a mesh that has no API server. Pods without an IP are left out, as Kubernetes
 * SD leaves them out until they have one.
 */
export function kubernetesPodTargets(pods: readonly ConfigResource[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const r of pods) {
    const pod = r.raw as PodShape;
    const ip = pod.status?.podIP;
    if (!ip) continue;
    const meta = pod.metadata ?? {};
    const common: Record<string, string> = {
      __meta_kubernetes_namespace: meta.namespace ?? r.metadata.namespace ?? 'default',
      __meta_kubernetes_pod_name: meta.name ?? r.metadata.name,
      __meta_kubernetes_pod_ip: ip,
      __meta_kubernetes_pod_ready: String(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'),
      __meta_kubernetes_pod_phase: pod.status?.phase ?? 'Unknown',
      __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? '',
      __meta_kubernetes_pod_host_ip: pod.status?.hostIP ?? '',
      __meta_kubernetes_pod_uid: meta.uid ?? '',
    };
    for (const [k, v] of Object.entries(meta.labels ?? {})) {
      common[`__meta_kubernetes_pod_label_${sanitizeLabelName(k)}`] = v;
      common[`__meta_kubernetes_pod_labelpresent_${sanitizeLabelName(k)}`] = 'true';
    }
    for (const [k, v] of Object.entries(meta.annotations ?? {})) {
      common[`__meta_kubernetes_pod_annotation_${sanitizeLabelName(k)}`] = v;
      common[`__meta_kubernetes_pod_annotationpresent_${sanitizeLabelName(k)}`] = 'true';
    }
    const owner = meta.ownerReferences?.find((o) => o.controller);
    if (owner?.kind && owner.name) {
      common.__meta_kubernetes_pod_controller_kind = owner.kind;
      common.__meta_kubernetes_pod_controller_name = owner.name;
    }
    for (const c of pod.spec?.containers ?? []) {
      const container = { ...common, __meta_kubernetes_pod_container_name: c.name ?? '', __meta_kubernetes_pod_container_image: c.image ?? '', __meta_kubernetes_pod_container_init: 'false' };
      const ports = c.ports ?? [];
      if (ports.length === 0) {
        groups.push({ targets: [ip], labels: container });
        continue;
      }
      for (const p of ports) {
        if (!p.containerPort) continue;
        groups.push({
          targets: [`${ip.includes(':') ? `[${ip}]` : ip}:${p.containerPort}`],
          labels: { ...container, __meta_kubernetes_pod_container_port_name: p.name ?? '', __meta_kubernetes_pod_container_port_number: String(p.containerPort), __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP' },
        });
      }
    }
  }
  return groups;
}
