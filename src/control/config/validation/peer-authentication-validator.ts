import type { ConfigResource } from '../../../api/config-resource.ts';
import type { PeerAuthenticationSpec } from '../../../api/istio/peer-authentication.ts';
import type { IssueList } from './issue-list.ts';
import { validatePolicySelection } from './target-refs.ts';

export function validatePeerAuthentication(r: ConfigResource<PeerAuthenticationSpec>, out: IssueList): void {
  const spec = r.spec;
  const emptySelector = !spec.selector || Object.keys(spec.selector.matchLabels ?? {}).length === 0;
  const portLevel = spec.portLevelMtls;
  if (emptySelector && portLevel && Object.keys(portLevel).length !== 0) out.error('spec.portLevelMtls', 'mesh/namespace peer authentication cannot have port level mTLS');
  if (portLevel && Object.keys(portLevel).length === 0) out.error('spec.portLevelMtls', 'port level mTLS, if defined, must have at least one element');
  for (const port of Object.keys(portLevel ?? {})) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n <= 0 || n > 65535) out.error(`spec.portLevelMtls[${port}]`, 'port must be in range 1..65535');
  }
  validatePolicySelection(spec, 'spec', out);
}
