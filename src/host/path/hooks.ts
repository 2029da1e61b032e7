/**
 * Evaluating part of a hook's chain list. The kernel registers conntrack
 * (-200), defrag (-400), NAT and confirmation as hook functions between the
 * nf_tables base chains, by priority; nfx runs them from the path, so the
 * base chains of one hook are evaluated in slices: those before conntrack,
 * those after — and nat-type chains only for a connection's first packet
 * (nf_nat_inet_fn: only IP_CT_NEW packets without a binding reach them).
 */
import type { Packet } from '../../packet/packet.js';
import type { Ruleset } from '../../netfilter/ruleset.js';
import { evaluateChainList } from '../../netfilter/hooks.js';
import type { HookContext, HookResult } from '../../netfilter/hooks.js';
import { runtimeOf } from '../../netfilter/runtime.js';
import type { CompiledChain, Runtime } from '../../netfilter/runtime.js';

/** NF_IP_PRI_CONNTRACK_DEFRAG, NF_IP_PRI_CONNTRACK, NF_IP_PRI_CONNTRACK_CONFIRM (uapi/linux/netfilter_ipv4.h). */
export const NF_IP_PRI_CONNTRACK_DEFRAG = -400;
export const NF_IP_PRI_CONNTRACK = -200;
export const NF_IP_PRI_LAST = 0x7fffffff;

export interface ChainFilter {
  /** Chains with priority in [min, max). */
  min: number;
  max: number;
  /** Leave out nat-type chains (they run inside the NAT hook function, or not at all). */
  skipNat: boolean;
  /** Only this chain. */
  only?: CompiledChain;
}

/** NF_IP_PRI_NAT_DST / NF_IP_PRI_NAT_SRC: where the NAT hook function sits. */
export const NF_IP_PRI_NAT_DST = -100;
export const NF_IP_PRI_NAT_SRC = 100;

/** The nat-type base chains at (pf, hook), in priority order. */
export function natChains(ruleset: Ruleset, pf: number, hook: number): CompiledChain[] {
  return (runtimeOf(ruleset).hookTable[pf * 8 + hook] ?? []).filter(isNat);
}

/** nf_nat registers its four hook functions for a family as soon as one nat chain exists in it. */
export function familyHasNat(ruleset: Ruleset, pf: number): boolean {
  const t = runtimeOf(ruleset).hookTable;
  for (let h = 0; h < 5; h++) if ((t[pf * 8 + h] ?? []).some(isNat)) return true;
  return false;
}

/** Whether any base chain is registered at (pf, hook). */
export function hasChains(ruleset: Ruleset, pf: number, hook: number): boolean {
  return (runtimeOf(ruleset).hookTable[pf * 8 + hook]?.length ?? 0) > 0;
}

/** evaluateHook over the chains `f` selects. */
export function evaluateSlice(ruleset: Ruleset, pf: number, hook: number, pkt: Packet, ctx: HookContext, out: HookResult, f: ChainFilter): HookResult {
  const rt = runtimeOf(ruleset);
  const all = rt.hookTable[pf * 8 + hook];
  if (!all) return evaluateChainList(rt, undefined, pf, hook, pkt, ctx, out);
  const some = f.only ? all.filter((c) => c === f.only)
    : all.filter((c: CompiledChain) => c.priority >= f.min && c.priority < f.max && !(f.skipNat && isNat(c)));
  return evaluateChainList(rt, some.length ? some : undefined, pf, hook, pkt, ctx, out);
}

/**
 * The slices of one (pf, hook)'s base chains the path runs between conntrack's
 * and NAT's hook functions, computed once per ruleset generation (the path
 * evaluates several per packet; filtering chain lists per packet was a
 * measurable share of the replay). A slice is undefined when empty, and is
 * the hook's own list when it holds every chain (no swap needed to run it).
 */
