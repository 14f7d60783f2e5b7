import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Istio's published test data, next to the repository (`../shared/istio`); tests skip without it. */
export const ISTIO_DATA = fileURLToPath(new URL('../../../shared/istio/', import.meta.url));

export function istioDataMissing(sub: string): string | false {
  return existsSync(ISTIO_DATA + sub) ? false : `Istio test data not found at ${ISTIO_DATA}${sub} (../shared/istio); skipping`;
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
