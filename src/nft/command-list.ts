/**
 * `nft list ...` over the engine's committed state (nftables src/rule.c
 * table_print / chain_print / set_print / obj_print): tabs, the base-chain
 * line with named priorities, rules through the delinearizer and printer
 * with the live counter values, named sets with their elements wrapped as
 * nft wraps them, `-a` handles as `# handle N`.
 */
import * as B from '../netfilter/bytecode.js';
import type { Ruleset, TableState, ChainState, FlowtableState } from '../netfilter/ruleset.js';
import type { NftSet } from '../netfilter/set/set.js';
import type { NftObject } from '../netfilter/objects.js';
import { verdictName } from '../netfilter/bytecode-text.js';
import type { Family } from './ast.js';
import { DT, type Datatype, bytesToBig, intBytes, lookupDatatype } from './datatypes.js';
import { listRule } from './print.js';
import { limitText } from './print-stmt.js';
import { timeText, valueText, type PrintOptions } from './print-value.js';
import type { SetUserdata } from './command-batch.js';
import { FAMILY_OF, OBJ_NAME, datatypeById, hookName, priorityText, splitConcatType } from './command-names.js';

export interface ListOptions {
  /** `-a`: `# handle N` after tables, chains, sets and rules. */
  handles?: boolean;
  /** `-s`: no counter/quota values. */
  stateless?: boolean;
  /** `-n`: numeric values everywhere. */
  numeric?: boolean;
  /** `-y`: numeric chain priorities. */
  numericPriority?: boolean;
  /** `-t`: set declarations without their elements. */
  terse?: boolean;
  /** The engine clock's now, in ms (element expiry). */
  now: number;
  /** Where libnftables' printer warnings go (its error_fp: stderr). */
  warn?: (text: string) => void;
}

const TAB = '\t';

function printOpts(o: ListOptions): PrintOptions {
  return o.numeric ? { numeric: true, numericProto: true } : {};
}

/** Every table, in handle order (the kernel's dump order), optionally of one family. */
export function tablesOf(r: Ruleset, family?: number): TableState[] {
  return [...r.tables.values()].filter((t) => family === undefined || family === 0 || t.family === family).sort((a, b) => a.handle - b.handle);
}

export function listRuleset(r: Ruleset, o: ListOptions, family?: number): string {
  return tablesOf(r, family).map((t) => listTable(t, o)).join('');
}

/**
 * table_print's opening (src/rule.c): `# handle N` under -a, the flags line, the comment. After
 * a flags line (table_print_flags sets the delimiter) a blank line precedes the first object;
 * after a comment alone it does not.
 */
function tableHeader(t: TableState, o: ListOptions): string {
  let s = `table ${FAMILY_OF[t.family]} ${t.name} {${o.handles ? ` # handle ${t.handle}` : ''}\n`;
  if (t.flags & 1) s += `${TAB}flags dormant\n`;
  if (t.comment !== undefined) s += `${TAB}comment "${t.comment}"\n`;
  return s;
}

export function listTable(t: TableState, o: ListOptions): string {
  const blocks: string[] = [];
  for (const ob of t.objects.values()) blocks.push(objectText(ob, o));
  for (const s of t.sets.values()) if (!(s.decl.flags & B.NFT_SET_ANONYMOUS)) blocks.push(setText(t, s, o));
  for (const f of t.flowtables.values()) blocks.push(flowtableText(f, o));
  for (const ch of t.chains.values()) if (!isBinding(ch)) blocks.push(chainText(t, ch, o));
  const lead = t.flags & 1 && blocks.length ? '\n' : '';
  return tableHeader(t, o) + lead + blocks.join('\n') + '}\n';
}

/**
 * What a listing narrower than a table covers: a family (0 or absent: all), a table (`list
 * counters table ip t`, `list sets table ...`) and an object's name (`list counter ip t c`).
 */
export interface ListScope { family?: number; table?: string; name?: string }

/** The tables a scoped listing walks, in the kernel's dump order. */
export function scopedTables(r: Ruleset, scope: ListScope): TableState[] {
  return tablesOf(r, scope.family).filter((t) => scope.table === undefined || t.name === scope.table);
}

