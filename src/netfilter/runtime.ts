/**
 * The committed ruleset compiled for the data path: every rule's expressions
 * prepared (sets and objects resolved), base chains registered per
 * (protocol family, hook) and sorted by priority — what the kernel's hook
 * registration and the rule blobs give it. Rebuilt after each commit.
 */
import type { Rule } from './bytecode.js';
import type { Ruleset, TableState, ChainState } from './ruleset.js';
import { objKey } from './ruleset.js';
import { EXPR_OPS } from './expr/index.js';
import type { ExprOps, BindContext } from './expr/types.js';
import type { Vm } from './vm.js';

export interface CompiledExpr { ops: ExprOps; p: unknown }
export interface CompiledRule { rule: Rule; handle: number; exprs: CompiledExpr[] }

/** Runs rules from `from`; returns the index of the rule that set a verdict, or rules.length at the end. */
export type ChainRunner = (vm: Vm, chain: CompiledChain, from: number) => number;

export interface CompiledChain {
  name: string;
  table: TableState;
  family: number;
  rules: CompiledRule[];
  /** Base chain data. */
  hooknum: number;
  priority: number;
  /** Registration order of the hook (ChainState.hookSeq). */
  hookSeq: number;
  policy: number;
  devices: string[] | undefined;
  isBase: boolean;
  /** Jump targets resolved by name. */
  byName: Map<string, CompiledChain>;
  /** Set by the JIT; undefined = interpret. */
  jit: ChainRunner | undefined;
}

export interface Runtime {
  generation: number;
  /** `${pf}:${hook}` → base chains in priority order. */
  hooks: Map<string, CompiledChain[]>;
  /** The same, indexed by pf * 8 + hook for the hot path. */
  hookTable: Array<CompiledChain[] | undefined>;
  chains: CompiledChain[];
  /** Whether jitRuntime has compiled the chains. */
  jitted: boolean;
}

export function bindTable(t: TableState): BindContext {
  return {
    family: t.family,
    table: t.name,
    set: (name) => t.sets.get(name),
    obj: (type, name) => t.objects.get(objKey(type, name)),
  };
}

function compileChain(t: TableState, ch: ChainState): CompiledChain {
  const b = bindTable(t);
  const rules: CompiledRule[] = ch.rules.map((rule) => ({
    rule,
    handle: rule.handle ?? 0,
    exprs: rule.exprs.map((e) => {
      const ops = EXPR_OPS[e.type];
      return { ops, p: ops.prepare(e, b) };
    }),
  }));
  return {
    name: ch.name, table: t, family: t.family, rules,
    hooknum: ch.hook?.hooknum ?? -1, priority: ch.hook?.priority ?? 0, hookSeq: ch.hookSeq ?? 0, policy: ch.policy ?? 1,
    devices: ch.hook?.devices, isBase: ch.hook !== undefined, byName: new Map(), jit: undefined,
  };
}

/** The (NFPROTO_*, hook) pairs a base chain registers at (inet serves ip and ip6; inet ingress is a netdev hook). */
function registrations(family: number, hooknum: number): Array<[number, number]> {
  if (family === 1) return hooknum === 5 ? [[5, 0]] : [[2, hooknum], [10, hooknum]];
  return [[family, hooknum]];
}

export function buildRuntime(r: Ruleset): Runtime {
  const hooks = new Map<string, CompiledChain[]>();
  const chains: CompiledChain[] = [];
  for (const t of r.tables.values()) {
    // NFT_TABLE_F_DORMANT: the table's base chains are not registered.
    const dormant = (t.flags & 1) !== 0;
    const byName = new Map<string, CompiledChain>();
    for (const ch of t.chains.values()) {
      const c = compileChain(t, ch);
      c.byName = byName;
      byName.set(ch.name, c);
      chains.push(c);
      if (!c.isBase || dormant) continue;
      for (const [pf, hook] of registrations(t.family, c.hooknum)) {
        const k = `${pf}:${hook}`;
        const list = hooks.get(k) ?? [];
        list.push(c);
        hooks.set(k, list);
      }
    }
  }
  // nf_hook_entries_grow(): by priority; a new hook goes in front of those of equal
  // priority, so among equals the most recently registered chain runs first.
  for (const list of hooks.values()) list.sort((a, b) => a.priority - b.priority || b.hookSeq - a.hookSeq);
  const hookTable: Array<CompiledChain[] | undefined> = new Array(16 * 8).fill(undefined);
  for (const [k, list] of hooks) {
    const [pf, hook] = k.split(':').map(Number) as [number, number];
    hookTable[pf * 8 + hook] = list;
  }
  return { generation: r.generation, hooks, hookTable, chains, jitted: false };
}

export function runtimeOf(r: Ruleset): Runtime {
  const rt = r.runtimeCache as Runtime | undefined;
  if (rt && rt.generation === r.generation) return rt;
  const n = buildRuntime(r);
  r.runtimeCache = n;
  return n;
}
