/**
 * `nft -j list ...` (libnftables src/json.c): the committed state as the
 * `{"nftables": [{"metainfo": ...}, {"table": ...}, ...]}` document — per
 * table its object, then objects, sets, flowtables, chains, and last the
 * rules, whose `expr` arrays come from the rule listing (json-out.ts).
 */
import * as B from '../netfilter/bytecode.js';
import type { ChainState, FlowtableState, Ruleset, TableState } from '../netfilter/ruleset.js';
import type { NftObject } from '../netfilter/objects.js';
import type { NftSet } from '../netfilter/set/set.js';
import type { Family } from './ast.js';
import type { EvalEnv } from './evaluate.js';
import { listingToJson } from './json-out.js';
import { bytesUnit } from './print-stmt.js';
import { infoFromDecl, type SetUserdata } from './command-batch.js';
import {
  type ElementView, type Field, type KeyPart, type ListOptions, type ListScope, type SetListKind,
  bindingStmtText, elementViews, isBinding, keyFields, ruleText, scopedObjects, scopedTables, setListed, tablesOf, verdictText,
} from './command-list.js';
import { FAMILY_OF, OBJ_NAME, datatypeById, hookName } from './command-names.js';

type J = Record<string, unknown>;

/** libnftables 1.0.6's metainfo object. */
export const METAINFO: J = { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } };

/** set_print_json: one named set or map (elements unless -t). */
export function setJson(t: TableState, s: NftSet, o2: ListOptions): J {
  const d = s.decl;
  const ud = d.userdata?.['nfx'] as SetUserdata | undefined;
  const family = FAMILY_OF[t.family]!;
  const types = ud?.keyTypes ?? ud?.keyParts?.map((p) => p.t) ?? keyFields(s).map((f) => f.dtype.name);
  const isMap = (d.flags & (B.NFT_SET_MAP | B.NFT_SET_OBJECT)) !== 0;
  const o: J = { family, name: s.name, table: t.name, type: types.length === 1 ? types[0] : types, handle: d.handle };
  if (ud?.comment !== undefined) o['comment'] = ud.comment;
  if (isMap) o['map'] = d.dataType === B.NFT_DATA_VERDICT ? 'verdict' : d.flags & B.NFT_SET_OBJECT ? OBJ_NAME[d.objType ?? 1] : ud?.dataType ?? ud?.data?.t ?? datatypeById(d.dataType ?? 0)?.name;
  if (d.policy === 1) o['policy'] = 'memory';
  if (d.size !== undefined) o['size'] = d.size;
  // json.c set_print_json: constant, interval and timeout (1.0.6 has no word for dynamic there).
  const flags: string[] = [];
  if (d.flags & B.NFT_SET_CONSTANT) flags.push('constant');
  if (d.flags & B.NFT_SET_INTERVAL) flags.push('interval');
  if (d.flags & B.NFT_SET_TIMEOUT) flags.push('timeout');
  if (flags.length) o['flags'] = flags;
  if (d.timeout) o['timeout'] = Math.floor(d.timeout / 1000);
  if (d.gcInterval) o['gc-interval'] = Math.floor(d.gcInterval / 1000);
  if (!o2.terse) {
    const elems = elementViews(s, o2).map((v) => elemJson(v, o2.stateless ?? false));
    if (elems.length) o['elem'] = elems;
  }
  if (ud?.stmts === 'counter') o['stmt'] = [{ counter: null }];
  // set_print_json: a map before a meter before a set.
  return { [isMap ? 'map' : setListed(d.flags, 'meters') ? 'meter' : 'set']: o };
}

/** A printed value as libnftables types it: numbers for integer types, strings for the rest. */
function scalar(f: Field, text: string): unknown {
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (/^(\d+|0x[0-9a-f]+)$/.test(text) && f.dtype.integer && f.dtype.name !== 'iface_index' && f.dtype.size <= 53) return Number(text);
  return text;
}

function partJson(p: KeyPart): unknown {
  if (p.kind === 'value') return scalar(p.field, p.text);
  if (p.kind === 'prefix') return { prefix: { addr: p.addr, len: p.len } };
  return { range: [scalar(p.field, p.lo), scalar(p.field, p.hi)] };
}

function verdictJson(v: B.Verdict): unknown {
  const t = verdictText(v);
  const [word, chain] = t.split(' ');
  return chain !== undefined ? { [word!]: { target: chain } } : { [word!]: null };
}

