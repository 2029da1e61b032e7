/**
 * Stateful objects (NFT_MSG_NEWOBJ): named counters, quotas, limits, ct
 * helpers/timeouts/expectations, secmarks, synproxies, connlimits. Counter,
 * quota, limit, connlimit and synproxy keep their state in the same shape as
 * the expression of the same name, so `objref` evaluates them with that
 * expression's code.
 */
import type { Expr } from './bytecode.js';

export interface NftObject {
  table: string;
  name: string;
  /** NFT_OBJECT_*. */
  type: number;
  handle: number;
  /** State for counter/quota/limit/connlimit/synproxy objects. */
  expr?: Expr;
  /** ct helper {type, protocol, l3proto}, ct timeout {protocol, l3proto, policy}, ct expectation, secmark {ctx}. */
  data?: Record<string, unknown>;
  comment?: string;
}
