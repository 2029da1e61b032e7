/**
 * reject (nft_reject*.c): asks the host to send the ICMP/ICMPv6 error or TCP
 * reset, then drops. Allowed where the kernel allows it (nft_reject_validate):
 * prerouting, input, forward and output; bridge prerouting/input; netdev ingress.
 */
import type { RejectExpr } from '../bytecode.js';
import { NFT_REJECT_ICMPX_UNREACH, NF_DROP } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { ERRNO } from '../errors.js';

export const rejectOps: ExprOps<RejectExpr, RejectExpr> = {
  type: 'reject',
  prepare(e) {
    if (e.rejectType > NFT_REJECT_ICMPX_UNREACH) fail(ERRNO.EINVAL);
    // NFT_REJECT_ICMPX_MAX: icmpx codes are 0..3.
    if (e.rejectType === NFT_REJECT_ICMPX_UNREACH && e.icmpCode > 3) fail(ERRNO.EINVAL);
    return e;
  },
  validate(_e, v) {
    let ok: boolean;
    if (v.family === 7) ok = v.hook === 0 || v.hook === 1;
    else if (v.family === 5) ok = v.hook === 0;
    else ok = v.hook === 0 || v.hook === 1 || v.hook === 2 || v.hook === 3;
    return ok ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    // Bridge and netdev chains reject at layer 2 (nft_reject_bridge,
    // nft_reject_netdev: the reply leaves by the ingress device, MACs swapped),
    // so the host is told the hook's family (nft_pf() is NFPROTO_BRIDGE or
    // NFPROTO_NETDEV there), not the frame's IP family.
    const fam = vm.env.family;
    vm.env.host.reject(vm.pkt, fam === 7 || fam === 5 ? fam : vm.env.pf, p.rejectType, p.icmpCode);
    vm.code[0] = NF_DROP;
  },
};
