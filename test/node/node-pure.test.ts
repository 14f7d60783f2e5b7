import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { divideQuantity, parseQuantity } from '../../src/lib/kube/quantity.ts';
import { resolveContainerCommand } from '../../src/node/container-command.ts';
import { expandEnv, fieldValue, resourceValue, serviceLinkEnv } from '../../src/node/container-env.ts';
import { lastLines, LogQueryError, parseLogQuery, streamLog } from '../../src/node/container-log-stream.ts';
import { LogTimeline, logTimestamp } from '../../src/node/log-timeline.ts';
import { podPhase } from '../../src/node/pod-status.ts';

const ctx = { nodeBinary: '/opt/node', cliEntry: '/repo/bin/mizzen.js', workdir: '/work', path: '/usr/bin:/bin' };

describe('container commands on this machine', () => {
  it('a container without a command waits with ImageNotRunnable, naming its image', () => {
    const r = resolveContainerCommand({ name: 'app', image: 'busybox' }, ctx);
    assert.ok('waiting' in r);
    assert.equal(r.waiting.reason, 'ImageNotRunnable');
    assert.match(r.waiting.message, /container app \(image busybox\) has no command/);
  });
  it('a program that is not on PATH waits with CommandNotFound', () => {
    const r = resolveContainerCommand({ name: 'app', command: ['no-such-program-here'] }, ctx);
    assert.ok('waiting' in r);
    assert.equal(r.waiting.reason, 'CommandNotFound');
    assert.match(r.waiting.message, /no-such-program-here is not a program on PATH/);
  });
  it('mizzen and node run Mizzen\'s own CLI and Node; args follow command; workingDir is honoured', () => {
    const m = resolveContainerCommand({ name: 'p', command: ['mizzen'], args: ['proxy', 'sidecar'] }, ctx);
    assert.ok('argv' in m);
    assert.deepEqual(m.argv, ['/opt/node', '/repo/bin/mizzen.js', 'proxy', 'sidecar']);
    const n = resolveContainerCommand({ name: 'a', command: ['node', 'app.js'], workingDir: 'sub' }, ctx);
    assert.ok('argv' in n);
    assert.deepEqual(n.argv, ['/opt/node', 'app.js']);
    assert.equal(n.cwd, '/work/sub');
    const sh = resolveContainerCommand({ name: 'a', command: ['sh', '-c'], args: ['echo hi'] }, ctx);
    assert.ok('argv' in sh);
    assert.deepEqual(sh.argv, ['sh', '-c', 'echo hi']);
  });
});

