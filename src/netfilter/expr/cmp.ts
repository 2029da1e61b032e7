/**
 * cmp (nft_cmp.c): compares `len` bytes of a register with constant data.
 * Every operator is memcmp() order (network-order data compares numerically);
 * data of up to 4 bytes takes the kernel's fast path, a masked word compare
 * (nft_cmp_fast_eval).
 */
import type { CmpExpr } from '../bytecode.js';
import { NFT_CMP_EQ, NFT_CMP_NEQ, NFT_CMP_LT, NFT_CMP_LTE, NFT_CMP_GT, NFT_CMP_GTE } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface CmpP {
  op: number;
  reg: number;
  data: Uint8Array;
  len: number;
  /** Fast path (len <= 4): word index, mask and expected masked value. */
  word: number;
  mask: number;
  value: number;
}

function memcmp(a: Uint8Array, ao: number, b: Uint8Array, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = a[ao + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export const cmpOps: ExprOps<CmpExpr, CmpP> = {
  type: 'cmp',
  prepare(e) {
    if (e.op > NFT_CMP_GTE || e.op < 0) fail(ERRNO.EINVAL);
    const len = e.data.length;
    if (len === 0 || len > 64) fail(ERRNO.EINVAL);
    const reg = regByteOffset(e.sreg, len);
    const mask = len >= 4 ? 0xffffffff : (2 ** (len * 8) - 1);
    let value = 0;
    for (let i = 0; i < Math.min(len, 4); i++) value |= e.data[i]! << (8 * i);
    return { op: e.op, reg, data: e.data, len, word: reg >> 2, mask: mask >>> 0, value: (value & mask) >>> 0 };
  },
  eval(p, vm) {
    let d: number;
    if (p.len <= 4 && (p.op === NFT_CMP_EQ || p.op === NFT_CMP_NEQ)) {
      const eq = ((vm.regs[p.word]! & p.mask) >>> 0) === p.value;
      if (eq !== (p.op === NFT_CMP_EQ)) vm.code[0] = -2;
      return;
    }
    d = memcmp(vm.r8, p.reg, p.data, p.len);
    let ok: boolean;
    switch (p.op) {
      case NFT_CMP_EQ: ok = d === 0; break;
      case NFT_CMP_NEQ: ok = d !== 0; break;
      case NFT_CMP_LT: ok = d < 0; break;
      case NFT_CMP_LTE: ok = d <= 0; break;
      case NFT_CMP_GT: ok = d > 0; break;
      default: ok = d >= 0; break;
    }
    if (!ok) vm.code[0] = -2;
  },
};
void NFT_CMP_NEQ;
