/**
 * `nft -j list ...` (libnftables src/json.c): the committed state as the
 * `{"nftables": [{"metainfo": ...}, {"table": ...}, ...]}` document — per
 * table its object, then objects, sets, flowtables, chains, and last the
 * rules, whose `expr` arrays come from the rule listing (json-out.ts).
 */
import * as B from '../netfilter/bytecode.js';
import type { FlowtableState, TableState } from '../netfilter/ruleset.js';
import type { NftSet } from '../netfilter/set/set.js';
import type { Family } from './ast.js';
import type { EvalEnv } from './evaluate.js';
import { listingToJson } from './json-out.js';
import { infoFromDecl, type SetUserdata } from './command-batch.js';
import { type ElementView, type Field, type KeyPart, type ListOptions, elementViews, ruleText, verdictText } from './command-list.js';
import { FAMILY_OF, OBJ_NAME, datatypeById, hookName } from './command-names.js';

type J = Record<string, unknown>;

/** libnftables 1.0.6's metainfo object. */
export const METAINFO: J = { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } };

function setJson(t: TableState, s: NftSet, o2: ListOptions): J {
  const d = s.decl;
  const ud = d.userdata?.['nfx'] as SetUserdata | undefined;
  const family = FAMILY_OF[t.family]!;
  const types = ud?.keyTypes ?? ud?.keyParts?.map((p) => p.t) ?? [datatypeById(d.keyType)?.name ?? 'integer'];
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
    const elems = elementViews(s, o2).map(elemJson);
    if (elems.length) o['elem'] = elems;
  }
  if (ud?.stmts === 'counter') o['stmt'] = [{ counter: null }];
  return { [isMap ? 'map' : 'set']: o };
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

/** json.c set_elem_expr_json / mapping: `val` wrapped in `elem` when the element has options. */
function elemJson(v: ElementView): unknown {
  let key: unknown = v.key === '*' ? '*' : v.key.length === 1 ? partJson(v.key[0]!) : { concat: v.key.map(partJson) };
  if (v.timeout !== undefined || v.expires !== undefined || v.counter || v.comment !== undefined) {
    const e: J = { val: key };
    if (v.timeout !== undefined) e['timeout'] = Math.floor(v.timeout / 1000);
    if (v.expires !== undefined) e['expires'] = Math.floor(v.expires / 1000);
    if (v.comment !== undefined) e['comment'] = v.comment;
    if (v.counter) e['counter'] = { packets: v.counter.packets, bytes: v.counter.bytes };
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

/** The JSON objects of one table, in libnftables' order. */
export function tableJson(t: TableState, o: ListOptions): J[] {
  const family = FAMILY_OF[t.family] as Family;
  const out: J[] = [];
  const tj: J = { family, name: t.name, handle: t.handle };
  if (t.comment !== undefined) tj['comment'] = t.comment;
  if (t.flags & 1) tj['flags'] = 'dormant';
  out.push({ table: tj });
  for (const ob of t.objects.values()) {
    const type = OBJ_NAME[ob.type] ?? 'counter';
    const j: J = { family, name: ob.name, table: t.name, handle: ob.handle };
    if (ob.expr?.type === 'counter') { j['packets'] = ob.expr.packets; j['bytes'] = ob.expr.bytes; }
    if (ob.expr?.type === 'quota') { j['bytes'] = ob.expr.bytes; j['used'] = ob.expr.consumed; if (ob.expr.flags & 1) j['inv'] = true; }
    if (ob.type === 3 && ob.data) { j['type'] = ob.data['type']; j['protocol'] = ob.data['protocol']; j['l3proto'] = ob.data['l3proto']; }
    out.push({ [type]: j });
  }
  for (const s of t.sets.values()) if (!(s.decl.flags & B.NFT_SET_ANONYMOUS)) out.push(setJson(t, s, o));
  for (const f of t.flowtables.values()) out.push(flowtableJson(t, f));
  for (const ch of t.chains.values()) {
    const j: J = { family, table: t.name, name: ch.name, handle: ch.handle };
    if (ch.comment !== undefined) j['comment'] = ch.comment;
    if (ch.hook) {
      j['type'] = ch.type ?? 'filter';
      j['hook'] = hookName(family, ch.hook.hooknum);
      j['prio'] = ch.hook.priority;
      j['policy'] = ch.policy === B.NF_DROP ? 'drop' : 'accept';
    }
    out.push({ chain: j });
  }
  const env: EvalEnv = { family, sets: new Map(), defines: new Map() };
  for (const s of t.sets.values()) {
    if (s.decl.flags & B.NFT_SET_ANONYMOUS) continue;
    const info = infoFromDecl(s.decl);
    if (info) env.sets.set(s.name, info.named);
  }
  for (const ch of t.chains.values()) {
    for (const r of ch.rules) {
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
      const j: J = { family, table: t.name, chain: ch.name, handle: r.handle };
      if (r.comment !== undefined) j['comment'] = r.comment;
      j['expr'] = expr;
      out.push({ rule: j });
    }
  }
  return out;
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