/**
 * `list chain`: the chain inside its table's braces (do_list_chain). Every listing narrower
 * than a table opens with table_print_declaration's bare `table FAMILY NAME {`: no handle
 * under -a, no flags, no comment.
 */
export function listChain(t: TableState, ch: ChainState, o: ListOptions): string {
  return bareTableHeader(t) + chainText(t, ch, o) + '}\n';
}

/** `list set|map`: __do_list_set, the bare table line and set_print (elements unless -t). */
export function listSet(t: TableState, s: NftSet, o: ListOptions): string {
  return bareTableHeader(t) + setText(t, s, o) + '}\n';
}

/** The three named-set listings and the set kinds each shows. */
export type SetListKind = 'sets' | 'maps' | 'meters';

/**
 * include/rule.h: `list sets` shows set_is_literal sets (neither anonymous nor a map: dynamic
 * sets are included), `list maps` map_is_literal ones (maps, object maps too), `list meters`
 * set_is_meter ones (anonymous and NFT_SET_EVAL).
 */
export function setListed(flags: number, kind: SetListKind): boolean {
  const anonymous = (flags & B.NFT_SET_ANONYMOUS) !== 0;
  const map = (flags & (B.NFT_SET_MAP | B.NFT_SET_OBJECT)) !== 0;
  if (kind === 'meters') return anonymous && (flags & B.NFT_SET_EVAL) !== 0;
  return !anonymous && (kind === 'maps') === map;
}

/**
 * `list sets` / `list maps` / `list meters` (do_list_sets): every table of the family, those
 * with nothing to show too, opened bare. Debian's nft 1.0.6 (the oracle here; its patch for
 * bug #1038724 brings back bullseye's listing) prints each set whole, elements included
 * unless -t; upstream 1.0.6 prints declarations only.
 */
export function listSets(r: Ruleset, o: ListOptions, kind: SetListKind, scope: ListScope = {}): string {
  let out = '';
  for (const t of scopedTables(r, scope)) {
    const sets = [...t.sets.values()].filter((s) => setListed(s.decl.flags, kind));
    out += bareTableHeader(t) + sets.map((s) => setText(t, s, o)).join('') + '}\n';
  }
  return out;
}

/** The objects of `type` a scoped listing shows in `t`. */
export function scopedObjects(t: TableState, type: number, scope: ListScope): NftObject[] {
  return [...t.objects.values()].filter((x) => x.type === type && (scope.name === undefined || x.name === scope.name));
}

/**
 * `list counters|quotas|limits|...` and `list counter FAMILY TABLE NAME` (do_list_obj): a table
 * without any stateful object (of whatever type) is left out; one holding only other types
 * prints its empty braces; the table line is bare.
 */
export function listObjects(r: Ruleset, type: number, o: ListOptions, scope: ListScope = {}): string {
  let out = '';
  for (const t of scopedTables(r, scope)) {
    if (t.objects.size === 0) continue;
    out += bareTableHeader(t) + scopedObjects(t, type, scope).map((x) => objectText(x, o)).join('') + '}\n';
  }
  return out;
}

/** `list chains` (do_list_chains): each chain's declaration without its rules, per table, opened bare. */
export function listChains(r: Ruleset, o: ListOptions, family?: number): string {
  let out = '';
  for (const t of tablesOf(r, family)) {
    out += bareTableHeader(t);
    for (const ch of t.chains.values()) if (!isBinding(ch)) out += chainHead(t, ch, o) + `${TAB}}\n`;
    out += '}\n';
  }
  return out;
}

export function listTables(r: Ruleset, family?: number): string {
  return tablesOf(r, family).map((t) => `table ${FAMILY_OF[t.family]} ${t.name}\n`).join('');
}

function chainHead(t: TableState, ch: ChainState, o: ListOptions): string {
  const family = FAMILY_OF[t.family]!;
  let s = `${TAB}chain ${ch.name} {${o.handles ? ` # handle ${ch.handle}` : ''}\n`;
  if (ch.comment !== undefined) s += `${TAB}${TAB}comment "${ch.comment}"\n`;
  if (ch.hook) {
    const hook = hookName(family, ch.hook.hooknum);
    s += `${TAB}${TAB}type ${ch.type ?? 'filter'} hook ${hook}`;
    const devs = ch.hook.devices ?? [];
    if (devs.length === 1) s += ` device "${devs[0]}"`;
    else if (devs.length > 1) s += ` devices = { ${devs.join(', ')} }`;
    s += ` priority ${priorityText(ch.hook.priority, family, hook, !!o.numericPriority)};`;
    s += ` policy ${ch.policy === B.NF_DROP ? 'drop' : 'accept'};\n`;
  }
  return s;
}

