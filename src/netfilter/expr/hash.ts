/**
 * hash (nft_hash.c): jhash of register bytes, or the symmetric flow hash,
 * scaled into [0, modulus) with reciprocal_scale() and offset.
 */
import type { HashExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import { ERRNO } from '../errors.js';

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** A little-endian u32 load (a module function: a closure over `k` would allocate per hash). */
function le32(k: Uint8Array, o: number): number {
  return (k[o]! | (k[o + 1]! << 8) | (k[o + 2]! << 16) | (k[o + 3]! << 24)) >>> 0;
}

/** Bob Jenkins' lookup3 hash exactly as include/linux/jhash.h (little-endian word loads). */
export function jhash(k: Uint8Array, off: number, length: number, initval: number): number {
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  let i = off;
  while (length > 12) {
    a = (a + le32(k, i)) >>> 0; b = (b + le32(k, i + 4)) >>> 0; c = (c + le32(k, i + 8)) >>> 0;
    // __jhash_mix
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 12;
    i += 12;
  }
  if (length === 0) return c;
  // The kernel's switch falls through from the highest remaining byte down.
  let t0 = 0, t1 = 0, t2 = 0;
  for (let j = 0; j < length; j++) {
    const v = k[i + j]! * 2 ** (8 * (j & 3));
    if (j < 4) t0 += v; else if (j < 8) t1 += v; else t2 += v;
  }
  a = (a + t0) >>> 0; b = (b + t1) >>> 0; c = (c + t2) >>> 0;
  // __jhash_final
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

/**
 * reciprocal_scale(): (val * ep_ro) >> 32 of two u32, exactly, in doubles: the
 * 64-bit product is taken in 16-bit halves so every partial stays below 2^53
 * (no BigInt per packet).
 */
export function reciprocalScale(val: number, epRo: number): number {
  const e = epRo >>> 0;
  const hi = ((val >>> 16) & 0xffff) * e;
  const lo = (val & 0xffff) * e;
  const hiHigh = Math.floor(hi / 0x10000);
  return hiHigh + Math.floor(((hi - hiHigh * 0x10000) * 0x10000 + lo) / 0x1_0000_0000);
}

/**
 * The symmetric flow hash: the kernel uses __skb_get_hash_symmetric (siphash
 * with a boot-time random key), so exact values cannot match a real kernel;
 * we hash the sorted address and port pair with jhash, which keeps the
 * property that matters — both directions of a flow hash alike.
 */
const symKey = new Uint8Array(2 * 16 + 4);
function symHash(vm: Vm): number {
  const pkt = vm.pkt;
  const n = pkt.networkHeader;
  if (n < 0) return 0;
  const b = pkt.buffer;
  const v6 = pkt.protocol === 0x86dd;
  const alen = v6 ? 16 : 4;
  const sOff = n + (v6 ? 8 : 12);
  const dOff = sOff + alen;
  if (dOff + alen > pkt.tail) return 0;
  // The key is built in one scratch buffer: this runs per packet (nothing may allocate).
  const key = symKey;
  let cmp = 0;
  for (let i = 0; i < alen && cmp === 0; i++) cmp = b[sOff + i]! - b[dOff + i]!;
  const lo = cmp <= 0 ? sOff : dOff, hi = cmp <= 0 ? dOff : sOff;
  for (let i = 0; i < alen; i++) { key[i] = b[lo + i]!; key[alen + i] = b[hi + i]!; }
  let p1 = 0, p2 = 0;
  const t = pkt.transportHeader;
  if (t >= 0 && (pkt.l4proto === 6 || pkt.l4proto === 17) && t + 4 <= pkt.tail) {
    const sp = (b[t]! << 8) | b[t + 1]!;
    const dp = (b[t + 2]! << 8) | b[t + 3]!;
    p1 = cmp <= 0 ? sp : dp;
    p2 = cmp <= 0 ? dp : sp;
  }
  key[2 * alen] = p1 >> 8; key[2 * alen + 1] = p1 & 0xff; key[2 * alen + 2] = p2 >> 8; key[2 * alen + 3] = p2 & 0xff;
  return jhash(key, 0, 2 * alen + 4, 0);
}

export interface HashP { sym: boolean; src: number; len: number; dst: number; modulus: number; seed: number; offset: number }

export const hashOps: ExprOps<HashExpr, HashP> = {
  type: 'hash',
  prepare(e) {
    if (e.modulus === 0) fail(ERRNO.ERANGE);
    if ((e.offset ?? 0) + e.modulus - 1 > 0xffffffff) fail(ERRNO.EOVERFLOW);
    const sym = e.hashType === 1;
    if (!sym && (!e.len || e.sreg === undefined)) fail(ERRNO.EINVAL);
    return {
      sym, src: sym ? 0 : regByteOffset(e.sreg!, e.len!), len: e.len ?? 0, dst: regByteOffset(e.dreg, 4),
      modulus: e.modulus, seed: e.seed ?? 0, offset: e.offset ?? 0,
    };
  },
  eval(p, vm) {
    const h = p.sym ? symHash(vm) : jhash(vm.r8, p.src, p.len, p.seed);
    vm.regs[p.dst >> 2] = (reciprocalScale(h, p.modulus) + p.offset) >>> 0;
  },
};
