import type { GeneratedResource } from '../generate/generator.ts';
import type { ProxyInfo } from './proxy-info.ts';

/**
 * "What to send": one immutable view of the mesh (a push context plus the generators), as the
 * ADS server sees it. The server knows nothing of Istio kinds; it asks the snapshot for the
 * resources of one type URL for one proxy. `names` undefined means wildcard.
 */
export interface XdsSnapshot {
  /** Push version, sent as version_info / system_version_info. */
  readonly version: string;
  generate(proxy: ProxyInfo, typeUrl: string, names: readonly string[] | undefined): GeneratedResource[];
}

/** An empty snapshot, served until the first push context is ready. */
export function emptySnapshot(version = 'init'): XdsSnapshot {
  return { version, generate: () => [] };
}