/** limit_stmt_json: rate, burst, per, inv, then the byte units. */
function limitJson(e: B.LimitExpr): J {
  const per = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day', 604800: 'week' }[e.unit] ?? 'second';
  if (e.limitType === 0) return { rate: e.rate, burst: e.burst, per, ...(e.flags & 1 ? { inv: true } : {}) };
  const [rate, rateUnit] = bytesUnit(e.rate);
  const [burst, burstUnit] = bytesUnit(e.burst);
  return { rate, burst, per, ...(e.flags & 1 ? { inv: true } : {}), rate_unit: rateUnit, burst_unit: burstUnit };
}

/** json.c set_elem_expr_json / mapping: `val` wrapped in `elem` when the element has options. */
function elemJson(v: ElementView, stateless: boolean): unknown {
  let key: unknown = v.key === '*' ? '*' : v.key.length === 1 ? partJson(v.key[0]!) : { concat: v.key.map(partJson) };
  if (v.timeout !== undefined || v.expires !== undefined || v.counter || v.limit || v.comment !== undefined) {
    const e: J = { val: key };
    if (v.timeout !== undefined) e['timeout'] = Math.floor(v.timeout / 1000);
    if (v.expires !== undefined) e['expires'] = Math.floor(v.expires / 1000);
    if (v.comment !== undefined) e['comment'] = v.comment;
    // counter_stmt_json: null under -s (measured: `-j -s list meters`).
    if (v.counter) e['counter'] = stateless ? null : { packets: v.counter.packets, bytes: v.counter.bytes };
    if (v.limit) e['limit'] = limitJson(v.limit);
    key = { elem: e };
  }
  if (v.verdict) return [key, verdictJson(v.verdict)];
  if (v.data) return [key, scalar(v.data.field, v.data.text)];
  if (v.objref !== undefined) return [key, v.objref];
  return key;
}

/**
 * flowtable_print_json (nftables 1.0.6 src/json.c): the priority as a number (JSON has no
 * named priorities, -y or not), `dev` a string for one device, an array for more, and left
 * out when there is none; 1.0.6 prints no flags.
 */
export function flowtableJson(t: TableState, f: FlowtableState): J {
  const j: J = { family: FAMILY_OF[t.family], name: f.name, table: t.name, handle: f.handle, hook: 'ingress', prio: f.priority };
  if (f.devices.length) j['dev'] = f.devices.length === 1 ? f.devices[0] : [...f.devices];
  return { flowtable: j };
}

/**
 * table_print_json (src/json.c 1.0.6): family, name, handle and the flags. 1.0.6 prints no
 * comment. Its table_flags_json frees a lone flag's string before printing it, so the real nft
 * prints garbage for `flags dormant`; nfx prints the flag's name.
 */
function tableObjectJson(t: TableState): J {
  const tj: J = { family: FAMILY_OF[t.family], name: t.name, handle: t.handle };
  if (t.flags & 1) tj['flags'] = 'dormant';
  return { table: tj };
}

/** obj_print_json: one stateful object. */
function objectJson(t: TableState, ob: NftObject): J {
  const type = OBJ_NAME[ob.type] ?? 'counter';
  const j: J = { family: FAMILY_OF[t.family], name: ob.name, table: t.name, handle: ob.handle };
  if (ob.expr?.type === 'counter') { j['packets'] = ob.expr.packets; j['bytes'] = ob.expr.bytes; }
  if (ob.expr?.type === 'quota') { j['bytes'] = ob.expr.bytes; j['used'] = ob.expr.consumed; if (ob.expr.flags & 1) j['inv'] = true; }
  if (ob.type === 3 && ob.data) { j['type'] = ob.data['type']; j['protocol'] = ob.data['protocol']; j['l3proto'] = ob.data['l3proto']; }
  return { [type]: j };
}

/**
 * chain_print_json: a base chain adds type, hook, prio (a number) and policy. 1.0.6 prints no
 * comment, and no `dev` for a listed chain: it looks at dev_expr, which only a parsed chain has
 * (a chain read back from the kernel carries dev_array).
 */
function chainJson(t: TableState, ch: ChainState): J {
  const family = FAMILY_OF[t.family] as Family;
  const j: J = { family, table: t.name, name: ch.name, handle: ch.handle };
  if (ch.hook) {
    j['type'] = ch.type ?? 'filter';
    j['hook'] = hookName(family, ch.hook.hooknum);
    j['prio'] = ch.hook.priority;
    j['policy'] = ch.policy === B.NF_DROP ? 'drop' : 'accept';
  }
  return { chain: j };
}

/** The named sets a rule may refer to, as the JSON rule printer needs them. */
function ruleEnv(t: TableState): EvalEnv {
  const env: EvalEnv = { family: FAMILY_OF[t.family] as Family, sets: new Map(), defines: new Map() };
  for (const s of t.sets.values()) {
    if (s.decl.flags & B.NFT_SET_ANONYMOUS) continue;
    const info = infoFromDecl(s.decl);
    if (info) env.sets.set(s.name, info.named);
  }
  return env;
}

