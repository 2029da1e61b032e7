/**
 * nfx's xfrm framework: SAD, SPD, selectors, templates, lifetimes, events,
 * counters, and `ip xfrm`. The ESP transforms live in ./esp/.
 */
export * from './constants.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export {
  parseAddress,
  formatAddress,
  prefixMatch,
  addrEqual,
  addrIsAny,
  anyAddress,
  type XfrmAddress,
} from './addr.js';
export { findAlgorithm, algorithmNames, keyLengthOk, type AlgoDesc, type AlgoKind } from './algorithms.js';
export { XfrmError, formatKernelError, STRERROR, type Errno } from './errors.js';
export {
  emptySelector,
  selectorMatch,
  selectorFromFlow,
  selectorEqual,
  type XfrmSelector,
  type XfrmFlow,
} from './selector.js';
export {
  infiniteLifetime,
  replayWindowSize,
  UINT32_MAX,
  type SaConfig,
  type XfrmSA,
  type XfrmAead,
  type XfrmAuth,
  type XfrmCipher,
  type XfrmEncap,
  type XfrmMark,
  type XfrmLifetimeCfg,
  type XfrmLifetimeCur,
  type XfrmReplayLegacy,
  type XfrmReplayEsn,
  type XfrmKmState,
} from './state.js';
export { type XfrmPolicy, type XfrmTmpl, type PolicyConfig } from './policy.js';
export { XfrmEventBus, eventGroup, type XfrmEvent, type XfrmGroup, type XfrmListener } from './events.js';
export { XfrmStats, XFRM_MIB_NAMES, type XfrmMibName } from './stats.js';
export { Xfrm, type XfrmOptions, type SaId, type PolicyId, type DefaultAction, type AllocSpiRequest } from './xfrm.js';
export {
  lookupOutput,
  stateLookupInput,
  stateCheckExpire,
  inputCheckExpire,
  outputStateCheck,
  stateAccount,
  checkNatMapping,
  policyCheck,
  type OutputOptions,
  type OutputDecision,
  type InputStateResult,
  type PolicyCheckResult,
  type PolicyCheckOptions,
} from './datapath.js';
export { tick, nextDeadline } from './lifetime.js';
export { serializeXfrm, deserializeXfrm, type XfrmJson } from './serialize.js';
export { ipXfrm, type IpXfrmOptions, type CmdResult } from './ipxfrm/command.js';
export { formatState, formatPolicy, formatXfrmEvent, type PrintOptions } from './ipxfrm/print.js';
export { espSaConfigFromXfrm } from './esp-bridge.js';

import type { Xfrm } from './xfrm.js';
/** The text of /proc/net/xfrm_stat for this netns. */
export function formatXfrmStat(x: Xfrm): string {
  return x.stats.format();
}