describe('container environment', () => {
  it('expands $(VAR) and keeps $$ and unknown references as Kubernetes does', () => {
    assert.equal(expandEnv('$(A)-$$(A)-$(B)', { A: 'x' }), 'x-$(A)-$(B)');
  });
  it('service links for the pod\'s namespace, and the master service everywhere', () => {
    const svc = (ns: string, name: string, ip: string): Record<string, unknown> => ({ metadata: { namespace: ns, name }, spec: { clusterIP: ip, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    const env = serviceLinkEnv([svc('default', 'kubernetes', '10.96.0.1'), svc('a', 'echo-svc', '10.96.0.9'), svc('b', 'other', '10.96.0.10')], 'a', true);
    assert.equal(env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
    assert.equal(env.ECHO_SVC_SERVICE_PORT_HTTP, '80');
    assert.equal(env.ECHO_SVC_PORT_80_TCP_ADDR, '10.96.0.9');
    assert.equal(env.OTHER_SERVICE_HOST, undefined);
    assert.equal(serviceLinkEnv([svc('a', 'echo-svc', '10.96.0.9')], 'a', false).ECHO_SVC_SERVICE_HOST, undefined);
  });
  it('downward API fields and resources', () => {
    const pod = { metadata: { name: 'p', namespace: 'n', labels: { b: '2', a: '1' } }, spec: {} };
    const c = { pod, nodeName: 'node-a', hostIp: '10.0.0.1', podIp: '10.0.0.2' };
    assert.equal(fieldValue('metadata.labels', c), 'a="1"\nb="2"');
    assert.equal(fieldValue("metadata.labels['a']", c), '1');
    assert.equal(fieldValue('spec.nodeName', c), 'node-a');
    assert.equal(fieldValue('status.podIP', c), '10.0.0.2');
    assert.equal(fieldValue('spec.unknown', c), undefined);
    const containers = [{ name: 'app', resources: { limits: { memory: '128Mi' }, requests: { cpu: '250m' } } }];
    assert.equal(resourceValue({ resource: 'limits.memory', divisor: '1Mi' }, containers, { cpu: 2, memory: 1e9 }, 'app'), '128');
    assert.equal(resourceValue({ resource: 'requests.cpu', divisor: '1m' }, containers, { cpu: 2, memory: 1e9 }, 'app'), '250');
    assert.equal(resourceValue({ resource: 'limits.cpu' }, containers, { cpu: 2, memory: 1e9 }, 'app'), '2', 'no limit: the node capacity');
  });
  it('quantities', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('1Gi'), 2 ** 30);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('12 apples'), undefined);
    assert.equal(divideQuantity(0.25, '1m'), '250');
    assert.equal(divideQuantity(1.5, undefined), '2');
  });
});

describe('pod phase (the kubelet\'s getPhase)', () => {
  const running = { state: { running: {} } };
  const done = (exitCode: number): Record<string, unknown> => ({ state: { terminated: { exitCode } } });
  const base = { initialized: true, initFailed: false, terminating: false };
  it('Pending until initialized and while a container waits; Running with a running container', () => {
    assert.equal(podPhase({ ...base, initialized: false, containers: [running], restartPolicy: 'Always' }), 'Pending');
    assert.equal(podPhase({ ...base, containers: [running, { state: { waiting: { reason: 'ImageNotRunnable' } } }], restartPolicy: 'Always' }), 'Pending');
    assert.equal(podPhase({ ...base, containers: [running, done(0)], restartPolicy: 'Never' }), 'Running');
  });
  it('Succeeded / Failed by exit codes and restartPolicy', () => {
    assert.equal(podPhase({ ...base, containers: [done(0)], restartPolicy: 'Never' }), 'Succeeded');
    assert.equal(podPhase({ ...base, containers: [done(0), done(1)], restartPolicy: 'Never' }), 'Failed');
    assert.equal(podPhase({ ...base, containers: [done(1)], restartPolicy: 'OnFailure' }), 'Running');
    assert.equal(podPhase({ ...base, initFailed: true, containers: [], restartPolicy: 'Never' }), 'Failed');
  });
});

describe('kubectl logs queries', () => {
  it('tailLines, limitBytes, previous, follow, timestamps, sinceSeconds and sinceTime are read', () => {
    assert.deepEqual(parseLogQuery(new URLSearchParams('follow=true&tailLines=3&limitBytes=10&previous=false')), { follow: true, previous: false, timestamps: false, tailLines: 3, limitBytes: 10 });
    assert.deepEqual(parseLogQuery(new URLSearchParams('timestamps=true&sinceSeconds=10'), 100_000), { follow: false, previous: false, timestamps: true, since: 90_000 });
    assert.deepEqual(parseLogQuery(new URLSearchParams('sinceTime=2026-12-07T16:30:00Z')), { follow: false, previous: false, timestamps: false, since: Date.UTC(2026, 11, 7, 16, 30) });
    assert.throws(() => parseLogQuery(new URLSearchParams('sinceTime=yesterday')), /RFC 3339/);
    assert.throws(() => parseLogQuery(new URLSearchParams('sinceSeconds=1&sinceTime=2026-12-07T16:30:00Z')), /at most one/);
    assert.throws(() => parseLogQuery(new URLSearchParams('tailLines=-1')), LogQueryError);
    assert.throws(() => parseLogQuery(new URLSearchParams('tailLines=-1')), /non-negative integer/);
  });
  it('the last n lines, with or without a final newline', () => {
    assert.equal(lastLines(Buffer.from('a\nb\nc\n'), 2).toString(), 'b\nc\n');
    assert.equal(lastLines(Buffer.from('a\nb\nc'), 1).toString(), 'c');
    assert.equal(lastLines(Buffer.from('a\nb\n'), 5).toString(), 'a\nb\n');
    assert.equal(lastLines(Buffer.from('a\nb\n'), 0).toString(), '');
  });
});

describe('streamLog', () => {
  it('sends the tail, then what is appended while following, and ends when the container stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-log-'));
    try {
      const file = join(dir, 'current.log');
      writeFileSync(file, 'one\ntwo\nthree\n');
      let out = '';
      let ended = false;
      let alive = true;
      const done = new Promise<void>((resolve) => {
        streamLog(file, { follow: true, previous: false, timestamps: false, tailLines: 1 }, { write: (b) => (out += b.toString()), end: () => ((ended = true), resolve()), get closed() { return ended; } }, () => alive, 20);
      });
      writeFileSync(file, 'one\ntwo\nthree\nfour\n');
      await new Promise((r) => setTimeout(r, 100));
      alive = false;
      await done;
      assert.equal(out, 'three\nfour\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('timestamps and since time whole lines by when the node saw them; the tail comes first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-log-'));
    try {
      const file = join(dir, 'current.log');
      writeFileSync(file, 'a\nb\nc\npart');
      const t = new LogTimeline(file, () => 5000);
      t.record(2, 1000); // "a\n" seen at 1 s
      t.record(6, 2000); // "b\nc\n" at 2 s
      assert.equal(t.timeOf(2), 1000);
      assert.equal(t.timeOf(4), 2000);
      assert.equal(t.timeOf(10), 5000, 'not seen yet: now');
      const read = (q: Partial<Parameters<typeof streamLog>[1]>): Promise<string> =>
        new Promise((resolve) => {
          let out = '';
          let ended = false;
          streamLog(file, { follow: false, previous: false, timestamps: false, ...q }, { write: (b) => (out += b.toString()), end: () => ((ended = true), resolve(out)), get closed() { return ended; } }, () => false, 20, t);
        });
      assert.equal(await read({ timestamps: true }), `${logTimestamp(1000)} a\n${logTimestamp(2000)} b\n${logTimestamp(2000)} c\n${logTimestamp(5000)} part`);
      assert.equal(logTimestamp(1000), '1970-01-01T00:00:01.000000000Z');
      assert.equal(await read({ since: 1500 }), 'b\nc\npart');
      assert.equal(await read({ since: 1500, tailLines: 3 }), 'b\nc\npart');
      assert.equal(await read({ since: 2500, tailLines: 3 }), 'part');
      assert.equal(await read({ timestamps: true, tailLines: 1, limitBytes: 12 }), logTimestamp(5000).slice(0, 12));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a timeline notes the file growing, as it is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-log-'));
    try {
      const file = join(dir, 'current.log');
      writeFileSync(file, '');
      const t = new LogTimeline(file);
      t.start();
      const before = Date.now();
      appendFileSync(file, 'x\n');
      const deadline = Date.now() + 5000;
      while (t.seenBytes < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const seen = t.timeOf(2);
      t.stop();
      assert.equal(t.seenBytes, 2, 'the growth was noted');
      assert.ok(seen >= before && seen <= before + 2000, `seen ${seen - before} ms after the write`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
