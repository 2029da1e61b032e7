/** The host packet path: receive/output walks, outcomes, and the state kept with a host. */
export { HostPath, hookName } from './walk.js';
export { describeRoute } from './describe.js';
export { fragmentIpv4 } from './fragment.js';
export type { HostPathOptions } from './walk.js';
export type { Fate, DropReason, HookName, Emitted, RuleTraceEntry, DropBy, PathStep, StepKind, PacketOutcome } from './types.js';
export { openPath, storePath, loadRuleset, hostClock, SECTION_NFTABLES, SECTION_CONNTRACK, SECTION_CLOCK } from './state.js';
export { rulesetUsesConntrack, evaluateSlice } from './hooks.js';
export type { Listener } from '../local-stack.js';