function chainText(t: TableState, ch: ChainState, o: ListOptions): string {
  let s = chainHead(t, ch, o);
  for (const r of ch.rules) s += `${TAB}${TAB}${boundRuleText(t, r, o, 2)}${o.handles ? ` # handle ${r.handle}` : ''}\n`;
  return s + `${TAB}}\n`;
}

/** NFT_CHAIN_BINDING: an anonymous chain, listed inside the rule that jumps to it. */
export function isBinding(ch: ChainState): boolean { return ((ch.flags ?? 0) & 0x4) !== 0; }

/**
 * A rule whose verdict jumps to an anonymous chain prints that chain's rules in braces
 * (chain_stmt_print), one level deeper than the rule itself.
 */
function boundRuleText(t: TableState, r: B.Rule, o: ListOptions, depth: number): string {
  const text = ruleText(t, r, o);
  const stmt = bindingStmtText(t, r, o, depth);
  if (stmt === undefined) return text;
  const tail = ` ${stmt.slice(0, stmt.indexOf(' '))} ${bindingTarget(t, r)!.name}`;
  if (!text.endsWith(tail) && text !== tail.trim()) return text;
  const head = text === tail.trim() ? '' : text.slice(0, text.length - tail.length).trim();
  return `${head ? head + ' ' : ''}${stmt}`;
}

/** The anonymous (NFT_CHAIN_BINDING) chain a rule's final verdict jumps or goes to. */
function bindingTarget(t: TableState, r: B.Rule): ChainState | undefined {
  const last = r.exprs[r.exprs.length - 1];
  const target = last?.type === 'immediate' && last.verdict?.chain ? t.chains.get(last.verdict.chain) : undefined;
  return target && isBinding(target) ? target : undefined;
}

/**
 * chain_stmt_print's text, `jump {` + the bound chain's rules + `}`, closing at `depth` tabs;
 * undefined when the rule does not end in a jump to an anonymous chain. JSON prints it too:
 * 1.0.6 has no JSON form for the statement and falls back to the text.
 */
export function bindingStmtText(t: TableState, r: B.Rule, o: ListOptions, depth: number): string | undefined {
  const target = bindingTarget(t, r);
  if (!target) return undefined;
  const last = r.exprs[r.exprs.length - 1]!;
  const verb = last.type === 'immediate' && last.verdict!.code === B.NFT_GOTO ? 'goto' : 'jump';
  const inner = target.rules.map((x) => `${TAB.repeat(depth + 1)}${boundRuleText(t, x, o, depth + 1)}\n`).join('');
  return `${verb} {\n${inner}${TAB.repeat(depth)}}`;
}

/** The anonymous sets a rule refers to, in the order it refers to them (as the delinearizer takes them). */
function ruleSets(t: TableState, r: B.Rule, now: number): B.SetDescriptor[] {
  const out: B.SetDescriptor[] = [];
  for (const e of r.exprs) {
    const name = (e.type === 'lookup' || e.type === 'dynset' || e.type === 'objref') ? e.set : undefined;
    if (!name) continue;
    // Every anonymous set the rule binds: `__set%d` literals, and the meter's set, which keeps
    // the meter's name (netlink_parse_dynset tells a meter by its anonymous set).
    const s = t.sets.get(name);
    if (s && s.decl.flags & B.NFT_SET_ANONYMOUS) out.push({ ...s.decl, elements: s.toElements(now) });
  }
  return out;
}

