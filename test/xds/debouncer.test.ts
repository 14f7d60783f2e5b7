import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/lib/clock.ts';
import { Debouncer } from '../../src/control/push/debouncer.ts';
import { mergePushRequests, requestFromChanges, type PushRequest } from '../../src/control/push/push-request.ts';
import type { ConfigChange } from '../../src/control/config/config-store-reader.ts';

function change(kind: string, name: string): ConfigChange {
  return { kind, group: '', namespace: 'default', name, old: undefined, new: undefined };
}

function setup(after = 100, max = 10_000) {
  const clock = new ManualClock(1000);
  const flushed: { req: PushRequest; waited: number }[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const d = new Debouncer<PushRequest>({
    clock,
    afterMs: after,
    maxMs: max,
    merge: mergePushRequests,
    flush: (req, waited) => {
      flushed.push({ req, waited });
      if (hold) return new Promise<void>((r) => (release = r));
    },
  });
  const push = (kind: string, name: string): void => d.push(requestFromChanges([change(kind, name)], clock.now())!);
  return {
    clock,
    flushed,
    d,
    push,
    holdNext: () => (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
}

describe('Debouncer', () => {
  it('flushes once after the quiet period, merging the changes', () => {
    const { clock, flushed, push } = setup();
    push('VirtualService', 'a');
    clock.advance(50);
    push('DestinationRule', 'b');
    clock.advance(99);
    assert.equal(flushed.length, 0, 'still inside the quiet period of the second event');
    clock.advance(1);
    assert.equal(flushed.length, 1);
    assert.deepEqual(flushed[0]!.req.changes.map((c) => c.name), ['a', 'b']);
    assert.equal(flushed[0]!.req.full, true);
    assert.equal(flushed[0]!.req.startedAt, 1000);
    assert.equal(flushed[0]!.waited, 150);
  });

  it('caps the wait at the max debounce time under a steady stream of changes', () => {
    const { clock, flushed, push } = setup(100, 1000);
    for (let t = 0; t < 1500; t += 50) {
      push('VirtualService', `v${t}`);
      clock.advance(50);
    }
    assert.ok(flushed.length >= 1);
    assert.equal(flushed[0]!.waited, 1000);
  });

  it('keeps an endpoint-only request partial and makes it full when merged with config', async () => {
    const { clock, flushed, push, d } = setup();
    push('WorkloadEntry', 'w1');
    clock.advance(200);
    assert.equal(flushed[0]!.req.full, false);
    await d.idle();
    push('WorkloadEntry', 'w2');
    push('ServiceEntry', 's');
    clock.advance(200);
    assert.equal(flushed[1]!.req.full, true);
  });

  it('does not start a flush while the previous one runs, then flushes what collected', async () => {
    const { clock, flushed, push, holdNext, release, d } = setup();
    holdNext();
    push('VirtualService', 'a');
    clock.advance(100);
    assert.equal(flushed.length, 1);
    push('VirtualService', 'b');
    push('VirtualService', 'c');
    clock.advance(500);
    assert.equal(flushed.length, 1, 'busy: waits');
    release();
    await new Promise((r) => setImmediate(r));
    await d.idle();
    assert.equal(flushed.length, 2);
    assert.deepEqual(flushed[1]!.req.changes.map((c) => c.name), ['b', 'c']);
  });
});
