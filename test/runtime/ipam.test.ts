import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MizzenError } from '../../src/lib/errors.ts';
import { AddressPool, cidrContains, parseCidr } from '../../src/runtime/ipam.ts';
import { parseExpose } from '../../src/runtime/port-forwarder.ts';

describe('AddressPool', () => {
  it('allocates distinct addresses from the CIDR, one per owner, skipping reserved ones', () => {
    const pool = new AddressPool('10.244.0.0/16', { firstOffset: 1 });
    pool.reserve('node', '10.244.0.1');
    assert.equal(pool.allocate('a'), '10.244.0.2');
    assert.equal(pool.allocate('b'), '10.244.0.3');
    assert.equal(pool.allocate('a'), '10.244.0.2', 'same owner, same address');
  });

  it('does not hand a released address out again at once', () => {
    const pool = new AddressPool('10.96.0.0/16', { firstOffset: 10 });
    const a = pool.allocate('a');
    pool.release('a');
    assert.notEqual(pool.allocate('b'), a);
  });

  it('honours a requested address inside the CIDR and refuses one outside or taken', () => {
    const pool = new AddressPool('10.96.0.0/16');
    assert.equal(pool.allocate('svc', '10.96.5.5'), '10.96.5.5');
    assert.throws(() => pool.allocate('other', '10.96.5.5'), /already allocated/);
    assert.throws(() => pool.allocate('x', '192.168.0.1'), /not in 10\.96\.0\.0\/16/);
  });

  it('runs out cleanly', () => {
    const pool = new AddressPool('192.0.2.0/30');
    pool.allocate('a');
    pool.allocate('b');
    assert.throws(() => pool.allocate('c'), /exhausted/);
  });

  it('parses CIDRs and tests membership', () => {
    assert.equal(parseCidr('10.244.7.9/16').text, '10.244.0.0/16');
    assert.equal(cidrContains(parseCidr('10.96.0.0/16'), '10.96.255.1'), true);
    assert.equal(cidrContains(parseCidr('10.96.0.0/16'), '10.97.0.1'), false);
    assert.throws(() => parseCidr('10.0.0.0'), /invalid IPv4 CIDR/);
  });
});

describe('parseExpose', () => {
  it('reads NS/SVC:PORT=LOCALPORT, the namespace defaulting to default', () => {
    assert.deepEqual(parseExpose('default/productpage:9080=19080'), { namespace: 'default', service: 'productpage', port: 9080, localPort: 19080 });
    assert.deepEqual(parseExpose('web:80=8080'), { namespace: 'default', service: 'web', port: 80, localPort: 8080 });
    assert.throws(() => parseExpose('productpage:9080'), (err: unknown) => err instanceof MizzenError && /invalid --expose.*NAMESPACE\/SERVICE:PORT=LOCALPORT/s.test(err.describe()));
  });
});
