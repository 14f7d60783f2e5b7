import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, analyzeClusters } from '../../src/control/analyze/analyze.ts';
import { formatTemplate } from '../../src/control/analyze/analysis-message.ts';
import { allAnalyzers } from '../../src/control/analyze/all-analyzers.ts';
import { hostMatches, hostSubsetOf, hostsForNamespace, toFqdn } from '../../src/control/analyze/host-name.ts';
import { labelSelectorMatches, selectorString } from '../../src/control/analyze/label-selector.ts';
import { allMessageTypes, messageType } from '../../src/control/analyze/message-catalog.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';

function resources(yaml: string) {
  const parsed = parseDocuments(yaml, 'inline.yaml');
  assert.deepEqual(parsed.problems, []);
  return parsed.resources;
}

function codes(yaml: string, analyzer: string): string[] {
  return analyze(resources(yaml), { analyzers: [analyzer] }).map((m) => `${m.code} ${m.resource}`).sort();
}

describe('formatTemplate', () => {
  it('renders Go fmt verbs as Istio prints them', () => {
    assert.equal(formatTemplate('Referenced %s not found: %q', ['host', 'reviews']), 'Referenced host not found: "reviews"');
    assert.equal(formatTemplate('ports %v, port %d', [[80, 443], 8080]), 'ports [80 443], port 8080');
    assert.equal(formatTemplate('clusters %q', [['a', 'b']]), 'clusters ["a" "b"]');
    assert.equal(formatTemplate('100%% %s', []), '100% %!s(MISSING)');
  });
});

describe('message catalog', () => {
  it("carries Istio's codes, names and levels", () => {
    assert.deepEqual({ ...messageType('ReferencedResourceNotFound'), template: undefined }, { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'Error', template: undefined });
    assert.equal(messageType('PortNameIsNotUnderNamingConvention').level, 'Info');
    assert.ok(allMessageTypes().length > 60);
    assert.throws(() => messageType('NoSuchMessage'));
  });

  it('only names message types that exist', () => {
    for (const a of allAnalyzers()) for (const n of a.messages) assert.doesNotThrow(() => messageType(n), `${a.name}: ${n}`);
    const names = allAnalyzers().map((a) => a.name);
    assert.equal(new Set(names).size, names.length, 'analyzer names are unique');
  });
});

describe('host names', () => {
  it('matches wildcards both ways, as Istio', () => {
    assert.ok(hostMatches('*.example.com', 'www.example.com'));
    assert.ok(hostMatches('www.example.com', '*.example.com'));
    assert.ok(hostMatches('*.productpage.d', '*.d'));
    assert.ok(hostMatches('*', 'anything.local'));
    assert.ok(!hostMatches('a.example.com', 'b.example.com'));
    assert.ok(hostSubsetOf('a.example.com', '*.example.com'));
    assert.ok(!hostSubsetOf('*.example.com', 'a.example.com'));
  });

  it('expands short names and filters namespaced hosts', () => {
    assert.equal(toFqdn('default', 'reviews'), 'reviews.default.svc.cluster.local');
    assert.equal(toFqdn('default', 'reviews.other'), 'reviews.other');
    assert.equal(toFqdn('', 'reviews'), 'reviews');
    assert.deepEqual(hostsForNamespace(['*/a.com', 'ns1/b.com', 'ns2/c.com', 'd.com'], 'ns1'), ['a.com', 'b.com', 'd.com']);
  });
});

describe('label selectors', () => {
  it('evaluates matchLabels and matchExpressions', () => {
    const sel = { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'tier', operator: 'In', values: ['web', 'api'] }] };
    assert.ok(labelSelectorMatches(sel, { app: 'a', tier: 'web' }));
    assert.ok(!labelSelectorMatches(sel, { app: 'a', tier: 'db' }));
    assert.ok(!labelSelectorMatches(sel, { app: 'a', tier: 'web', 'istio.io/rev': 'canary' }));
    assert.ok(labelSelectorMatches(undefined, {}));
    assert.equal(selectorString({ b: '2', a: '1' }), 'a=1,b=2');
  });
});

