/**
 * dynset (nft_dynset.c): `add`/`update`/`delete @set` from the data path. A
 * full set breaks the rule; `update` refreshes the element's timeout; the
 * element's stateful expressions (counter, limit, quota...) then see the packet.
 */
import type { DynsetExpr, Expr } from '../bytecode.js';
import { NFT_DYNSET_OP_ADD, NFT_DYNSET_OP_UPDATE, NFT_DYNSET_OP_DELETE, NFT_DYNSET_F_INV, NFT_SET_CONSTANT, NFT_SET_MAP, NFT_SET_TIMEOUT } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import type { NftSet } from '../set/set.js';
import { ERRNO } from '../errors.js';
import { statefulEval, STATEFUL_TYPES } from './stateful.js';

export interface DynsetP { set: NftSet; op: number; key: number; data: number; timeout: number; inv: boolean; exprs: Expr[] | undefined }

export const dynsetOps: ExprOps<DynsetExpr, DynsetP> = {
  type: 'dynset',
  prepare(e, b) {
    const set = b.set(e.set, e.setId);
    if (!set) fail(ERRNO.ENOENT, `set ${e.set} does not exist`);
    if (set.decl.flags & NFT_SET_CONSTANT) fail(ERRNO.EBUSY);
    if (e.op > NFT_DYNSET_OP_DELETE) fail(ERRNO.EOPNOTSUPP);
    if (e.timeout && !(set.decl.flags & NFT_SET_TIMEOUT)) fail(ERRNO.EINVAL);
    if (e.sregData !== undefined && !(set.decl.flags & NFT_SET_MAP)) fail(ERRNO.EINVAL);
    for (const x of e.exprs ?? []) if (!STATEFUL_TYPES.has(x.type)) fail(ERRNO.EOPNOTSUPP);
    return {
      set, op: e.op, key: regByteOffset(e.sregKey, set.decl.keyLen),
      data: e.sregData !== undefined ? regByteOffset(e.sregData, set.decl.dataLen ?? 4) : -1,
      timeout: e.timeout ?? 0, inv: ((e.flags ?? 0) & NFT_DYNSET_F_INV) !== 0, exprs: e.exprs,
    };
  },
  eval(p, vm) {
    const now = vm.env.clock.nowMs();
    if (p.op === NFT_DYNSET_OP_DELETE) {
      const el = p.set.lookup(vm.r8, p.key, now);
      if (el) p.set.backend.remove(el.key, el.keyEnd, el.flags);
      else if (!p.inv) vm.code[0] = -2;
      return;
    }
    const data = p.data >= 0 ? vm.r8.slice(p.data, p.data + (p.set.decl.dataLen ?? 4)) : undefined;
    const el = p.set.dynsetAdd(vm.r8, p.key, data, now, p.timeout, p.op === NFT_DYNSET_OP_UPDATE, p.exprs);
    if (el) {
      if (el.exprs) for (const x of el.exprs) { statefulEval(x, vm); if (vm.code[0] === -2) break; }
      if (p.inv) vm.code[0] = -2;
      return;
    }
    if (!p.inv) vm.code[0] = -2;
  },
};
void NFT_DYNSET_OP_ADD;
