/**
 * fib (nft_fib.c): a FIB lookup through the host. ->validate restricts the
 * hooks per result as the kernel does: oif/oifname need an input-side hook;
 * `type` with iif likewise, with oif an output-side hook.
 */
import type { FibExpr } from '../bytecode.js';
import { NFT_FIB_RESULT_OIF, NFT_FIB_RESULT_OIFNAME, NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_IIF, NFTA_FIB_F_OIF, NFTA_FIB_F_SADDR, NFTA_FIB_F_DADDR } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

const PRE = 1 << 0, IN = 1 << 1, FWD = 1 << 2, OUT = 1 << 3, POST = 1 << 4;

export interface FibP { flags: number; result: number; reg: number }

export const fibOps: ExprOps<FibExpr, FibP> = {
  type: 'fib',
  prepare(e) {
    if (e.result < NFT_FIB_RESULT_OIF || e.result > NFT_FIB_RESULT_ADDRTYPE) fail(ERRNO.EINVAL);
    const sd = e.flags & (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR);
    if (sd === 0 || sd === (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR)) fail(ERRNO.EINVAL);
    if ((e.flags & (NFTA_FIB_F_IIF | NFTA_FIB_F_OIF)) === (NFTA_FIB_F_IIF | NFTA_FIB_F_OIF)) fail(ERRNO.EINVAL);
    const len = e.result === NFT_FIB_RESULT_OIFNAME ? 16 : 4;
    return { flags: e.flags, result: e.result, reg: regByteOffset(e.dreg, len) };
  },
  validate(e, v) {
    if (v.family === 5) return 0; // netdev: nft_fib_netdev has no hook restriction
    let hooks: number;
    if (e.result === NFT_FIB_RESULT_OIF || e.result === NFT_FIB_RESULT_OIFNAME) hooks = PRE | IN | FWD;
    else if (e.flags & NFTA_FIB_F_IIF) hooks = PRE | IN | FWD;
    else if (e.flags & NFTA_FIB_F_OIF) hooks = OUT | POST | FWD;
    else hooks = IN | OUT | FWD | PRE | POST;
    return hooks & (1 << v.hook) ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    if (!vm.env.host.fib(vm.pkt, vm.env.pf, vm.env.hook, p.flags, p.result, vm.r8, p.reg)) vm.code[0] = -2;
  },
};
