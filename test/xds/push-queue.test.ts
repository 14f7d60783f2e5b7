import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PushQueue } from '../../src/control/push/push-queue.ts';

describe('PushQueue', () => {
  it('merges requests for a waiting connection and bounds concurrency', async () => {
    let running = 0;
    let maxRunning = 0;
    const seen: [string, string[]][] = [];
    const gates: (() => void)[] = [];
    const q = new PushQueue<string, string[]>({
      concurrency: 2,
      merge: (a, b) => [...a, ...b],
      process: async (c, r) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        seen.push([c, r]);
        await new Promise<void>((res) => gates.push(res));
        running--;
      },
    });
    q.enqueue('p1', ['a']);
    q.enqueue('p2', ['a']);
    q.enqueue('p3', ['a']);
    q.enqueue('p3', ['b']);
    assert.equal(running, 2);
    // p1 is in flight: a new request waits for it and runs after.
    q.enqueue('p1', ['c']);
    while (gates.length > 0 || q.size > 0) {
      const g = gates.shift();
      g?.();
      await new Promise((r) => setImmediate(r));
    }
    await q.idle();
    assert.equal(maxRunning, 2);
    assert.deepEqual(seen, [
      ['p1', ['a']],
      ['p2', ['a']],
      ['p3', ['a', 'b']],
      ['p1', ['c']],
    ]);
  });

  it('keeps going when one push fails and drops a removed connection', async () => {
    const errors: string[] = [];
    const done: string[] = [];
    const q = new PushQueue<string, number>({
      concurrency: 1,
      merge: (a, b) => a + b,
      process: async (c) => {
        if (c === 'bad') throw new Error('boom');
        done.push(c);
      },
      onError: (c) => errors.push(c),
    });
    q.enqueue('bad', 1);
    q.enqueue('gone', 1);
    q.enqueue('ok', 1);
    q.remove('gone');
    await q.idle();
    assert.deepEqual(errors, ['bad']);
    assert.deepEqual(done, ['ok']);
  });
});
