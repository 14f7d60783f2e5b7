/** Import boundaries (DESIGN §8): control/ and data/ never import each other; no cycles. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'control-not-data', severity: 'error', from: { path: '^src/control/' }, to: { path: '^src/data/' } },
    { name: 'data-not-control', severity: 'error', from: { path: '^src/data/' }, to: { path: '^src/control/' } },
    { name: 'lib-is-leaf', severity: 'error', from: { path: '^src/lib/' }, to: { path: '^src/(control|data|agent|runtime|cli|kube)/' } },
    { name: 'api-is-leaf', severity: 'error', from: { path: '^src/api/' }, to: { path: '^src/(control|data|agent|runtime|cli|kube)/' } },
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
