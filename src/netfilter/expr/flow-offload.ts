/** flow_offload (nft_flow_offload.c): `flow add @ft` — forward hook only; offload itself is the host's business. */
import type { FlowOffloadExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { ERRNO } from '../errors.js';

export const flowOffloadOps: ExprOps<FlowOffloadExpr, FlowOffloadExpr> = {
  type: 'flow_offload',
  prepare(e) { return e; },
  validate(_e, v) { return v.hook === 2 ? 0 : ERRNO.EOPNOTSUPP; },
  eval() { /* the packet continues; flowtable fast path is not modelled */ },
};