/** rule_print_json: the rule's statements from its listing, counters with their live values. */
function ruleJson(t: TableState, ch: ChainState, r: B.Rule, o: ListOptions, env: EvalEnv): J {
  let expr: unknown[];
  const text = ruleText(t, r, { ...o, stateless: false });
  try { expr = listingToJson(text.replace(/ comment "[^"]*"$/, ''), env); } catch { expr = []; }
  const counters = r.exprs.filter((e): e is B.CounterExpr => e.type === 'counter');
  let ci = 0;
  expr = expr.map((x) => {
    const o2 = x as J;
    if ('counter' in o2 && (o2['counter'] === null || typeof o2['counter'] === 'object') && counters[ci]) {
      const c = counters[ci++]!;
      return { counter: { packets: c.packets, bytes: c.bytes } };
    }
    // libnftables prints a match as op, left, right.
    if ('match' in o2 && o2['match'] && typeof o2['match'] === 'object') {
      const m = o2['match'] as J;
      return { match: { op: m['op'], left: m['left'], right: m['right'] } };
    }
    return x;
  });
  // A jump to an anonymous chain: chain_stmt has no JSON callback in 1.0.6, so its text stands in.
  const bound = bindingStmtText(t, r, { ...o, stateless: false }, 2);
  if (bound !== undefined && expr.length) {
    expr[expr.length - 1] = bound;
    // stmt_print_json's fallback says so on stderr, once per statement.
    o.warn?.('warning: stmt ops chain have no json callback\n');
  }
  const j: J = { family: FAMILY_OF[t.family], table: t.name, chain: ch.name, handle: r.handle };
  if (r.comment !== undefined) j['comment'] = r.comment;
  j['expr'] = expr;
  return { rule: j };
}

/** table_print_json_full: the table, then objects, sets, flowtables, chains, and last the rules. */
export function tableJson(t: TableState, o: ListOptions): J[] {
  const out: J[] = [tableObjectJson(t)];
  for (const ob of t.objects.values()) out.push(objectJson(t, ob));
  for (const s of t.sets.values()) if (!(s.decl.flags & B.NFT_SET_ANONYMOUS)) out.push(setJson(t, s, o));
  for (const f of t.flowtables.values()) out.push(flowtableJson(t, f));
  // Anonymous (binding) chains live apart in nft's cache (chain_bindings): listed inside their rule only.
  const chains = [...t.chains.values()].filter((ch) => !isBinding(ch));
  for (const ch of chains) out.push(chainJson(t, ch));
  const env = ruleEnv(t);
  for (const ch of chains) for (const r of ch.rules) out.push(ruleJson(t, ch, r, o, env));
  return out;
}

/** do_list_tables_json: `-j list tables` prints each table's object (text `list tables` is one line each). */
export function tablesJson(r: Ruleset, family?: number): J[] {
  return tablesOf(r, family).map(tableObjectJson);
}

/** do_list_chain_json: the chain and its rules, no table object. */
export function chainListJson(t: TableState, ch: ChainState, o: ListOptions): J[] {
  const env = ruleEnv(t);
  return [chainJson(t, ch), ...ch.rules.map((r) => ruleJson(t, ch, r, o, env))];
}

/** do_list_chains_json: every chain of the family, no rules, no table objects. */
export function chainsJson(r: Ruleset, family?: number): J[] {
  return tablesOf(r, family).flatMap((t) => [...t.chains.values()].filter((ch) => !isBinding(ch)).map((ch) => chainJson(t, ch)));
}

/** do_list_sets_json: the sets (maps, meters) alone, as set_listed picks them; -t leaves out elements. */
export function setsJson(r: Ruleset, o: ListOptions, kind: SetListKind, scope: ListScope = {}): J[] {
  return scopedTables(r, scope).flatMap((t) => [...t.sets.values()].filter((s) => setListed(s.decl.flags, kind)).map((s) => setJson(t, s, o)));
}

/** do_list_obj_json: the objects of one type (one name), no table objects. */
export function objectsJson(r: Ruleset, type: number, scope: ListScope = {}): J[] {
  return scopedTables(r, scope).flatMap((t) => scopedObjects(t, type, scope).map((ob) => objectJson(t, ob)));
}

/** JSON with jansson's compact-with-spaces layout, as nft prints it: `{"a": 1, "b": [2, 3]}`. */
export function jsonText(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(jsonText).join(', ')}]`;
  if (x && typeof x === 'object') return `{${Object.entries(x).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}: ${jsonText(v)}`).join(', ')}}`;
  return JSON.stringify(x) ?? 'null';
}

export function jsonDocument(items: J[]): string {
  return jsonText({ nftables: [METAINFO, ...items] }) + '\n';
}
