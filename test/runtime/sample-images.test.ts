import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageName, sampleCommand } from '../../src/runtime/sample-images.ts';

describe("Istio's sample images under mizzen up", () => {
  const env = { PATH: '/nonexistent', HOME: '/nonexistent' };

  it('names images without registry, tag or digest', () => {
    assert.equal(imageName('docker.io/mccutchen/go-httpbin:v2.15.0'), 'mccutchen/go-httpbin');
    assert.equal(imageName('registry.istio.io/testing/ext-authz:latest'), 'testing/ext-authz');
    assert.equal(imageName('kennethreitz/httpbin'), 'kennethreitz/httpbin');
    assert.equal(imageName('localhost:5000/fortio/fortio@sha256:abc'), 'fortio/fortio');
  });

  it('runs samples/httpbin (go-httpbin, port 8080) and the mirroring task\'s gunicorn httpbin on its -b port', () => {
    const go = sampleCommand('docker.io/mccutchen/go-httpbin:v2.15.0', [], [], env)!;
    assert.ok(go.argv[1].endsWith('examples/httpbin/httpbin.ts'));
    assert.deepEqual(go.argv.slice(2), ['--port', '8080', '--flavor', 'go', '--access-log']);
    const py = sampleCommand('docker.io/kennethreitz/httpbin', ['gunicorn', '--access-logfile', '-', '-b', '0.0.0.0:80', 'httpbin:app'], [], env)!;
    assert.deepEqual(py.argv.slice(2), ['--port', '80', '--flavor', 'python', '--access-log']);
  });

  it('runs the extauthz sample, keeps its flags, and leaves a manifest\'s own command alone', () => {
    const ea = sampleCommand('registry.istio.io/testing/ext-authz:latest', [], ['--allow_service_account', 'sleep'], env)!;
    assert.ok(ea.argv[1].endsWith('examples/extauthz/ext-authz.ts'));
    assert.deepEqual(ea.argv.slice(2), ['--allow_service_account', 'sleep']);
    assert.equal(sampleCommand('docker.io/mccutchen/go-httpbin', ['node', 'mine.ts'], [], env), undefined);
    assert.equal(sampleCommand('nginx', [], [], env), undefined);
  });

  it('fortio: a clear failure when it is not installed', () => {
    const f = sampleCommand('docker.io/fortio/fortio:latest_release', [], [], env)!;
    if (f.argv[0] === 'sh') assert.match(f.argv[2], /fortio is not installed: run scripts\/fortio\.sh/);
    else assert.deepEqual(f.argv.slice(1), ['server']);
  });
});
