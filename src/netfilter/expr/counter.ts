/** counter (nft_counter.c): packets and layer-3 bytes, kept in the expression itself so listings show them. */
import type { CounterExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { pktLen } from './types.js';
import type { Vm } from '../vm.js';

export interface CounterP { c: CounterExpr }

export function counterEval(c: CounterExpr, vm: Vm): void {
  c.packets += 1;
  c.bytes += pktLen(vm.pkt);
}

export const counterOps: ExprOps<CounterExpr, CounterP> = {
  type: 'counter',
  prepare(e) { return { c: e }; },
  eval(p, vm) { counterEval(p.c, vm); },
};
