/** connlimit (nft_connlimit.c): breaks when the connection count exceeds `count` (NFT_CONNLIMIT_F_INV inverts). */
import type { ConnlimitExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import type { Vm } from '../vm.js';

export function connlimitEval(e: ConnlimitExpr, vm: Vm): void {
  const n = vm.env.host.connlimitCount(vm.pkt, e);
  // No conntrack entry: the kernel cannot count and breaks the rule.
  if (n < 0) { vm.code[0] = -2; return; }
  if ((n > e.count) !== ((e.flags & 1) !== 0)) vm.code[0] = -2;
}

export const connlimitOps: ExprOps<ConnlimitExpr, ConnlimitExpr> = {
  type: 'connlimit',
  prepare(e) { return e; },
  eval(p, vm) { connlimitEval(p, vm); },
};
