/**
 * flow_offload (nft_flow_offload.c): `flow add @ft` hands the packet's
 * connection to a flowtable; the host decides whether it qualifies and owns
 * the fast path (src/host/path/flowtable.ts). A packet whose connection is
 * not offloaded — untracked, not established, a helper's, offloaded already —
 * breaks the rule (NFT_BREAK), so what follows in it does not run.
 */
import type { FlowOffloadExpr } from '../bytecode.js';
import { NFT_BREAK } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { ERRNO } from '../errors.js';

/** NFPROTO_* the expression exists in (nft_flow_offload_validate). */
const PF_INET = 1, PF_IPV4 = 2, PF_IPV6 = 10;
/** NF_INET_FORWARD */
const FORWARD = 2;

interface Prepared { family: number; table: string; flowtable: string }

export const flowOffloadOps: ExprOps<FlowOffloadExpr, Prepared> = {
  type: 'flow_offload',
  prepare(e, b) { return { family: b.family, table: b.table, flowtable: e.table }; },
  validate(_e, v) {
    if (v.family !== PF_INET && v.family !== PF_IPV4 && v.family !== PF_IPV6) return ERRNO.EOPNOTSUPP;
    return v.hook === FORWARD ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    if (!vm.env.host.flowOffload(vm.pkt, vm.env.pf, p.family, p.table, p.flowtable)) vm.code[0] = NFT_BREAK;
  },
};
