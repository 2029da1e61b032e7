/** numgen (nft_numgen.c): an incrementing counter modulo `mod` (first value 0), or a random value, plus offset. */
import type { NumgenExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';
import { reciprocalScale } from './hash.js';

export interface NumgenP { dst: number; modulus: number; random: boolean; offset: number; counter: number }

export const numgenOps: ExprOps<NumgenExpr, NumgenP> = {
  type: 'numgen',
  prepare(e) {
    if (e.modulus === 0) fail(ERRNO.ERANGE);
    if (e.ngType !== 0 && e.ngType !== 1) fail(ERRNO.EOPNOTSUPP);
    if ((e.offset ?? 0) + e.modulus - 1 > 0xffffffff) fail(ERRNO.EOVERFLOW);
    // nft_ng_inc_init: the counter starts at modulus - 1 so the first packet gets 0.
    return { dst: regByteOffset(e.dreg, 4), modulus: e.modulus, random: e.ngType === 1, offset: e.offset ?? 0, counter: e.modulus - 1 };
  },
  eval(p, vm) {
    let v: number;
    if (p.random) v = reciprocalScale(vm.env.random(), p.modulus);
    else {
      p.counter = p.counter + 1 < p.modulus ? p.counter + 1 : 0;
      v = p.counter;
    }
    vm.regs[p.dst >> 2] = (v + p.offset) >>> 0;
  },
};
