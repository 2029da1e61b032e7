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
