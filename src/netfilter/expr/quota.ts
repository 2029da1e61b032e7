/**
 * quota (nft_quota.c): consumed += len; the rule breaks once consumed reaches
 * the quota (NFT_QUOTA_F_INV `over` inverts). The kernel marks a depleted
 * quota with NFT_QUOTA_F_DEPLETED (2) in its flags.
 */
import type { QuotaExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { pktLen } from './types.js';
import type { Vm } from '../vm.js';

export function quotaEval(q: QuotaExpr, vm: Vm): void {
  q.consumed += pktLen(vm.pkt);
  const over = q.consumed >= q.bytes;
  if (over) q.flags |= 2;
  if (over !== ((q.flags & 1) !== 0)) vm.code[0] = -2;
}

export const quotaOps: ExprOps<QuotaExpr, QuotaExpr> = {
  type: 'quota',
  prepare(e) { return e; },
  eval(p, vm) { quotaEval(p, vm); },
};