/** One rule as `nft list` prints it, with its counters' live values unless `-s`. */
export function ruleText(t: TableState, r: B.Rule, o: ListOptions): string {
  const family = FAMILY_OF[t.family] as Family;
  const named = new Map<string, number>();
  for (const s of t.sets.values()) if (!(s.decl.flags & B.NFT_SET_ANONYMOUS)) named.set(s.name, s.decl.keyLen);
  let text: string;
  try {
    text = listRule(r.exprs, ruleSets(t, r, o.now), family, printOpts(o), named);
  } catch (e) {
    text = `# nfx cannot list this rule yet (${(e as Error).message})`;
  }
  if (!o.stateless) {
    const counters = r.exprs.filter((e): e is B.CounterExpr => e.type === 'counter');
    let i = 0;
    text = text.replace(/(^| )counter(?= |$)(?! name)/g, (m, pre: string, at: number) => {
      // A counter inside `meter ... { }` or `add @s { }` is the element template, printed
      // bare (meter_stmt_print prints its statement stateless); only the rule's own take values.
      if (braceDepth(text, at) > 0) return m;
      const c = counters[i++];
      return c ? `${pre}counter packets ${c.packets} bytes ${c.bytes}` : m;
    });
  }
  if (r.comment !== undefined) text += ` comment "${r.comment}"`;
  return text;
}

/** How many `{` are open at `end` in a rule's text, quoted strings skipped. */
function braceDepth(text: string, end: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < end; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '{') depth++;
    else if (!quoted && ch === '}') depth--;
  }
  return depth;
}

function ud(s: NftSet): SetUserdata | undefined {
  return s.decl.userdata?.['nfx'] as SetUserdata | undefined;
}

export interface Field { dtype: Datatype; bits: number; order: 'big' | 'host' }

export function keyFields(s: NftSet): Field[] {
  const u = ud(s);
  if (u?.keyParts) return u.keyParts.map((p) => ({ dtype: lookupDatatype(p.t) ?? DT.integer, bits: p.bits, order: p.order }));
  const fl = s.decl.fieldLengths;
  const ids = fl && fl.length > 1 ? splitConcatType(s.decl.keyType, fl.length) : [s.decl.keyType];
  return ids.map((id, i) => {
    const dt = datatypeById(id) ?? DT.integer;
    const len = fl && fl.length > 1 ? fl[i]! : s.decl.keyLen;
    return { dtype: dt, bits: dt.size || len * 8, order: dt.byteorder };
  });
}

function typeLine(s: NftSet): string {
  const u = ud(s);
  const d = s.decl;
  let data = '';
  if (d.flags & B.NFT_SET_OBJECT) data = ` : ${OBJ_NAME[d.objType ?? 1] ?? 'counter'}`;
  else if (d.flags & B.NFT_SET_MAP) {
    if (u?.typeofData) data = ` : ${u.typeofData}`;
    else if (d.dataType === B.NFT_DATA_VERDICT) data = ' : verdict';
    else data = ` : ${u?.dataType ?? datatypeById(d.dataType ?? 0)?.name ?? 'integer'}`;
  }
  if (u?.typeofKey) return `typeof ${u.typeofKey}${data}`;
  const names = u?.keyTypes ?? keyFields(s).map((f) => f.dtype.name);
  return `type ${names.join(' . ')}${data}`;
}

/**
 * set_print_declaration's flag words, in nft's order. Observed with nft 1.0.6: a timeout
 * flag that only a default `timeout` implied is not listed unless another flag is.
 */
function flagWords(flags: number, hasTimeout: boolean): string[] {
  const w: string[] = [];
  if (flags & B.NFT_SET_CONSTANT) w.push('constant');
  if (flags & B.NFT_SET_EVAL) w.push('dynamic');
  if (flags & B.NFT_SET_INTERVAL) w.push('interval');
  if (flags & B.NFT_SET_TIMEOUT) {
    if (w.length === 0 && hasTimeout) return w;
    w.push('timeout');
  }
  return w;
}

