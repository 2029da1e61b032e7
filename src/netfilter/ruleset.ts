/**
 * The committed nf_tables state of one network namespace: tables with their
 * chains, rules, sets, objects and flowtables; handles allocated as the
 * kernel does (a per-netns counter for tables, a per-table generator shared
 * by chains, rules, sets, objects and flowtables); a generation id bumped on
 * every commit. Changed only through `commitBatch` (transaction.ts).
 */
import type { Rule, SetElement } from './bytecode.js';
import type { ChainHookSpec } from './batch.js';
import { NftSet } from './set/set.js';
import type { SetDecl } from './set/set.js';
import type { NftObject } from './objects.js';
import type { Clock } from './clock.js';

export interface ChainState {
  name: string;
  handle: number;
  hook?: ChainHookSpec;
  /** 'filter' | 'nat' | 'route' for base chains. */
  type?: string;
  /**
   * When the base chain's hook was registered (Ruleset.hookSeq at creation): among chains of
   * equal priority the kernel runs the most recently registered first (nf_hook_entries_grow).
   */
  hookSeq?: number;
  /** NF_ACCEPT 1 / NF_DROP 0 for base chains. */
  policy?: number;
  flags: number;
  comment?: string;
  rules: Rule[];
}

export interface FlowtableState {
  name: string;
  handle: number;
  hooknum: number;
  priority: number;
  devices: string[];
  flags: number;
}

export interface TableState {
  family: number;
  name: string;
  handle: number;
  /** NFT_TABLE_F_DORMANT 1, NFT_TABLE_F_OWNER 2. */
  flags: number;
  comment?: string;
  /** table->hgenerator: last handle given to something in this table. */
  hgenerator: number;
  chains: Map<string, ChainState>;
  sets: Map<string, NftSet>;
  /** Keyed `${type}:${name}`. */
  objects: Map<string, NftObject>;
  flowtables: Map<string, FlowtableState>;
}

export function tableKey(family: number, name: string): string {
  return `${family}:${name}`;
}
export function objKey(type: number, name: string): string {
  return `${type}:${name}`;
}

export class Ruleset {
  tables = new Map<string, TableState>();
  /** nft_net->base_seq: bumped by every commit. */
  generation = 0;
  /** nft_net->table_handle. */
  tableHandle = 0;
  /** Counts base-chain hook registrations, to order equal priorities as the kernel does. */
  hookSeq = 0;
  /** Compiled form for the data path, rebuilt lazily after a commit (runtime.ts). */
  runtimeCache: unknown = undefined;

  table(family: number, name: string): TableState | undefined {
    return this.tables.get(tableKey(family, name));
  }
}

/**
 * Copy for a transaction: containers are new, rules and objects shared (rules
 * are immutable apart from their counters, which keep counting across an
 * unrelated commit as in the kernel), sets copied lazily by the transaction.
 */
export function cloneForTransaction(r: Ruleset): Ruleset {
  const c = new Ruleset();
  c.generation = r.generation;
  c.tableHandle = r.tableHandle;
  c.hookSeq = r.hookSeq;
  for (const [k, t] of r.tables) {
    const chains = new Map<string, ChainState>();
    for (const [n, ch] of t.chains) chains.set(n, { ...ch, rules: ch.rules.slice() });
    c.tables.set(k, {
      ...t, chains, sets: new Map(t.sets), objects: new Map(t.objects), flowtables: new Map(t.flowtables),
    });
  }
  return c;
}

// --- serialisation ---

interface SerialSet { decl: SetDecl; elements: SetElement[] }
interface SerialTable {
  family: number; name: string; handle: number; flags: number; comment?: string; hgenerator: number;
  chains: ChainState[]; sets: SerialSet[]; objects: NftObject[]; flowtables: FlowtableState[];
}
export interface SerialRuleset { version: 1; generation: number; tableHandle: number; hookSeq?: number; tables: SerialTable[] }

/** Uint8Array → {"$hex": "..."} so the whole state is JSON. */
function replacer(_k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
  return v;
}
function reviver(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && '$hex' in (v as Record<string, unknown>) && Object.keys(v).length === 1) {
    return new Uint8Array(Buffer.from(String((v as { $hex: string }).$hex), 'hex'));
  }
  return v;
}

/** The ruleset as JSON text (elements' remaining timeouts are taken on `clock`). */
export function serialize(r: Ruleset, clock: Clock): string {
  const now = clock.nowMs();
  const out: SerialRuleset = { version: 1, generation: r.generation, tableHandle: r.tableHandle, hookSeq: r.hookSeq, tables: [] };
  for (const t of r.tables.values()) {
    const st: SerialTable = {
      family: t.family, name: t.name, handle: t.handle, flags: t.flags, hgenerator: t.hgenerator,
      chains: [...t.chains.values()], sets: [...t.sets.values()].map((s) => ({ decl: s.decl, elements: s.toElements(now) })),
      objects: [...t.objects.values()], flowtables: [...t.flowtables.values()],
    };
    if (t.comment !== undefined) st.comment = t.comment;
    out.tables.push(st);
  }
  return JSON.stringify(out, replacer);
}

export function deserialize(text: string, clock: Clock): Ruleset {
  const now = clock.nowMs();
  const s = JSON.parse(text, reviver) as SerialRuleset;
  if (s.version !== 1) throw new Error(`unsupported ruleset version ${String(s.version)}`);
  const r = new Ruleset();
  r.generation = s.generation;
  r.tableHandle = s.tableHandle;
  r.hookSeq = s.hookSeq ?? 0;
  for (const t of s.tables) {
    const table: TableState = {
      family: t.family, name: t.name, handle: t.handle, flags: t.flags, hgenerator: t.hgenerator,
      chains: new Map(t.chains.map((c) => [c.name, c])), sets: new Map(), objects: new Map(), flowtables: new Map(t.flowtables.map((f) => [f.name, f])),
    };
    if (t.comment !== undefined) table.comment = t.comment;
    for (const ss of t.sets) {
      const set = new NftSet(ss.decl);
      for (const el of ss.elements) set.add(el, now, false);
      table.sets.set(ss.decl.name, set);
    }
    for (const o of t.objects) table.objects.set(objKey(o.type, o.name), o);
    r.tables.set(tableKey(t.family, t.name), table);
  }
  return r;
}
