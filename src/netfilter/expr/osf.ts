/** osf (nft_osf.c): passive OS fingerprinting of SYNs by the host; unknown stores "unknown" in the kernel, here the host decides. */
import type { OsfExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface OsfP { reg: number; ttl: number; flags: number }

export const osfOps: ExprOps<OsfExpr, OsfP> = {
  type: 'osf',
  prepare(e) { return { reg: regByteOffset(e.dreg, 16), ttl: e.ttl ?? 0, flags: e.flags ?? 0 }; },
  validate(_e, v) {
    // Measured on 6.18 (FORMAT.md): refused in ip6 tables; hooks prerouting, input, forward.
    if (v.family !== 2 && v.family !== 1) return ERRNO.EOPNOTSUPP;
    return v.hook <= 2 ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    if (!vm.env.host.osf(vm.pkt, p.ttl, p.flags, vm.r8, p.reg)) vm.code[0] = -2;
  },
};
