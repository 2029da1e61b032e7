/** log (nft_log.c): hands the packet to the host's logger; never changes the verdict. */
import type { LogExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { ERRNO } from '../errors.js';

export const logOps: ExprOps<LogExpr, LogExpr> = {
  type: 'log',
  prepare(e) {
    // nft_log_init: a level beyond LOGLEVEL_DEBUG (7) is refused, except NFT_LOGLEVEL_AUDIT (8).
    if (e.level !== undefined && e.level > 8) fail(ERRNO.EINVAL);
    if (e.group !== undefined && e.level !== undefined) fail(ERRNO.EINVAL);
    return e;
  },
  eval(p, vm) { vm.env.host.log(vm.pkt, vm.env.pf, vm.env.hook, p); },
};
