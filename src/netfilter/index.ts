/**
 * The nf_tables engine's public surface: batches in, a committed ruleset,
 * packets through hooks with verdicts and traces.
 */
export type { Batch, BatchOp, ChainHookSpec } from './batch.js';
export { NFPROTO, FAMILY_NAME } from './batch.js';
export { Ruleset, serialize, deserialize, tableKey, objKey } from './ruleset.js';
export type { TableState, ChainState, FlowtableState, SerialRuleset } from './ruleset.js';
export { commitBatch, validateTable, NFT_JUMP_STACK_SIZE } from './transaction.js';
export type { CommitResult, BatchError } from './transaction.js';
export {
  evaluateHook, newHookResult, NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING, NF_INET_INGRESS, NF_NETDEV_INGRESS, NF_NETDEV_EGRESS,
} from './hooks.js';
export type { HookContext, HookResult } from './hooks.js';
export type { HostServices, NetDevice, SocketInfo, NatRequest } from './host-services.js';
export { NullHostServices } from './host-services.js';
export type { Clock } from './clock.js';
export { VirtualClock, realClock } from './clock.js';
export type { TraceEvent, TraceFormatOptions } from './trace.js';
export { formatTrace } from './trace.js';
export { NftKernelError, ERRNO, strerror } from './errors.js';
export type { NftObject } from './objects.js';
export { NftSet } from './set/set.js';
export {
  printExpr, printRule, parseExprLine, printSetDecl, parseSetDeclLine, printElement, printElementLine, parseElementLine,
} from './bytecode-text.js';
