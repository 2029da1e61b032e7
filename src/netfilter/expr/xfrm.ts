/** xfrm (nft_xfrm.c): `ipsec in|out` — the secpath (input) or the route's xfrm bundle (output) state at index spnum. */
import type { XfrmExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface XfrmP { key: number; dir: number; spnum: number; reg: number }

export const xfrmOps: ExprOps<XfrmExpr, XfrmP> = {
  type: 'xfrm',
  prepare(e) {
    if (e.key < 1 || e.key > 6) fail(ERRNO.EINVAL);
    if (e.dir > 1) fail(ERRNO.EINVAL);
    // XFRM_MAX_DEPTH: 6 states in a secpath.
    if (e.spnum >= 6) fail(ERRNO.ERANGE);
    const len = e.key === 2 || e.key === 4 ? 16 : 4;
    return { key: e.key, dir: e.dir, spnum: e.spnum, reg: regByteOffset(e.dreg, len) };
  },
  validate(e, v) {
    // nft_xfrm_validate: in = prerouting/input/forward, out = forward/output/postrouting.
    const ok = e.dir === 0 ? v.hook <= 2 : v.hook >= 2 && v.hook <= 4;
    return ok ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    if (!vm.env.host.xfrm(vm.pkt, p.dir, p.spnum, p.key, vm.r8, p.reg)) vm.code[0] = -2;
  },
};
