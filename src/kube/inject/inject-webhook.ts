import type { AdmissionRequest, AdmissionResponse } from '../admission-review.ts';
import { injectRequired, type PodLike } from './injection-policy.ts';
import type { InjectionSettings } from './injection-settings.ts';
import { createJsonPatch } from './json-patch.ts';
import { injectPod } from './sidecar-injector.ts';

/**
 * `/inject`: the sidecar injector webhook. Always allows the pod (a failure to inject must not
 * block workloads, as istiod); when injection applies, answers a JSON Patch from the pod as sent
 * to the injected pod.
 */
export function injectAdmission(request: AdmissionRequest, settings: InjectionSettings): AdmissionResponse {
  const uid = request.uid;
  if (request.kind.kind !== 'Pod' || request.operation !== 'CREATE' || !request.object) return { uid, allowed: true };
  const pod = request.object as PodLike;
  const namespace = request.namespace ?? pod.metadata?.namespace ?? 'default';
  const decision = injectRequired(pod, namespace);
  if (!decision.inject) return { uid, allowed: true };
  const injected = injectPod(pod, namespace, settings);
  const patch = createJsonPatch(pod, injected);
  return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') };
}
