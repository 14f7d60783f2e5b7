import type { LabelSelector } from './label-selector.ts';
import type { PodSpec } from './pod.ts';

/** apps/v1 Deployment `spec` (the fields Mizzen reads). */
export interface PodTemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; name?: string };
  spec?: PodSpec;
}

export interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplateSpec;
}
