/** notrack (nft_ct.c, nft_notrack_eval): attaches the untracked template; prerouting and output only. */
import type { NotrackExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { ERRNO } from '../errors.js';

export const notrackOps: ExprOps<NotrackExpr, null> = {
  type: 'notrack',
  prepare() { return null; },
  validate(_e, v) { return v.hook === 0 || v.hook === 3 ? 0 : ERRNO.EOPNOTSUPP; },
  eval(_p, vm) { vm.env.host.notrack(vm.pkt); },
};
