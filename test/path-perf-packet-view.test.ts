/**
 * Packet.view(from, to) is buffer.subarray(from, to) made straight on the slab
 * the buffer was cut from (the transmitted frame of every packet is one). It
 * must be the same view — the same bytes, the same memory, subarray()'s
 * meaning for negative and out-of-range bounds — after any push, pull, put,
 * trim, clone, and after code assigns a buffer of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packet, allocBytes } from '../src/packet/packet.js';

/** The view and subarray agree in bytes, and a write through the view shows in the buffer. */
function sameView(p: Packet, from: number, to: number): void {
  const v = p.view(from, to), s = p.buffer.subarray(from, to);
  assert.equal(v.length, s.length, `view(${from}, ${to}) length`);
  assert.deepEqual([...v], [...s], `view(${from}, ${to}) bytes`);
  if (v.length > 0) {
    const old = v[0]!;
    v[0] = old ^ 0xa5;
    assert.equal(s[0], old ^ 0xa5, `view(${from}, ${to}) shares the buffer's memory`);
    v[0] = old;
  }
}

const opArb = fc.oneof(
  fc.record({ op: fc.constant('push' as const), n: fc.nat(300) }),
  fc.record({ op: fc.constant('pull' as const), n: fc.nat(40) }),
  fc.record({ op: fc.constant('put' as const), n: fc.nat(5000) }),
  fc.record({ op: fc.constant('trim' as const), n: fc.nat(100) }),
  fc.record({ op: fc.constant('clone' as const) }),
  fc.record({ op: fc.constant('assign' as const), n: fc.integer({ min: 1, max: 6000 }) }),
  fc.record({ op: fc.constant('alloc' as const), n: fc.nat(5000) }),
);

test('view() is subarray() across the packet\'s life', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.array(opArb, { maxLength: 12 }),
    fc.array(fc.tuple(fc.integer({ min: -50, max: 7000 }), fc.integer({ min: -50, max: 7000 })), { minLength: 1, maxLength: 6 }),
    (bytes, ops, bounds) => {
      let p = Packet.from(bytes);
      for (const o of ops) {
        if (o.op === 'push') p.push(o.n);
        else if (o.op === 'pull') { if (o.n <= p.length) p.pull(o.n); }
        else if (o.op === 'put') p.put(o.n);
        else if (o.op === 'trim') { if (o.n <= p.length) p.trim(o.n); }
        else if (o.op === 'clone') p = p.clone();
        // Other allocations between the packet's own must not confuse it about its slab.
        else if (o.op === 'alloc') allocBytes(o.n);
        else {
          // What adoptPacket() and other code may do: a buffer that is not from the packet's slab.
          const b = new Uint8Array(o.n).map((_, i) => i & 0xff);
          p.buffer = b; p.head = Math.min(p.head, b.length); p.tail = Math.min(Math.max(p.tail, p.head), b.length);
        }
        sameView(p, p.head, p.tail);
        for (const [a, b] of bounds) sameView(p, a, b);
      }
      assert.deepEqual([...p.data], [...p.buffer.subarray(p.head, p.tail)]);
    },
  ), { numRuns: 300 });
});

test('a frame viewed from a packet stays a view of that packet only', () => {
  // Packets cut one after another from the same slab: each view covers its own bytes and no neighbour's.
  const a = Packet.from(Uint8Array.of(1, 2, 3)), b = Packet.from(Uint8Array.of(4, 5, 6));
  const va = a.view(a.head, a.tail), vb = b.view(b.head, b.tail);
  assert.deepEqual([...va], [1, 2, 3]);
  assert.deepEqual([...vb], [4, 5, 6]);
  va[0] = 9;
  assert.deepEqual([...b.data], [4, 5, 6]);
  assert.equal(a.data[0], 9);
});
