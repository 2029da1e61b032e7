/**
 * Stateful expressions attached to set elements and named objects (counter,
 * quota, limit, connlimit, last) evaluated on their own state, as
 * nft_set_elem_update_expr / nft_objref do.
 */
import type { Expr } from '../bytecode.js';
import type { Vm } from '../vm.js';
import { counterEval } from './counter.js';
import { quotaEval } from './quota.js';
import { limitEval } from './limit.js';
import { connlimitEval } from './connlimit.js';
import { lastEval } from './last.js';

export function statefulEval(e: Expr, vm: Vm): void {
  switch (e.type) {
    case 'counter': counterEval(e, vm); break;
    case 'quota': quotaEval(e, vm); break;
    case 'limit': limitEval(e, vm); break;
    case 'connlimit': connlimitEval(e, vm); break;
    case 'last': lastEval(e, vm); break;
    default: break;
  }
}

export const STATEFUL_TYPES: ReadonlySet<string> = new Set(['counter', 'quota', 'limit', 'connlimit', 'last']);
