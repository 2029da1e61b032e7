/**
 * Running the bridge family's hooks (NFPROTO_BRIDGE, net/bridge/netfilter/
 * nf_tables_bridge.c) and the netdev hooks of bridge ports for the bridge
 * path. Unlike the walk's own hook runner, a result here does not decide the
 * packet's fate by itself: a flooded frame's copies can meet different
 * verdicts, so the bridge path (bridge.ts) decides once all copies are done.
 *
 * nf_conntrack_bridge's hook functions sit between the chains as the kernel
 * registers them: nf_ct_bridge_pre at PREROUTING -200 (NF_IP_PRI_CONNTRACK),
 * nf_ct_bridge_in at INPUT and nf_ct_bridge_post at POSTROUTING, both at
 * NF_IP_PRI_CONNTRACK_CONFIRM (INT_MAX, after every chain).
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { HostPath } from './walk.js';
import type { HookContext, HookResult } from '../../netfilter/hooks.js';
import { evaluateHook, newHookResult } from '../../netfilter/hooks.js';
import { NF_ACCEPT, NF_DROP, NF_QUEUE, NF_STOLEN } from '../../netfilter/bytecode.js';
import { verdictName } from '../../netfilter/bytecode-text.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import type { TraceEvent } from '../../netfilter/trace.js';
import type { Ruleset } from '../../netfilter/ruleset.js';
import { evaluateSlice, hasChains } from './hooks.js';
import type { ChainFilter } from './hooks.js';
import { verdictText } from './describe.js';
import type { DropBy, DropReason, Fate, HookName, RuleTraceEntry } from './types.js';

/** NFPROTO_NETDEV, NFPROTO_BRIDGE (uapi/linux/netfilter.h). */
export const PF_NETDEV = 5;
export const PF_BRIDGE = 7;
/** NF_BR_* (uapi/linux/netfilter_bridge.h): the same numbers as NF_INET_*. */
export const NF_BR_PRE_ROUTING = 0;
export const NF_BR_LOCAL_IN = 1;
export const NF_BR_FORWARD = 2;
export const NF_BR_LOCAL_OUT = 3;
export const NF_BR_POST_ROUTING = 4;

