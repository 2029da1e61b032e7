/**
 * bitwise (nft_bitwise.c): dreg = (sreg & mask) ^ xor over 32-bit words, or a
 * shift of host-order 32-bit words carrying bits between words.
 */
import type { BitwiseExpr } from '../bytecode.js';
import { NFT_BITWISE_BOOL, NFT_BITWISE_LSHIFT, NFT_BITWISE_RSHIFT } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface BitwiseP {
  op: number;
  src: number;
  dst: number;
  words: number;
  mask: Uint32Array;
  xor: Uint32Array;
  shift: number;
}

function toWords(b: Uint8Array | undefined, n: number): Uint32Array {
  const w = new Uint32Array(n);
  if (b) for (let i = 0; i < n * 4 && i < b.length; i++) w[i >> 2]! |= b[i]! << (8 * (i & 3));
  return w;
}

export const bitwiseOps: ExprOps<BitwiseExpr, BitwiseP> = {
  type: 'bitwise',
  prepare(e) {
    if (e.len === 0 || e.len > 64) fail(ERRNO.EINVAL);
    const words = (e.len + 3) >> 2;
    let shift = 0;
    if (e.op === NFT_BITWISE_LSHIFT || e.op === NFT_BITWISE_RSHIFT) {
      shift = toWords(e.data, 1)[0]!;
      // nft_bitwise_init_shift: the shift must be smaller than a word.
      if (shift >= 32) fail(ERRNO.EINVAL);
    } else if (e.op !== NFT_BITWISE_BOOL) fail(ERRNO.EOPNOTSUPP);
    return {
      op: e.op, src: regByteOffset(e.sreg, e.len) >> 2, dst: regByteOffset(e.dreg, e.len) >> 2, words,
      mask: toWords(e.mask, words), xor: toWords(e.xor, words), shift,
    };
  },
  eval(p, vm) {
    const r = vm.regs;
    if (p.op === NFT_BITWISE_BOOL) {
      for (let i = 0; i < p.words; i++) r[p.dst + i] = ((r[p.src + i]! & p.mask[i]!) ^ p.xor[i]!) >>> 0;
    } else if (p.op === NFT_BITWISE_LSHIFT) {
      let carry = 0;
      for (let i = p.words; i > 0; i--) {
        const s = r[p.src + i - 1]!;
        r[p.dst + i - 1] = ((s << p.shift) | carry) >>> 0;
        carry = p.shift === 0 ? 0 : s >>> (32 - p.shift);
      }
    } else {
      let carry = 0;
      for (let i = 0; i < p.words; i++) {
        const s = r[p.src + i]!;
        r[p.dst + i] = (carry | (s >>> p.shift)) >>> 0;
        carry = p.shift === 0 ? 0 : (s << (32 - p.shift)) >>> 0;
      }
    }
  },
};