function setText(t: TableState, s: NftSet, o: ListOptions): string {
  const d = s.decl;
  const u = ud(s);
  // set_print_declaration: set_is_meter first (an anonymous dynamic set, seen only by `list meters`).
  const kind = setListed(d.flags, 'meters') ? 'meter' : d.flags & (B.NFT_SET_MAP | B.NFT_SET_OBJECT) ? 'map' : 'set';
  const I2 = TAB + TAB;
  let out = `${TAB}${kind} ${s.name} {${o.handles ? ` # handle ${d.handle}` : ''}\n`;
  out += `${I2}${typeLine(s)}\n`;
  if (d.policy === 1) out += `${I2}policy memory\n`;
  // A set a dynset binds has one even when declared without (nft_dynset_init: 65535).
  if (d.size !== undefined) out += `${I2}size ${d.size}\n`;
  const fw = flagWords(d.flags, !!d.timeout);
  if (fw.length) out += `${I2}flags ${fw.join(',')}\n`;
  if (u?.stmts) out += `${I2}${u.stmts}\n`;
  if (d.timeout) out += `${I2}timeout ${timeText(BigInt(d.timeout))}\n`;
  if (d.gcInterval) out += `${I2}gc-interval ${timeText(BigInt(d.gcInterval))}\n`;
  if (u?.autoMerge) out += `${I2}auto-merge\n`;
  if (u?.comment !== undefined) out += `${I2}comment "${u.comment}"\n`;
  // do_set_print: no elements under -t, nor a meter's under -s.
  if (!o.terse && !(kind === 'meter' && o.stateless)) {
    const items = elementTexts(s, o);
    // calculate_delim: an anonymous set's elements (a meter's) share one line, whatever the type.
    if (items.length) out += `${I2}elements = { ${d.flags & B.NFT_SET_ANONYMOUS ? items.join(', ') : joinElements(items, keyFields(s))} }\n`;
  }
  void t;
  return out + `${TAB}}\n`;
}

/** calculate_delim (nftables expression.c): short values share a line, long ones do not. */
function joinElements(items: string[], fields: Field[]): string {
  const t = fields.length === 1 ? fields[0]!.dtype.name : 'concat';
  const perLine = ['nf_proto', 'integer', 'arp_op', 'inet_proto', 'inet_service', 'tcp_flag', 'dccp_pkttype', 'mark', 'iface_index', 'classid', 'uid', 'gid', 'ct_dir'].includes(t)
    ? 5 : ['ipv4_addr', 'ct_state', 'ct_status', 'pkt_type'].includes(t) ? 2 : 1;
  let s = '';
  items.forEach((it, i) => {
    if (i > 0) s += i % perLine === 0 ? ',\n\t\t\t     ' : ', ';
    s += it;
  });
  return s;
}

function fieldValue(f: Field, b: Uint8Array, o: ListOptions): string {
  const n = Math.ceil(f.bits / 8);
  return valueText(f.dtype, b.subarray(0, n || b.length), printOpts(o), f.bits, f.order);
}

function isAddr(f: Field): boolean { return f.dtype === DT.ipv4_addr || f.dtype === DT.ipv6_addr; }

/** One field of an element key: a value, a prefix or a range, already in text form. */
export type KeyPart =
  | { kind: 'value'; field: Field; text: string }
  | { kind: 'prefix'; field: Field; addr: string; len: number }
  | { kind: 'range'; field: Field; lo: string; hi: string };

/** An element as the listings need it, text and JSON alike. */
export interface ElementView {
  key: KeyPart[] | '*';
  timeout?: number;
  expires?: number;
  counter?: { packets: number; bytes: number };
  /** A meter's `limit` (each element has its own token bucket). */
  limit?: B.LimitExpr;
  comment?: string;
  verdict?: B.Verdict;
  data?: { field: Field; text: string };
  objref?: string;
}

/** A [lo, hi] range of one field as nft prints it: a value, a prefix or `lo-hi`. */
function rangePart(f: Field, lo: Uint8Array, hi: Uint8Array, o: ListOptions): KeyPart {
  const a = bytesToBig(lo, 'big');
  const z = bytesToBig(hi, 'big');
  const toField = (b: Uint8Array): Uint8Array => (f.order === 'host' ? b.slice().reverse() : b);
  if (a === z) return { kind: 'value', field: f, text: fieldValue(f, toField(lo), o) };
  const span = z - a + 1n;
  if (isAddr(f) && (span & (span - 1n)) === 0n && (a & (span - 1n)) === 0n) return { kind: 'prefix', field: f, addr: fieldValue(f, lo, o), len: lo.length * 8 - (span.toString(2).length - 1) };
  return { kind: 'range', field: f, lo: fieldValue(f, toField(lo), o), hi: fieldValue(f, toField(hi), o) };
}

function partText(p: KeyPart): string {
  return p.kind === 'value' ? p.text : p.kind === 'prefix' ? `${p.addr}/${p.len}` : `${p.lo}-${p.hi}`;
}

