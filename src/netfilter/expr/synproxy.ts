/** synproxy (nft_synproxy.c): SYN cookies for TCP handshakes; the host does the work. Input and forward only. */
import type { SynproxyExpr } from '../bytecode.js';
import type { ExprOps, ValidateContext } from './types.js';
import { ERRNO } from '../errors.js';

/** nft_synproxy_validate: ip/ip6/inet, hooks LOCAL_IN and FORWARD. */
export function synproxyHooksOk(v: ValidateContext): boolean {
  if (v.family !== 2 && v.family !== 10 && v.family !== 1) return false;
  return v.hook === 1 || v.hook === 2;
}

export const synproxyOps: ExprOps<SynproxyExpr, SynproxyExpr> = {
  type: 'synproxy',
  prepare(e) { return e; },
  validate(_e, v) { return synproxyHooksOk(v) ? 0 : ERRNO.EOPNOTSUPP; },
  eval(p, vm) {
    const v = vm.env.host.synproxy(vm.pkt, p.mss, p.wscale, p.flags);
    if (v !== 1) vm.code[0] = v;
  },
};
