/**
 * What the packet path reports about one packet: its fate, the kernel's drop
 * reason, the frames it caused to be transmitted, the nf_tables rule events in
 * order, and a step-by-step account (hooks, routing, neighbours, checks) that
 * `nfx why` prints for a person.
 */
import type { TraceEvent } from '../../netfilter/trace.js';

/** CLI.md "Packets through a host": the fate of an input packet. */
export type Fate = 'forwarded' | 'delivered' | 'dropped' | 'stolen' | 'queued';

/**
 * SKB_DROP_REASON_* names used by the path (include/net/dropreason-core.h),
 * without the prefix, as the CLI prints them.
 */
export type DropReason =
  | 'NOT_SPECIFIED' | 'NO_SOCKET' | 'PKT_TOO_SMALL' | 'TCP_CSUM' | 'UDP_CSUM' | 'NETFILTER_DROP'
  | 'OTHERHOST' | 'IP_CSUM' | 'IP_INHDR' | 'IP_RPFILTER' | 'UNICAST_IN_L2_MULTICAST' | 'IP_NOPROTO'
  | 'IP_INADDRERRORS' | 'IP_INNOROUTES' | 'IP_LOCAL_SOURCE' | 'IP_INVALID_SOURCE' | 'IP_LOCALNET'
  | 'IP_INVALID_DEST' | 'PKT_TOO_BIG' | 'IP_OUTNOROUTES' | 'NEIGH_FAILED' | 'UNHANDLED_PROTO'
  | 'DEV_READY' | 'IPV6DISABLED' | 'ICMP_CSUM' | 'INVALID_PROTO' | 'TCP_FLAGS' | 'XFRM_POLICY';

/** Hook names as `nft` spells them. */
export type HookName = 'ingress' | 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'egress';

/** One frame put on a link because of the input packet (bytes as on the wire). */
export interface Emitted {
  dev: string;
  frame: Uint8Array;
  /** The frame starts with an Ethernet header (false on `lo`). */
  ether: boolean;
}

/** One entry of `nfx inject --json`'s `trace`: a rule event; handle null = the chain's policy. */
export interface RuleTraceEntry {
  hook: HookName;
  family: string;
  table: string;
  chain: string;
  handle: number | null;
  verdict: string;
  /** Set on events of packets the host generated because of the input (reject, ICMP errors, replies). */
  generated?: true;
}

/** What decided a drop: a rule (with its position) or a named check of the stack. */
export type DropBy =
  | { kind: 'rule'; hook: HookName; family: string; table: string; chain: string; handle: number | null }
  | { kind: 'check'; check: string };

export type StepKind =
  | 'link' | 'check' | 'hook' | 'route' | 'forward' | 'neigh' | 'transmit' | 'deliver' | 'local'
  | 'drop' | 'generate' | 'rewrite' | 'ct' | 'flow';

/** One step of the walk, for `why`. */
export interface PathStep {
  kind: StepKind;
  /** One line for a person. */
  text: string;
  /** 0 for the input packet, 1 for a packet generated because of it, and so on. */
  depth: number;
  hook?: HookName;
  /** NFPROTO of the hook (2 or 10, 5 for netdev). */
  pf?: number;
  /** The rule events of a hook step. */
  traces?: TraceEvent[];
}

export interface PacketOutcome {
  fate: Fate;
  reason?: DropReason;
  dropBy?: DropBy;
  emitted: Emitted[];
  trace: RuleTraceEntry[];
  steps: PathStep[];
}
