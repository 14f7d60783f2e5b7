import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredProtocol, kubePortProtocol } from '../../src/control/registry/protocol.ts';

describe('kubePortProtocol', () => {
  it('takes the protocol from the port name prefix, case-insensitively', () => {
    const cases: [string, string][] = [
      ['http', 'HTTP'],
      ['http-web', 'HTTP'],
      ['HTTP2-x', 'HTTP2'],
      ['https', 'HTTPS'],
      ['grpc', 'GRPC'],
      ['grpc-internal', 'GRPC'],
      ['grpc-web', 'GRPC-Web'],
      ['grpc-web-ui', 'GRPC-Web'],
      ['tcp-db', 'TCP'],
      ['tls-passthrough', 'TLS'],
      ['mongo', 'MONGO'],
      ['redis-cache', 'REDIS'],
      ['mysql', 'MYSQL'],
      ['http_proxy', 'HTTP'],
      ['httpfoo', 'UNSUPPORTED'],
      ['web', 'UNSUPPORTED'],
      ['', 'UNSUPPORTED'],
    ];
    for (const [name, want] of cases) assert.equal(kubePortProtocol(8080, name, 'TCP', undefined), want, name);
  });

  it('prefers appProtocol, including the kubernetes.io names', () => {
    assert.equal(kubePortProtocol(80, 'tcp', 'TCP', 'http'), 'HTTP');
    assert.equal(kubePortProtocol(80, 'http', 'TCP', 'grpc'), 'GRPC');
    assert.equal(kubePortProtocol(80, 'x', 'TCP', 'kubernetes.io/h2c'), 'HTTP2');
    assert.equal(kubePortProtocol(80, 'x', 'TCP', 'kubernetes.io/ws'), 'HTTP');
    assert.equal(kubePortProtocol(443, 'x', 'TCP', 'kubernetes.io/wss'), 'HTTPS');
    assert.equal(kubePortProtocol(80, 'http', 'TCP', 'custom'), 'UNSUPPORTED');
  });

  it('makes UDP ports UDP and unnamed well-known ports TCP', () => {
    assert.equal(kubePortProtocol(53, 'dns', 'UDP', undefined), 'UDP');
    assert.equal(kubePortProtocol(53, 'http', 'UDP', 'http'), 'UDP');
    for (const port of [25, 53, 3306, 27017]) assert.equal(kubePortProtocol(port, undefined, undefined, undefined), 'TCP');
    assert.equal(kubePortProtocol(8080, undefined, undefined, undefined), 'UNSUPPORTED');
  });
});

describe('declaredProtocol', () => {
  it('parses ServiceEntry protocols and leaves missing ones to sniffing', () => {
    assert.equal(declaredProtocol('HTTP'), 'HTTP');
    assert.equal(declaredProtocol('tcp'), 'TCP');
    assert.equal(declaredProtocol('GRPC-WEB'), 'GRPC-Web');
    assert.equal(declaredProtocol(''), 'UNSUPPORTED');
    assert.equal(declaredProtocol(undefined), 'UNSUPPORTED');
  });
});
