/**
 * byteorder (nft_byteorder.c): converts `len` bytes of `size`-byte integers
 * between host (little-endian) and network order; on a little-endian host
 * both directions swap the bytes of each integer.
 */
import type { ByteorderExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface ByteorderP { src: number; dst: number; len: number; size: number; tmp: Uint8Array }

export const byteorderOps: ExprOps<ByteorderExpr, ByteorderP> = {
  type: 'byteorder',
  prepare(e) {
    if (e.size !== 2 && e.size !== 4 && e.size !== 8) fail(ERRNO.EINVAL);
    // No len % size check in nft_byteorder_init: nft emits hton(reg, 2, 1) for `meta l4proto . th dport`
    // concatenations, and the kernel then converts len / size = 0 elements, i.e. nothing.
    if (e.op > 1 || e.len === 0 || e.len > 64) fail(ERRNO.EINVAL);
    return { src: regByteOffset(e.sreg, e.len), dst: regByteOffset(e.dreg, e.len), len: e.len, size: e.size, tmp: new Uint8Array(64) };
  },
  eval(p, vm) {
    const r8 = vm.r8;
    const t = p.tmp;
    for (let i = 0; i < p.len; i++) t[i] = r8[p.src + i]!;
    const n = p.len - (p.len % p.size);
    for (let i = 0; i < n; i += p.size) {
      for (let j = 0; j < p.size; j++) r8[p.dst + i + j] = t[i + p.size - 1 - j]!;
    }
  },
};