const BR_HOOK_NAMES: HookName[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

/**
 * The parts of the walk the bridge path shares. HostPath keeps them private
 * to everything but its own helpers; this is the one place that reaches them.
 */
interface PathCore {
  decide(fate: Fate, reason?: DropReason, by?: DropBy): void;
  flush(): void;
  ctx: HookContext;
}

export function core(path: HostPath): PathCore { return path as unknown as PathCore; }

/** What a hook (or a bridge check) did to one copy of a frame. */
export interface BrResult {
  go: boolean;
  fate?: Fate;
  reason?: DropReason;
  by?: DropBy;
}

export const GO: BrResult = { go: true };

/** A drop by a check of the bridge (not a rule), with the kernel's reason; the step says why. */
export function brDrop(path: HostPath, reason: string, check: string): BrResult {
  path.step('drop', `dropped: ${check} (SKB_DROP_REASON_${reason})`);
  // The bridge's reasons (MAC_INVALID_SOURCE, BRIDGE_INGRESS_STP_STATE, NO_TX_TARGET, ...) are
  // dropreason-core.h names like the others; DropReason lists the walk's own.
  return { go: false, fate: 'dropped', reason: reason as DropReason, by: { kind: 'check', check } };
}

/** Makes a result the packet's fate (first decision wins, as in the walk). */
export function settle(path: HostPath, r: BrResult): void {
  switch (r.fate) {
    case undefined: return;
    case 'dropped': path.decideDropped(r.reason ?? 'NOT_SPECIFIED', r.by ?? { kind: 'check', check: 'bridge' }); return;
    case 'forwarded': path.decideForwarded(); return;
    case 'delivered': path.decideDelivered(); return;
    case 'queued': path.decideQueued(); return;
    default: core(path).decide(r.fate); return;
  }
}

/**
 * The copies of a flooded or forwarded frame are stepped one level deeper for
 * `why`, but they are the input packet itself, not packets the host made:
 * their rule events carry no `generated` flag.
 */
const copyDepths = new WeakMap<HostPath, number>();
function copyDepth(path: HostPath): number { return copyDepths.get(path) ?? 0; }

/** One copy of the frame starts, a step deeper; `endCopy` ends it. */
export function asCopy(path: HostPath): void {
  copyDepths.set(path, copyDepth(path) + 1);
  path.depth++;
}

export function endCopy(path: HostPath): void {
  path.depth--;
  copyDepths.set(path, copyDepth(path) - 1);
}

/** The chains of one hook evaluation: traces and the deciding verdict. Pooled per path and nesting level. */
class HookRun {
  verdict = NF_ACCEPT;
  table: string | undefined;
  chain: string | undefined;
  handle = -1;
  traces: TraceEvent[] = [];
  path!: HostPath;
  pkt!: Packet;
  pf = 0;
  hooknum = 0;

  reset(path: HostPath, pkt: Packet, pf: number, hooknum: number): this {
    this.verdict = NF_ACCEPT; this.table = undefined; this.chain = undefined; this.handle = -1;
    if (this.traces.length) this.traces = [];
    this.path = path; this.pkt = pkt; this.pf = pf; this.hooknum = hooknum;
    return this;
  }

  /** The chains with priority in [f.min, f.max) (all of them without `f`). */
  chains(f: ChainFilter | undefined, out: HookResult): void {
    if (this.verdict !== NF_ACCEPT) return;
    const path = this.path;
    path.currentHook = this.hooknum;
    const ctx = core(path).ctx;
    const r = f ? evaluateSlice(path.ruleset, this.pf, this.hooknum, this.pkt, ctx, out, f)
      : evaluateHook(path.ruleset, this.pf, this.hooknum, this.pkt, ctx, out);
    path.currentHook = -1;
    if (r.traces.length) { for (const ev of r.traces) this.traces.push(ev); r.traces = []; }
    if (r.verdict !== NF_ACCEPT) { this.verdict = r.verdict; this.table = r.table; this.chain = r.chain; this.handle = r.handle; }
  }

  /** Records the rule events and turns the verdict into a result. */
  finish(name: HookName): BrResult {
    const path = this.path;
    if (this.traces.length > 0) {
      const trace = path.current.trace;
      for (const ev of this.traces) {
        if (ev.type === 'return' || (ev.type === 'rule' && ev.handle === undefined)) continue;
        const e: RuleTraceEntry = {
          hook: name, family: FAMILY_NAME[ev.family] ?? String(ev.family), table: ev.table, chain: ev.chain,
          handle: ev.type === 'policy' ? null : ev.handle ?? null, verdict: verdictText(ev.verdict),
        };
        if (path.depth - copyDepth(path) > 0) e.generated = true;
        trace.push(e);
      }
      if (path.detail) {
        const fam = this.pf === PF_BRIDGE ? 'bridge ' : this.pf === PF_NETDEV ? 'netdev ' : '';
        path.step('hook', `${fam}${name}: ${this.verdict === NF_ACCEPT ? 'accepted' : verdictName(this.verdict)}`, { hook: name, pf: this.pf, traces: this.traces });
      }
    }
    // Replies a rule queued (reject) go out once the VM is free again.
    core(path).flush();
    if (this.verdict === NF_ACCEPT) return GO;
    const fam = FAMILY_NAME[this.pf] ?? String(this.pf);
    if (this.verdict === NF_DROP) {
      const by: DropBy = { kind: 'rule', hook: name, family: lastFamily(this.traces) ?? fam, table: this.table ?? '', chain: this.chain ?? '', handle: this.handle < 0 ? null : this.handle };
      if (path.detail) path.step('drop', `dropped by ${by.family} ${by.table} ${by.chain} ${this.handle < 0 ? 'policy' : `rule handle ${this.handle}`} at ${fam} ${name} (SKB_DROP_REASON_NETFILTER_DROP)`);
      return { go: false, fate: 'dropped', reason: 'NETFILTER_DROP', by };
    }
    if (this.verdict === NF_STOLEN) { if (path.detail) path.step('drop', `stolen at ${fam} ${name} by ${this.table} ${this.chain}`); return { go: false, fate: 'stolen' }; }
    if (this.verdict === NF_QUEUE) { if (path.detail) path.step('drop', `queued to userspace at ${fam} ${name} by ${this.table} ${this.chain}`); return { go: false, fate: 'queued' }; }
    return { go: false, fate: 'dropped', reason: 'NOT_SPECIFIED' };
  }
}

function lastFamily(traces: TraceEvent[]): string | undefined {
  for (let i = traces.length - 1; i >= 0; i--) {
    const ev = traces[i]!;
    if (ev.type === 'policy' || (ev.type === 'rule' && ev.handle !== undefined)) return FAMILY_NAME[ev.family];
  }
  return undefined;
}

/** Hook runs by nesting level (a reject's reply may cross a hook while another is finishing), and the engine's result slot. */
interface Pool { runs: HookRun[]; level: number; out: HookResult }
const pools = new WeakMap<HostPath, Pool>();
function poolOf(path: HostPath): Pool {
  let p = pools.get(path);
  if (!p) { p = { runs: [], level: 0, out: newHookResult() }; pools.set(path, p); }
  return p;
}

/** A conntrack hook function between the chains (nf_ct_bridge_pre/in/post). */
export type CtHookFn = (path: HostPath, pkt: Packet) => BrResult;

/** Chain slices around the conntrack hook functions: below and from NF_IP_PRI_CONNTRACK, and all but the INT_MAX confirm. */
const SLICES: Record<number, [ChainFilter, ChainFilter]> = {
  [-200]: [{ min: -Infinity, max: -200, skipNat: false }, { min: -200, max: Infinity, skipNat: false }],
  [0x7fffffff]: [{ min: -Infinity, max: 0x7fffffff, skipNat: false }, { min: 0x7fffffff, max: Infinity, skipNat: false }],
};

/**
 * The bridge-family hook `hooknum` for a frame whose network header is at
 * pkt.head, with nft_in()/nft_out() as the kernel passes them (`in` is the
 * ingress port at PREROUTING, INPUT and FORWARD, none at OUTPUT and
 * POSTROUTING; `out` the egress port at FORWARD, OUTPUT and POSTROUTING).
 * `ctRun` is the conntrack hook function registered at priority `ctPrio`.
 */
export function bridgeHook(path: HostPath, pkt: Packet, hooknum: number, inDev: Link | undefined, outDev: Link | undefined,
  ctRun?: CtHookFn, ctPrio = 0): BrResult {
  if (!ctRun && !hasChains(path.ruleset, PF_BRIDGE, hooknum)) return GO;
  const pool = poolOf(path);
  const run = (pool.runs[pool.level] ??= new HookRun()).reset(path, pkt, PF_BRIDGE, hooknum);
  pool.level++;
  const saveIn = pkt.meta.iif, saveOut = pkt.meta.oif;
  pkt.meta.iif = inDev?.index ?? 0;
  pkt.meta.oif = outDev?.index ?? 0;
  let ctResult: BrResult = GO;
  try {
    if (!ctRun) run.chains(undefined, pool.out);
    else {
      const [below, from] = SLICES[ctPrio]!;
      run.chains(below, pool.out);
      if (run.verdict === NF_ACCEPT) ctResult = ctRun(path, pkt);
      if (ctResult.go) run.chains(from, pool.out);
    }
  } finally {
    pkt.meta.iif = saveIn;
    pkt.meta.oif = saveOut;
  }
  try {
    const r = run.finish(BR_HOOK_NAMES[hooknum] ?? 'prerouting');
    return r.go ? ctResult : r;
  } finally {
    pool.level--;
  }
}

/** The netdev ingress (0) or egress (1) hook of `dev`. */
export function netdevHook(path: HostPath, pkt: Packet, hooknum: 0 | 1, dev: Link): BrResult {
  if (hooknum === 0) pkt.meta.iif = dev.index; else pkt.meta.oif = dev.index;
  if (!hasChains(path.ruleset, PF_NETDEV, hooknum)) return GO;
  const pool = poolOf(path);
  const run = (pool.runs[pool.level] ??= new HookRun()).reset(path, pkt, PF_NETDEV, hooknum);
  pool.level++;
  try {
    run.chains(undefined, pool.out);
    return run.finish(hooknum === 0 ? 'ingress' : 'egress');
  } finally {
    pool.level--;
  }
}

/** Expression types that make the kernel load conntrack for a table's family (nf_ct_netns_get callers). */
const CT_USERS = new Set(['ct', 'connlimit']);

/**
 * nf_ct_netns_get(net, NFPROTO_BRIDGE) registers nf_conntrack_bridge's hooks:
 * only a bridge-family table's own ct expressions load them.
 */
export function bridgeUsesConntrack(ruleset: Ruleset): boolean {
  for (const t of ruleset.tables.values()) {
    if (t.family !== PF_BRIDGE) continue;
    for (const ch of t.chains.values()) for (const r of ch.rules) for (const e of r.exprs) if (CT_USERS.has(e.type)) return true;
    for (const o of t.objects.values()) {
      const type = (o as { type?: number }).type;
      if (type === 3 || type === 5 || type === 7 || type === 9) return true;
    }
  }
  return false;
}
