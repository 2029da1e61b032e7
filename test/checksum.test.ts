import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checksumReplace16, checksumReplace32, checksumReplaceBytes, internetChecksum, onesSum, pseudoSum4 } from '../src/packet/checksum.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('internet checksum of a real IPv4 header (checksum field zeroed) is the value on the wire', () => {
  // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7 — the classic Wikipedia example.
  const h = hex('450000730000400040110000c0a80001c0a800c7');
  assert.equal(internetChecksum(h), 0xb861);
  h[10] = 0xb8; h[11] = 0x61;
  assert.equal(internetChecksum(h), 0, 'a header with a correct checksum sums to zero');
});

test('odd length pads with a zero byte on the right (RFC 1071 §4.1)', () => {
  assert.equal(onesSum(hex('0102 03'), 0, 3), 0x0102 + 0x0300);
});

test('pseudo-header sum for IPv4 adds addresses, protocol and length', () => {
  const ip = hex('0a000001 0a000002');
  assert.equal(pseudoSum4(ip, 0, 4, 6, 20), 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
});

test('RFC 1624 incremental update equals recomputation (16-bit, 32-bit, byte ranges)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 80 }), fc.nat(), fc.uint8Array({ minLength: 4, maxLength: 4 }), (data, at, repl) => {
    const bytes = data.length % 2 ? data.subarray(0, data.length - 1) : data;
    const off = (at % (bytes.length / 2 - 1)) * 2;
    const before = internetChecksum(bytes);
    const old = bytes.slice(off, off + 4);
    const copy = bytes.slice();
    copy.set(repl, off);
    const after = internetChecksum(copy);
    // 0x0000 and 0xffff are the same one's-complement value; RFC 1624 never yields the former from data that is not all zero.
    const same = (a: number, b: number) => a === b || (a % 0xffff) === (b % 0xffff);
    const w = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
    assert.ok(same(checksumReplaceBytes(before, old, repl), after));
    const c16 = checksumReplace16(checksumReplace16(before, w(old, 0), w(repl, 0)), w(old, 2), w(repl, 2));
    assert.ok(same(c16, after));
    const v = (b: Uint8Array) => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    assert.ok(same(checksumReplace32(before, v(old), v(repl)), after));
  }), { numRuns: 2000 });
});

/** RFC 1071 by the book: big-endian 16-bit words, an odd last byte padded on the right, folded. */
function referenceSum(bytes: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial;
  for (let i = 0; i < len; i += 2) sum += (bytes[off + i]! << 8) | (i + 1 < len ? bytes[off + i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}
const folded = (sum: number): number => {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
};

test('the word-at-a-time sum equals RFC 1071 for every alignment, offset and length (views into a shared slab)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.nat(7), fc.nat(), fc.nat(), fc.nat(0x3ffff),
    (data, viewAt, offSeed, lenSeed, initial) => {
      // The packet's bytes at an arbitrary byteOffset inside a bigger ArrayBuffer, as packet.ts cuts them from slabs.
      const slab = new ArrayBuffer(data.length + 16);
      new Uint8Array(slab).fill(0xa5);
      const view = new Uint8Array(slab, viewAt, data.length);
      view.set(data);
      const off = data.length ? offSeed % (data.length + 1) : 0;
      const len = lenSeed % (data.length - off + 1);
      const got = onesSum(view, off, len, initial);
      assert.equal(folded(got), referenceSum(view, off, len, initial), `off ${off} len ${len} at byteOffset ${viewAt}`);
      assert.equal(got === 0, referenceSum(view, off, len, initial) === 0, 'zero only for an all-zero range and initial');
    }), { numRuns: 3000 });
});

test('long runs of 0xff and of zeros fold like the reference (0xffff stays 0xffff, zero stays zero)', () => {
  for (const fill of [0x00, 0xff]) for (const len of [63, 64, 65, 1500, 9000, 65535]) for (const at of [0, 1, 2, 3]) {
    const b = new Uint8Array(len + 8).fill(fill);
    assert.equal(folded(onesSum(b, at, len)), referenceSum(b, at, len, 0), `fill ${fill} len ${len} at ${at}`);
  }
});

test('a range that alternates between two buffers sums each correctly (the cached word view follows the buffer)', () => {
  const a = new Uint8Array(300).map((_, i) => (i * 7) & 0xff), b = new Uint8Array(300).map((_, i) => (i * 13 + 1) & 0xff);
  for (let round = 0; round < 3; round++) for (const x of [a, b]) assert.equal(folded(onesSum(x, 2, 290)), referenceSum(x, 2, 290, 0));
});

test('a range running past the view sums the missing bytes as zero, as before (no read beyond the view)', () => {
  const slab = new Uint8Array(256).fill(0xee);
  const view = slab.subarray(10, 110);
  assert.equal(folded(onesSum(view, 20, 200)), referenceSum(view, 20, 80, 0));
});
