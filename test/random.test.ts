/** mulberry32: the generator replays and random tests draw from gives the reference sequence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32, mulberry32Float } from '../src/netfilter/random.js';

test('mulberry32(1) gives the published sequence, as integers and as floats in [0, 1)', () => {
  const ints = mulberry32(1), floats = mulberry32Float(1);
  assert.deepEqual([ints(), ints(), ints()], [2693262067, 11749833, 2265367787]);
  assert.equal(floats(), 0.6270739405881613);
  assert.equal(floats(), 11749833 / 2 ** 32);
});

test('a seed repeats its sequence; another seed does not', () => {
  const a = mulberry32(0x6e6678), b = mulberry32(0x6e6678), c = mulberry32(0x6e6679);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(Array.from({ length: 100 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => c()), xs);
  assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32));
});