export interface HookPlan {
  /** Every base chain at the hook. */
  all: CompiledChain[] | undefined;
  /** nf_nat registered its hook functions for the family (some nat chain exists in it). */
  nat: boolean;
  /** NF_IP_PRI_NAT_DST at PREROUTING/OUTPUT, NF_IP_PRI_NAT_SRC at INPUT/POSTROUTING. */
  natPrio: number;
  /** Non-nat chains below conntrack (-200): raw, defrag-time chains. */
  belowCt: CompiledChain[] | undefined;
  /** Non-nat chains from conntrack on, all the way (no NAT in the family). */
  fromCt: CompiledChain[] | undefined;
  /** Non-nat chains at any priority. */
  nonNat: CompiledChain[] | undefined;
  /** Non-nat chains in [-200, natPrio) and in (-inf, natPrio). */
  ctToNat: CompiledChain[] | undefined;
  toNat: CompiledChain[] | undefined;
  /** Non-nat chains from the NAT hook function on. */
  fromNat: CompiledChain[] | undefined;
  /** The nat-type chains, each alone (they run one by one, only while the connection needs them). */
  natChains: CompiledChain[][];
}

const plans = new WeakMap<Runtime, Array<HookPlan | undefined>>();

/** The plan for (pf, hook) of the ruleset's current runtime. */
export function hookPlan(ruleset: Ruleset, pf: number, hook: number): HookPlan {
  const rt = runtimeOf(ruleset);
  let list = plans.get(rt);
  if (list === undefined) { list = []; plans.set(rt, list); }
  const idx = pf * 8 + hook;
  let p = list[idx];
  if (p === undefined) {
    const all = rt.hookTable[idx];
    const natPrio = hook === 0 || hook === 3 ? NF_IP_PRI_NAT_DST : NF_IP_PRI_NAT_SRC;
    const slice = (keep: (c: CompiledChain) => boolean): CompiledChain[] | undefined => {
      const some = (all ?? []).filter((c) => !isNat(c) && keep(c));
      return some.length === 0 ? undefined : some.length === all!.length ? all : some;
    };
    p = {
      all, nat: familyHasNat(ruleset, pf), natPrio,
      belowCt: slice((c) => c.priority < NF_IP_PRI_CONNTRACK),
      fromCt: slice((c) => c.priority >= NF_IP_PRI_CONNTRACK),
      nonNat: slice(() => true),
      ctToNat: slice((c) => c.priority >= NF_IP_PRI_CONNTRACK && c.priority < natPrio),
      toNat: slice((c) => c.priority < natPrio),
      fromNat: slice((c) => c.priority >= natPrio),
      natChains: (all ?? []).filter(isNat).map((c) => (all!.length === 1 ? all! : [c])),
    };
    list[idx] = p;
  }
  return p;
}

/** evaluateHook over exactly `chains` (a slice of the hook's list from hookPlan), in place of the hook's whole list. */
export function evaluateChains(ruleset: Ruleset, pf: number, hook: number, pkt: Packet, ctx: HookContext, out: HookResult, chains: CompiledChain[]): HookResult {
  return evaluateChainList(runtimeOf(ruleset), chains, pf, hook, pkt, ctx, out);
}

function isNat(c: CompiledChain): boolean {
  return c.table.chains.get(c.name)?.type === 'nat';
}

/** Expression types that make the kernel load conntrack for the namespace (nf_ct_netns_get callers). */
const CT_USERS = new Set(['ct', 'nat', 'masq', 'redir', 'notrack', 'connlimit', 'flow_offload', 'synproxy']);

/** Conntrack is in use exactly when some rule or chain needs it, as in the kernel. */
export function rulesetUsesConntrack(ruleset: Ruleset): boolean {
  for (const t of ruleset.tables.values()) {
    for (const ch of t.chains.values()) {
      if (ch.type === 'nat') return true;
      for (const r of ch.rules) for (const e of r.exprs) if (CT_USERS.has(e.type)) return true;
    }
    for (const o of t.objects.values()) {
      const type = (o as { type?: number }).type;
      // NFT_OBJECT_CT_HELPER 3, CT_TIMEOUT 7, CT_EXPECT 9, CONNLIMIT 5, SYNPROXY 10.
      if (type === 3 || type === 5 || type === 7 || type === 9 || type === 10) return true;
    }
  }
  return false;
}
