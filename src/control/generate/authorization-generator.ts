import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { ambientIndexOf } from './ambient-index-of.ts';
import type { GeneratedResource, GenerateRequest, Generator } from './generator.ts';

/**
 * `type.googleapis.com/istio.security.Authorization` for ztunnel (istiod's
 * WorkloadRBACGenerator): every converted AuthorizationPolicy and PeerAuthentication, named
 * `namespace/name`; always a wildcard subscription (ztunnel never asks for these on demand).
 */
export class AuthorizationGenerator implements Generator {
  readonly typeUrl = TYPE_URL.authorization;

  generate(_proxy: ProxyInfo, push: PushContext, _request: GenerateRequest): GeneratedResource[] {
    return push.cached('ambient-authorizations', () => ambientIndexOf(push).authorizations.map((a) => ({ name: a.name, resource: a.resource as unknown as Record<string, unknown> })));
  }
}
