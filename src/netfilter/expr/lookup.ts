/**
 * lookup (nft_lookup.c): the key in a register against a set; a miss breaks
 * the rule (inverted with NFT_LOOKUP_F_INV). Maps copy the element's data into
 * dreg; verdict maps (dreg 0) set the verdict. Per-element stateful
 * expressions (counters) are updated on a match.
 */
import type { LookupExpr, Verdict } from '../bytecode.js';
import { NFT_SET_MAP, NFT_LOOKUP_F_INV, NFT_DATA_VERDICT } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, storeBytes } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import type { NftSet } from '../set/set.js';
import { ERRNO } from '../errors.js';
import { statefulEval } from './stateful.js';

export interface LookupP { set: NftSet; reg: number; dreg: number; inv: boolean; dataLen: number }

export const lookupOps: ExprOps<LookupExpr, LookupP> = {
  type: 'lookup',
  prepare(e, b) {
    const set = b.set(e.set, e.setId);
    if (!set) fail(ERRNO.ENOENT, `set ${e.set} does not exist`);
    const reg = regByteOffset(e.sreg, set.decl.keyLen);
    const inv = (e.flags & NFT_LOOKUP_F_INV) !== 0;
    if (e.flags & ~NFT_LOOKUP_F_INV) fail(ERRNO.EINVAL);
    let dreg = -1;
    if (e.dreg !== undefined) {
      // nft_lookup_init: a data register needs a map, and an inverted lookup cannot have one.
      if (inv || !(set.decl.flags & NFT_SET_MAP)) fail(ERRNO.EINVAL);
      if (e.dreg === 0) {
        if (set.decl.dataType !== NFT_DATA_VERDICT) fail(ERRNO.EINVAL);
        dreg = 0;
      } else {
        if (set.decl.dataType === NFT_DATA_VERDICT) fail(ERRNO.EINVAL);
        dreg = regByteOffset(e.dreg, set.decl.dataLen ?? 4);
      }
    }
    return { set, reg, dreg, inv, dataLen: set.decl.dataLen ?? 0 };
  },
  eval(p, vm) {
    const el = p.set.lookup(vm.r8, p.reg, vm.env.clock.nowMs());
    if ((el !== undefined) === p.inv) { vm.code[0] = -2; return; }
    if (!el) return;
    if (p.dreg === 0) {
      const v: Verdict | undefined = el.verdict;
      if (v) { vm.code[0] = v.code; vm.chain = v.chain; }
    } else if (p.dreg > 0 && el.data) {
      storeBytes(vm, p.dreg, el.data, 0, Math.min(el.data.length, p.dataLen || el.data.length));
    }
    if (el.exprs) for (const x of el.exprs) statefulEval(x, vm);
  },
};
void ({} as Vm);
