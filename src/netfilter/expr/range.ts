/** range (nft_range.c): from <= reg <= to in memcmp order; NEQ inverts. */
import type { RangeExpr } from '../bytecode.js';
import { NFT_RANGE_EQ, NFT_RANGE_NEQ } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface RangeP { reg: number; op: number; from: Uint8Array; to: Uint8Array; len: number }

function memcmp(a: Uint8Array, ao: number, b: Uint8Array, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = a[ao + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export const rangeOps: ExprOps<RangeExpr, RangeP> = {
  type: 'range',
  prepare(e) {
    if (e.from.length !== e.to.length || e.from.length === 0 || e.from.length > 16) fail(ERRNO.EINVAL);
    if (e.op !== NFT_RANGE_EQ && e.op !== NFT_RANGE_NEQ) fail(ERRNO.EINVAL);
    return { reg: regByteOffset(e.sreg, e.from.length), op: e.op, from: e.from, to: e.to, len: e.from.length };
  },
  eval(p, vm) {
    const inside = memcmp(vm.r8, p.reg, p.from, p.len) >= 0 && memcmp(vm.r8, p.reg, p.to, p.len) <= 0;
    if (inside !== (p.op === NFT_RANGE_EQ)) vm.code[0] = -2;
  },
};
