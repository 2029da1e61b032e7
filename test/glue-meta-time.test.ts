/**
 * `meta time`, `meta day`, reciprocal_scale and the symmetric hash without
 * BigInt, Date or scratch objects per packet: the same results as the
 * BigInt/Date formulas they replace, for clocks around today, the epoch,
 * before it, fractional, and out of range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Vm } from '../src/netfilter/vm.js';
import { storeTimeNs, weekdayUtc } from '../src/netfilter/expr/meta.js';
import { hashOps, jhash, reciprocalScale } from '../src/netfilter/expr/hash.js';
import { ipv4Packet, ipv6Packet } from '../src/netfilter/testing.js';
import type { Packet } from '../src/packet/packet.js';
import type { HashExpr } from '../src/netfilter/bytecode.js';

/** What the registers held before: skb time in ns as a little-endian u64, via BigInt. */
function referenceNs(ms: number): [number, number] {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt(Math.floor(ms * 1000)) * 1000n, true);
  return [v.getUint32(0, true), v.getUint32(4, true)];
}

function ns(ms: number): [number, number] {
  const vm = new Vm();
  vm.regs.fill(0xdeadbeef);
  storeTimeNs(vm, 16, ms);
  assert.equal(vm.regs[6], 0xdeadbeef, 'only the 8 bytes of the register are written');
  return [vm.regs[4]!, vm.regs[5]!];
}

const EDGES = [0, 0.0005, 0.001, 1, 999.9999, 1764320400000, 1764320400000.05, 4294967.295, 4294967.296, 2 ** 32, 2 ** 42 + 0.5,
  -0.0005, -1, -1764320400000.5, 9007199254740.991, 9007199254740.992, 9e15, 8.64e15, -8.64e15, 1e18, -1e18];

test('meta time: the nanosecond u64 equals the BigInt computation', () => {
  for (const ms of EDGES) assert.deepEqual(ns(ms), referenceNs(ms), `ms ${ms}`);
  fc.assert(fc.property(fc.double({ min: -1e16, max: 1e16, noNaN: true }), (ms) => { assert.deepEqual(ns(ms), referenceNs(ms)); }), { numRuns: 20_000 });
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: 0, max: 999 }), (s, frac) => {
    const ms = s / 1000 + frac / 1e6;
    assert.deepEqual(ns(ms), referenceNs(ms));
  }), { numRuns: 20_000 });
});

test('meta day: the weekday equals Date.getUTCDay, 0 where Date is invalid', () => {
  const ref = (ms: number): number => new Date(ms).getUTCDay() & 0xff;
  for (const ms of [...EDGES, -86400000.5, -86400000, -86399999.5, 86400000 * 3 - 0.5, NaN, Infinity]) assert.equal(weekdayUtc(ms), ref(ms), `ms ${ms}`);
  assert.equal(weekdayUtc(Date.UTC(2026, 10, 28)), 6, '28 November 2026 is a Saturday');
  fc.assert(fc.property(fc.double({ min: -9e15, max: 9e15, noNaN: true }), (ms) => { assert.equal(weekdayUtc(ms), ref(ms)); }), { numRuns: 20_000 });
});

test('reciprocal_scale (numgen, jhash, queue fanout): (val * ep_ro) >> 32 equals the BigInt product', () => {
  const ref = (v: number, e: number): number => Number((BigInt(v >>> 0) * BigInt(e >>> 0)) >> 32n);
  for (const [v, e] of [[0, 0], [0xffffffff, 0xffffffff], [0xffffffff, 1], [1, 0xffffffff], [0x80000000, 2], [0x12345678, 0x9abcdef0], [-1, 7]] as const) {
    assert.equal(reciprocalScale(v, e), ref(v, e), `${v} ${e}`);
  }
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v, e) => {
    assert.equal(reciprocalScale(v, e), ref(v, e));
  }), { numRuns: 50_000 });
});

/** The symmetric hash's definition: jhash over (lower address, higher address, their ports) — both directions alike. */
function symReference(p: Packet): number {
  const b = p.buffer, n = p.networkHeader, v6 = p.protocol === 0x86dd, alen = v6 ? 16 : 4;
  const s = b.subarray(n + (v6 ? 8 : 12), n + (v6 ? 8 : 12) + alen), d = b.subarray(n + (v6 ? 8 : 12) + alen, n + (v6 ? 8 : 12) + 2 * alen);
  const sFirst = Buffer.compare(Buffer.from(s), Buffer.from(d)) <= 0;
  const t = p.transportHeader;
  const sp = (b[t]! << 8) | b[t + 1]!, dp = (b[t + 2]! << 8) | b[t + 3]!;
  const key = Uint8Array.from([...(sFirst ? s : d), ...(sFirst ? d : s)]);
  const ports = sFirst ? [sp, dp] : [dp, sp];
  return jhash(Uint8Array.from([...key, ports[0]! >> 8, ports[0]! & 0xff, ports[1]! >> 8, ports[1]! & 0xff]), 0, key.length + 4, 0);
}

test('symhash: both directions of a flow hash alike, as jhash of the ordered pair, packet after packet', () => {
  const p = hashOps.prepare({ type: 'hash', hashType: 1, dreg: 1, modulus: 0xffffffff } as HashExpr, {} as never);
  const vm = new Vm();
  const run = (pkt: Packet): number => { vm.reset(pkt, {} as never); hashOps.eval(p, vm); return vm.regs[4]!; };
  fc.assert(fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom(6, 17), (a, b, sp, dp, proto) => {
    const fwd = ipv4Packet({ proto, src: a, dst: b, sport: sp, dport: dp });
    const rev = ipv4Packet({ proto, src: b, dst: a, sport: dp, dport: sp });
    const h = run(fwd);
    assert.equal(run(rev), h);
    assert.equal(h, reciprocalScale(symReference(fwd), 0xffffffff));
  }), { numRuns: 5_000 });
  const v6 = ipv6Packet({ proto: 6, sport: 1234, dport: 80 });
  assert.equal(run(v6), reciprocalScale(symReference(v6), 0xffffffff));
});
