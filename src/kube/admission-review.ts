/**
 * admission.k8s.io/v1 AdmissionReview: what the API server sends a webhook and what it expects
 * back. Only the fields Mizzen reads or writes are typed.
 */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object?: Record<string, unknown>;
  oldObject?: Record<string, unknown>;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  /** base64 of a JSON Patch (RFC 6902) array. */
  patch?: string;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** Parse a request body; undefined with a reason when it is not an AdmissionReview with a request. */
export function parseAdmissionReview(body: string): { review: AdmissionReview & { request: AdmissionRequest } } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    return { error: `body is not JSON: ${(err as Error).message}` };
  }
  const r = v as AdmissionReview;
  if (typeof r !== 'object' || r === null || r.kind !== 'AdmissionReview') return { error: 'body is not an AdmissionReview' };
  if (r.apiVersion !== 'admission.k8s.io/v1' && r.apiVersion !== 'admission.k8s.io/v1beta1') return { error: `unsupported AdmissionReview version ${String(r.apiVersion)}` };
  if (!r.request || typeof r.request.uid !== 'string') return { error: 'AdmissionReview has no request' };
  return { review: r as AdmissionReview & { request: AdmissionRequest } };
}

/** The AdmissionReview to answer with (same apiVersion as the request). */
export function admissionResponse(review: AdmissionReview, response: AdmissionResponse): AdmissionReview {
  return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response };
}