export function dataField(s: NftSet): Field | undefined {
  const d = s.decl;
  const u = ud(s);
  if (u?.data) return { dtype: lookupDatatype(u.data.t) ?? DT.integer, bits: u.data.bits, order: u.data.order };
  if (d.dataType === undefined || d.dataType === B.NFT_DATA_VERDICT) return undefined;
  const dt = datatypeById(d.dataType) ?? DT.integer;
  return { dtype: dt, bits: (d.dataLen ?? 4) * 8, order: dt.byteorder };
}

/** The live elements of a named set, in listing order (interval sets sorted, ranges rebuilt). */
export function elementViews(s: NftSet, o: ListOptions): ElementView[] {
  const d = s.decl;
  const fields = keyFields(s);
  const els = s.toElements(o.now);
  const df = dataField(s);
  const view = (el: B.SetElement, key: KeyPart[] | '*'): ElementView => {
    const v: ElementView = { key };
    if (el.timeout && el.timeout !== d.timeout) v.timeout = el.timeout;
    if (el.timeout && el.expiration !== undefined) v.expires = Math.max(0, Math.floor(el.expiration));
    for (const e of el.exprs ?? []) {
      if (e.type === 'counter') v.counter = { packets: e.packets, bytes: e.bytes };
      if (e.type === 'limit') v.limit = e;
    }
    if (el.comment !== undefined) v.comment = el.comment;
    if (el.verdict) v.verdict = el.verdict;
    else if (el.data && df) v.data = { field: df, text: fieldValue(df, el.data, o) };
    else if (el.objref !== undefined) v.objref = el.objref;
    return v;
  };
  const keyParts = (key: Uint8Array, keyEnd?: Uint8Array): KeyPart[] => {
    let off = 0;
    return fields.map((f) => {
      const n = Math.ceil(f.bits / 8);
      const step = fields.length > 1 ? Math.ceil(n / 4) * 4 : n;
      const lo = key.subarray(off, off + n);
      const hi = keyEnd ? keyEnd.subarray(off, off + n) : undefined;
      off += step;
      // Interval data of a host-order integer field is stored big endian already (the
      // lookup converts the key, sets.ts intervalKeyLoad); strings keep their bytes.
      const swap = f.order === 'host' && !f.dtype.integer;
      if (hi) return rangePart(f, swap ? lo.slice().reverse() : lo, swap ? hi.slice().reverse() : hi, o);
      return { kind: 'value', field: f, text: fieldValue(f, lo, o) };
    });
  };
  const out: ElementView[] = [];
  if (d.flags & B.NFT_SET_INTERVAL && fields.length === 1) {
    // Start elements, each followed by the end element one past its top (segtree's representation).
    const sorted = els.filter((e) => !(e.flags & B.NFT_SET_ELEM_CATCHALL)).sort((a, b) => {
      const x = bytesToBig(a.key, 'big'), y = bytesToBig(b.key, 'big');
      // At one key the end of the interval below comes before the start of the next one.
      return x < y ? -1 : x > y ? 1 : (b.flags & B.NFT_SET_ELEM_INTERVAL_END) - (a.flags & B.NFT_SET_ELEM_INTERVAL_END);
    });
    const f = fields[0]!;
    for (let i = 0; i < sorted.length; i++) {
      const el = sorted[i]!;
      if (el.flags & B.NFT_SET_ELEM_INTERVAL_END) continue;
      if (el.keyEnd) { out.push(view(el, keyParts(el.key, el.keyEnd))); continue; }
      const next = sorted[i + 1];
      const hi = next ? bytesToBig(next.key, 'big') - 1n : (1n << BigInt(el.key.length * 8)) - 1n;
      out.push(view(el, [rangePart(f, el.key, intBytes(hi, el.key.length * 8, 'big'), o)]));
    }
  } else {
    // netlink_list_setelems sorts what the kernel returned (mergesort.c expr_msort_cmp): a key
    // by its value, a concatenation as one host-order number over its parts.
    const order = fields.length > 1 ? 'host' : fields[0]?.order ?? 'big';
    const sorted = els.filter((e) => !(e.flags & B.NFT_SET_ELEM_CATCHALL)).sort((a, b) => {
      const x = bytesToBig(a.key, order), y = bytesToBig(b.key, order);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    for (const el of sorted) out.push(view(el, keyParts(el.key, el.keyEnd)));
  }
  const ca = els.find((e) => e.flags & B.NFT_SET_ELEM_CATCHALL);
  if (ca) out.push(view(ca, '*'));
  return out;
}

function elementText(v: ElementView, o: ListOptions): string {
  // set_elem_expr_print: the key, the element's statements, then timeout and expires.
  let x = v.key === '*' ? '*' : v.key.map(partText).join(' . ');
  if (v.counter) x += o.stateless ? ' counter' : ` counter packets ${v.counter.packets} bytes ${v.counter.bytes}`;
  if (v.limit) x += ` ${limitText(v.limit)}`;
  if (v.timeout !== undefined) x += ` timeout ${timeText(BigInt(v.timeout))}`;
  if (v.expires !== undefined) x += ` expires ${timeText(BigInt(v.expires))}`;
  if (v.comment !== undefined) x += ` comment "${v.comment}"`;
  if (v.verdict) x += ` : ${verdictText(v.verdict)}`;
  else if (v.data) x += ` : ${v.data.text}`;
  else if (v.objref !== undefined) x += ` : "${v.objref}"`;
  return x;
}

function elementTexts(s: NftSet, o: ListOptions): string[] {
  return elementViews(s, o).map((v) => elementText(v, o));
}

export function verdictText(v: B.Verdict): string {
  if ((v.code === B.NFT_JUMP || v.code === B.NFT_GOTO) && v.chain) return `${v.code === B.NFT_JUMP ? 'jump' : 'goto'} ${v.chain}`;
  return verdictName(v.code);
}

function objectText(ob: NftObject, o: ListOptions): string {
  const type = OBJ_NAME[ob.type] ?? 'counter';
  let s = `${TAB}${type} ${ob.name} {${o.handles ? ` # handle ${ob.handle}` : ''}\n`;
  if (ob.comment !== undefined) s += `${TAB}${TAB}comment "${ob.comment}"\n`;
  const e = ob.expr;
  if (e?.type === 'counter') s += o.stateless ? '' : `${TAB}${TAB}packets ${e.packets} bytes ${e.bytes}\n`;
  else if (e?.type === 'quota') {
    const [v, unit] = bytesUnit(e.bytes);
    s += `${TAB}${TAB}${e.flags & 1 ? 'over ' : ''}${v} ${unit}`;
    if (e.consumed && !o.stateless) { const [u2, un2] = bytesUnit(e.consumed); s += ` used ${u2} ${un2}`; }
    s += '\n';
  } else if (ob.type === 3 && ob.data) {
    s += `${TAB}${TAB}type "${String(ob.data['type'])}" protocol ${String(ob.data['protocol'])}\n${TAB}${TAB}l3proto ${String(ob.data['l3proto'])}\n`;
  } else if (ob.data && Array.isArray(ob.data['tokens'])) {
    for (const line of objectBodyLines(ob.type, ob.data['tokens'] as string[])) s += `${TAB}${TAB}${line}\n`;
  }
  return s + `${TAB}}\n`;
}

/** nf_conntrack's TCP/UDP timeout states in array order, the order obj_print_data lists a policy in. */
const CT_TIMEOUT_STATES = ['syn_sent', 'syn_recv', 'established', 'fin_wait', 'close_wait', 'last_ack', 'time_wait', 'close', 'syn_sent2', 'retrans', 'unacknowledged', 'unreplied', 'replied'];

/**
 * The body of a limit, synproxy, ct timeout or ct expectation object as rule.c
 * obj_print_data prints it: one setting per line in nft's own order, whatever the input
 * order was; settings nft does not know are kept as written.
 */
function objectBodyLines(type: number, tokens: string[]): string[] {
  // Settings start at their keyword (the stored words may have lost the `;` between them).
  const starts = new Set(['protocol', 'l3proto', 'policy', 'dport', 'timeout', 'size', 'rate']);
  const settings: string[][] = [[]];
  let depth = 0;
  for (const w of tokens) {
    if (w === '{') depth++;
    if (w === '}') depth--;
    if (w === ';' && depth === 0) { settings.push([]); continue; }
    if (depth === 0 && starts.has(w) && settings[settings.length - 1]!.length) settings.push([]);
    settings[settings.length - 1]!.push(w);
  }
  const all = settings.filter((x) => x.length);
  const text = (x: string[]): string => x.join(' ').replace(/ ,/g, ',').replace(/ \/ /g, '/');
  const byKey = (order: string[]): string[] => {
    const known = order.flatMap((k) => all.filter((x) => x[0] === k));
    return [...known, ...all.filter((x) => !order.includes(x[0]!))].map(text);
  };
  switch (type) {
    case 4: // limit: `burst 5 packets` is the default and is not listed.
      return all.map((x) => text(x).replace(/ burst 5 packets$/, ''));
    case 10: { // synproxy: mss, wscale, then the flags on one line
      const words = all.flat();
      const out: string[] = [];
      for (const k of ['mss', 'wscale']) { const i = words.indexOf(k); if (i >= 0) out.push(`${k} ${words[i + 1]}`); }
      const flags = ['timestamp', 'sack-perm'].filter((f) => words.includes(f));
      if (flags.length) out.push(flags.join(' '));
      return out;
    }
    case 7: { // ct timeout: protocol, l3proto, policy in conntrack's state order
      return byKey(['protocol', 'l3proto', 'policy']).map((line) => {
        const m = /^policy = \{ (.*) \}$/.exec(line);
        if (!m) return line;
        const entries = m[1]!.split(/,\s*/);
        const rank = (e: string): number => { const i = CT_TIMEOUT_STATES.indexOf(e.split(' ')[0]!); return i < 0 ? CT_TIMEOUT_STATES.length : i; };
        return `policy = { ${entries.sort((a, b) => rank(a) - rank(b)).join(', ')} }`;
      });
    }
    case 9: return byKey(['protocol', 'dport', 'timeout', 'size', 'l3proto']);
    default: return all.map(text);
  }
}

function bytesUnit(n: number): [number, string] {
  for (const [u, b] of [['gbytes', 1 << 30], ['mbytes', 1 << 20], ['kbytes', 1 << 10]] as const) if (n >= b && n % b === 0) return [n / b, u];
  return [n, 'bytes'];
}

/** flowtable_print_declaration + do_flowtable_print (nftables 1.0.6 src/rule.c). */
function flowtableText(f: FlowtableState, o: ListOptions): string {
  let s = `${TAB}flowtable ${f.name} {${o.handles ? ` # handle ${f.handle}` : ''}\n`;
  // hooknum2str(NFPROTO_NETDEV, 0): a flowtable hooks netdev ingress only, and prio2str names
  // its priority as netdev's whatever the table's family (only `filter`: -300 stays -300).
  s += `${TAB}${TAB}hook ingress priority ${priorityText(f.priority, 'netdev', 'ingress', !!o.numericPriority)}\n`;
  if (f.devices.length) s += `${TAB}${TAB}devices = { ${f.devices.join(', ')} }\n`;
  // flowtable_print_declaration(): NFT_FLOWTABLE_HW_OFFLOAD, then NFT_FLOWTABLE_COUNTER.
  if (f.flags & 0x1) s += `${TAB}${TAB}flags offload\n`;
  if (f.flags & 0x2) s += `${TAB}${TAB}counter\n`;
  return s + `${TAB}}\n`;
}

/**
 * table_print_declaration, and the same line do_list_sets, do_list_obj and the flowtable
 * listings print: the bare `table FAMILY NAME {` (no `# handle` under -a, no flags or comment,
 * unlike table_print).
 */
function bareTableHeader(t: TableState): string {
  return `table ${FAMILY_OF[t.family]} ${t.name} {\n`;
}

/** `list flowtable FAMILY TABLE NAME`: the one flowtable inside its table's braces (do_list_flowtable). */
export function listFlowtable(t: TableState, f: FlowtableState, o: ListOptions): string {
  return bareTableHeader(t) + flowtableText(f, o) + '}\n';
}

/**
 * `list flowtables [FAMILY]` (do_list_flowtables): every table of the family, those without
 * flowtables too, each flowtable with its whole declaration (hook, devices, flags).
 */
export function listFlowtables(r: Ruleset, o: ListOptions, family?: number): string {
  return tablesOf(r, family).map((t) => bareTableHeader(t) + [...t.flowtables.values()].map((f) => flowtableText(f, o)).join('') + '}\n').join('');
}

export { FAMILY_OF };