describe('analyze', () => {
  it('resolves destinations against Services and ServiceEntries, honouring exportTo', () => {
    const got = codes(
      `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec: {ports: [{name: http, port: 9080}, {name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: other}
spec: {hosts: [api.example.com], exportTo: ["."], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    - destination: {host: reviews.bookinfo.svc.cluster.local, port: {number: 9080}}
    - destination: {host: api.example.com}
`,
      'virtualservice.DestinationHostAnalyzer',
    );
    assert.deepEqual(got, ['IST0101 VirtualService bookinfo/vs', 'IST0112 VirtualService bookinfo/vs']);
  });

  it('reports each identical message once', () => {
    const got = codes(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns}
spec:
  hosts: [a]
  http:
  - route: [{destination: {host: missing}}]
  - route: [{destination: {host: missing}}]
`,
      'virtualservice.DestinationHostAnalyzer',
    );
    assert.deepEqual(got, ['IST0101 VirtualService ns/vs']);
  });

  it('skips codes a resource suppresses with galley.istio.io/analyze-suppress', () => {
    const got = codes(
      `apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns, annotations: {galley.istio.io/analyze-suppress: "IST0118"}}
spec: {ports: [{port: 1}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: ns}
spec: {ports: [{port: 1}]}
`,
      'service.PortNameAnalyzer',
    );
    assert.deepEqual(got, ['IST0118 Service ns/b']);
  });

  it("adds Istio's stand-in ingress gateway so file-only analysis finds a workload", () => {
    const gw = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}, {port: {number: 9999, name: tcp, protocol: TCP}, hosts: ["*"]}]
`;
    assert.deepEqual(codes(gw, 'gateway.IngressGatewayPortAnalyzer'), ['IST0162 Gateway ns/gw']);
    const off = analyze(resources(gw), { analyzers: ['gateway.IngressGatewayPortAnalyzer'], defaultResources: false }).map((m) => m.code);
    assert.deepEqual(off, ['IST0101']);
  });

  it('finds sidecars selecting the same pod and selectors matching nothing', () => {
    const got = codes(
      `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns, labels: {app: x}}
spec: {containers: [{name: app}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s1, namespace: ns}
spec: {workloadSelector: {labels: {app: x}}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s2, namespace: ns}
spec: {workloadSelector: {labels: {app: x}}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s3, namespace: ns}
spec: {workloadSelector: {labels: {app: nothing}}}
`,
      'sidecar.SelectorAnalyzer',
    );
    assert.deepEqual(got, ['IST0101 Sidecar ns/s3', 'IST0110 Sidecar ns/s1', 'IST0110 Sidecar ns/s2']);
  });

  it('checks AuthorizationPolicy namespace patterns against known namespaces', () => {
    const got = codes(
      `apiVersion: v1
kind: Namespace
metadata: {name: prod-web}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: prod-web}
spec:
  rules:
  - from:
    - source: {namespaces: ["prod-*", "*-web", "staging-*"]}
`,
      'auth.AuthorizationPoliciesAnalyzer',
    );
    assert.deepEqual(got, ['IST0101 AuthorizationPolicy prod-web/ap', 'IST0127 AuthorizationPolicy prod-web/ap']);
  });

  it('compares services across clusters in multi-cluster analysis only', () => {
    const svc = (port: number) =>
      resources(`apiVersion: v1
kind: Service
metadata: {name: s, namespace: ns}
spec: {ports: [{name: http, port: ${port}}]}
`);
    const multi = analyzeClusters(
      [
        { id: 'east', resources: svc(80) },
        { id: 'west', resources: svc(8080) },
      ],
      { analyzers: ['services.MultiClusterServiceAnalyzer'] },
    );
    assert.deepEqual(multi.map((m) => `${m.code} ${m.resource}`), ['IST0170 Service ns/s']);
    assert.match(multi[0]!.message, /\["east" "west"\]/);
    assert.deepEqual(analyze([...svc(80), ...svc(8080)], { analyzers: ['services.MultiClusterServiceAnalyzer'] }), []);
  });

  it('turns validation results into IST0106 and unreachable rules into IST0130/IST0131', () => {
    const got = codes(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /x}}]
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /x}}]
    route: [{destination: {host: a}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: ns}
spec:
  hosts: [a]
  http:
  - route: [{destination: {host: a}, weight: -1}]
`,
      'schema.ValidationAnalyzer.VirtualService',
    );
    assert.ok(got.includes('IST0130 VirtualService ns/vs'), got.join('\n'));
    assert.ok(got.includes('IST0131 VirtualService ns/vs'), got.join('\n'));
    assert.ok(got.includes('IST0106 VirtualService ns/bad'), got.join('\n'));
  });
});
