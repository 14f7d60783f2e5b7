import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBudget } from '../../src/control/xds/write-budget.ts';

describe('WriteBudget', () => {
  it('holds writers beyond the limit until bytes are released, in arrival order', async () => {
    const b = new WriteBudget(100);
    const r1 = await b.acquire(60);
    const order: string[] = [];
    const p2 = b.acquire(60).then((r) => (order.push('second'), r));
    const p3 = b.acquire(10).then((r) => (order.push('third'), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'the small third one waits behind the second');
    assert.equal(b.waiting, 2);
    r1();
    const r2 = await p2;
    const r3 = await p3;
    assert.deepEqual(order, ['second', 'third']);
    assert.equal(b.bytesInFlight, 70);
    r2();
    r3();
    r3();
    assert.equal(b.bytesInFlight, 0);
  });

  it('lets a response larger than the whole budget through alone', async () => {
    const b = new WriteBudget(10);
    const r = await b.acquire(1000);
    assert.equal(b.bytesInFlight, 1000);
    r();
  });
});
