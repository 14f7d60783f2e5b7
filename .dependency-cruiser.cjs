/** Import boundaries (DESIGN §8): control/ and data/ never import each other; no cycles. */
module.exports = {
  forbidden: [
    // Runtime cycles only: `import type` edges vanish when types are stripped, and two classes
    // that name each other's types (a pool and its host) are not a cycle at run time.
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    { name: 'control-not-data', severity: 'error', from: { path: '^src/control/' }, to: { path: '^src/data/' } },
    { name: 'data-not-control', severity: 'error', from: { path: '^src/data/' }, to: { path: '^src/control/' } },
    { name: 'lib-is-leaf', severity: 'error', from: { path: '^src/lib/' }, to: { path: '^src/(control|data|agent|runtime|cli|kube|dashboard)/' } },
    { name: 'api-is-leaf', severity: 'error', from: { path: '^src/api/' }, to: { path: '^src/(control|data|agent|runtime|cli|kube|dashboard)/' } },
    { name: 'dashboard-reads-metrics-only', severity: 'error', from: { path: '^src/dashboard/' }, to: { path: '^src/(control|data|agent|runtime|cli|kube)/' } },
    { name: 'no-test-from-src', severity: 'error', from: { path: '^src/', pathNot: '\\.test\\.ts$' }, to: { path: '(^test/|\\.test\\.ts$)' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
