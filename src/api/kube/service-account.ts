/** core/v1 ServiceAccount payload (no `spec`; Mizzen uses only its name and namespace). */
export interface ServiceAccountPayload {
  automountServiceAccountToken?: boolean;
  secrets?: { name?: string }[];
}
