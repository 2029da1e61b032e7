/** rt (nft_rt.c): routing information of the packet's route (classid, nexthop, tcpmss, ipsec) from the host. */
import type { RtExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface RtP { key: number; reg: number }

export const rtOps: ExprOps<RtExpr, RtP> = {
  type: 'rt',
  prepare(e) {
    if (e.key < 0 || e.key > 4) fail(ERRNO.EOPNOTSUPP);
    return { key: e.key, reg: regByteOffset(e.dreg, e.key === 2 ? 16 : 4) };
  },
  validate(e, v) {
    // nft_rt_validate: tcpmss and ipsec need a route, i.e. forward/output/postrouting.
    if (e.key === 3 || e.key === 4) return v.hook === 2 || v.hook === 3 || v.hook === 4 ? 0 : ERRNO.EOPNOTSUPP;
    return 0;
  },
  eval(p, vm) {
    if (!vm.env.host.rt(vm.pkt, vm.env.pf, p.key, vm.r8, p.reg)) vm.code[0] = -2;
  },
};
