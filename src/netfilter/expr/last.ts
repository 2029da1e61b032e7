/** last (nft_last.c): remembers when it last saw a packet (ms on the engine clock). */
import type { LastExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import type { Vm } from '../vm.js';

export function lastEval(e: LastExpr, vm: Vm): void {
  e.msecs = vm.env.clock.nowMs();
  e.set = 1;
}

export const lastOps: ExprOps<LastExpr, LastExpr> = {
  type: 'last',
  prepare(e) { return e; },
  eval(p, vm) { lastEval(p, vm); },
};
