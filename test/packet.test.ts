import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HEADROOM, Packet } from '../src/packet/packet.js';

test('Packet.from reserves headroom and push/pull move the head in place', () => {
  const p = Packet.from(Uint8Array.of(1, 2, 3));
  assert.equal(p.headroom, DEFAULT_HEADROOM);
  p.networkHeader = p.head;
  const at = p.push(8);
  assert.equal(at, DEFAULT_HEADROOM - 8);
  assert.equal(p.length, 11);
  assert.equal(p.pull(8), DEFAULT_HEADROOM);
  assert.deepEqual([...p.data], [1, 2, 3]);
});

test('push past the headroom reallocates and keeps header offsets pointing at the same bytes', () => {
  const p = new Packet(Uint8Array.of(0, 9, 8, 7), 1, 4);
  p.networkHeader = 1;
  p.push(20);
  assert.equal(p.length, 23);
  assert.equal(p.buffer[p.networkHeader], 9);
});

test('put grows at the tail, trim cuts, clone is independent', () => {
  const p = Packet.from(Uint8Array.of(1));
  const at = p.put(2);
  p.buffer[at] = 5;
  assert.deepEqual([...p.data], [1, 5, 0]);
  p.trim(1);
  const c = p.clone();
  c.buffer[c.head] = 99;
  assert.equal(p.data[0], 1);
  assert.throws(() => p.pull(5), RangeError);
});
