/**
 * `nft -j -f FILE` (libnftables src/parser_json.c): a JSON command document
 * → the command ASTs the text parser would give, so JSON input takes the
 * same planner, compiler and engine path. `{"nftables": [...]}` holds
 * metainfo (ignored), commands (`{"add": {"table": {...}}}`, `flush`,
 * `delete`, `insert`, `replace`, `create`, `list`, `reset`, `rename`) and
 * bare objects, which mean `add` — so a `nft -j list ruleset` document loads
 * back as it was.
 */
import type { ChainBody, Command, Expr, Family, Loc, SetBody, Verb } from './ast.js';
import { NftError } from './diagnostics.js';
import { jsonExpr, jsonToRule } from './json.js';

type J = unknown;
type O = Record<string, J>;
const LOC: Loc = { file: '<json>', line: 1, first: 1, last: 1 };
const bad = (what: string): NftError => new NftError('GENERIC', [`Invalid JSON: ${what}`], undefined);
const isObj = (x: J): x is O => typeof x === 'object' && x !== null && !Array.isArray(x);
const sym = (text: string): Expr => ({ kind: 'symbol', text, quoted: false, loc: LOC });
const FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const VERBS = new Set(['add', 'create', 'insert', 'replace', 'delete', 'destroy', 'list', 'flush', 'reset', 'rename']);

function family(o: O): Family {
  const f = String(o['family'] ?? 'ip');
  if (!FAMILIES.has(f)) throw bad(`unknown family ${f}`);
  return f as Family;
}

/** A set element in JSON (`"1.2.3.4"`, `{"prefix": ...}`, `[key, data]`, `{"elem": {...}}`) → AST. */
function elemExpr(x: J): Expr {
  if (Array.isArray(x) && x.length === 2) return { kind: 'mapping', key: elemExpr(x[0]), value: dataExpr(x[1]), loc: LOC };
  if (isObj(x) && isObj(x['elem'])) {
    const e = x['elem'];
    const el: Expr = { kind: 'elem', key: jsonExpr(e['val']), loc: LOC };
    if (e['timeout'] !== undefined) el.timeout = Number(e['timeout']) * 1000;
    if (e['expires'] !== undefined) el.expires = Number(e['expires']) * 1000;
    if (e['comment'] !== undefined) el.comment = String(e['comment']);
    return el;
  }
  return jsonExpr(x);
}

/** Map data: a verdict object (`{"accept": null}`, `{"goto": {"target": "c"}}`) or a value. */
function dataExpr(x: J): Expr {
  if (isObj(x)) {
    const [k, v] = Object.entries(x)[0] ?? [];
    if (k && ['accept', 'drop', 'continue', 'return', 'jump', 'goto', 'queue'].includes(k)) {
      const chain = isObj(v) ? String(v['target'] ?? '') : undefined;
      return { kind: 'verdict', verdict: k, ...(chain ? { chain } : {}), loc: LOC };
    }
  }
  return jsonExpr(x);
}

function typeNames(x: J): string[] {
  return Array.isArray(x) ? x.map(String) : x === undefined ? [] : [String(x)];
}

function setBody(o: O, isMap: boolean): SetBody {
  const b: SetBody = { isMap, flags: typeNames(o['flags']), keyType: typeNames(o['type']) };
  if (isMap && o['map'] !== undefined) b.dataType = typeNames(o['map']);
  if (o['timeout'] !== undefined) b.timeout = Number(o['timeout']) * 1000;
  if (o['gc-interval'] !== undefined) b.gcInterval = Number(o['gc-interval']) * 1000;
  if (o['size'] !== undefined) b.size = Number(o['size']);
  if (o['policy'] !== undefined) b.policy = String(o['policy']);
  if (o['comment'] !== undefined) b.comment = String(o['comment']);
  if (Array.isArray(o['elem'])) b.elements = o['elem'].map(elemExpr);
  if (Array.isArray(o['stmt']) && o['stmt'].some((s) => isObj(s) && 'counter' in s)) b.stmts = [{ kind: 'counter', loc: LOC }];
  return b;
}

/** One `{"table": {...}}`-style object under a verb → a command. */
function objectCommand(verb: Verb, kind: string, o: O): Command {
  const fam = family(o);
  const table = String(o['table'] ?? o['name'] ?? '');
  const cmd = (target: Command['target'], extra: Partial<Command> = {}): Command => ({ verb, loc: LOC, target, ...extra });
  switch (kind) {
    case 'ruleset':
      return cmd({ obj: 'ruleset', ...(isObj(o) && o['family'] ? { family: fam } : {}) });
    case 'table': {
      const t: Command['target'] = { obj: 'table', spec: { family: fam, table: String(o['name'] ?? '') } };
      if (o['comment'] !== undefined) t.comment = String(o['comment']);
      if (o['flags'] !== undefined) t.flags = typeNames(o['flags']);
      return cmd(t);
    }
    case 'chain': {
      const spec = { family: fam, table, chain: String(o['name'] ?? ''), ...(o['handle'] !== undefined && verb !== 'add' ? { handle: Number(o['handle']) } : {}) };
      if (verb === 'rename') return cmd({ obj: 'chain', spec }, { newName: String(o['newname'] ?? '') });
      const body: ChainBody = { rules: [] };
      if (o['hook'] !== undefined) {
        body.type = String(o['type'] ?? 'filter');
        body.hook = String(o['hook']);
        body.priority = sym(String(o['prio'] ?? 0));
        if (o['policy'] !== undefined) body.policy = String(o['policy']);
        if (o['dev'] !== undefined) body.device = typeNames(o['dev']);
      }
      if (o['comment'] !== undefined) body.comment = String(o['comment']);
      return cmd({ obj: 'chain', spec, ...(verb === 'add' || verb === 'create' ? { body } : {}) });
    }
    case 'rule': {
      const spec = { family: fam, table, chain: String(o['chain'] ?? '') };
      const handle = o['handle'] !== undefined ? Number(o['handle']) : undefined;
      const pos = o['position'] !== undefined ? Number(o['position']) : undefined;
      if (verb === 'delete' || verb === 'destroy') {
        if (handle === undefined) throw bad('delete rule needs a handle');
        return cmd({ obj: 'rule', spec, position: { kind: 'handle', value: handle } });
      }
      const rule = jsonToRule(o['expr'] ?? []);
      if (o['comment'] !== undefined) rule.comment = String(o['comment']);
      const position = verb === 'replace' && handle !== undefined ? { kind: 'handle' as const, value: handle }
        : pos !== undefined ? { kind: 'position' as const, value: pos }
          : o['index'] !== undefined ? { kind: 'index' as const, value: Number(o['index']) } : undefined;
      return cmd({ obj: 'rule', spec, rule, ...(position ? { position } : {}) });
    }
    case 'set': case 'map': {
      const spec = { family: fam, table, name: String(o['name'] ?? '') };
      if (verb === 'add' || verb === 'create') return cmd({ obj: kind, spec, body: setBody(o, kind === 'map') });
      return cmd({ obj: kind, spec });
    }
    case 'element': {
      const elems = Array.isArray(o['elem']) ? o['elem'] : o['elem'] === undefined ? [] : [o['elem']];
      return cmd({ obj: 'element', spec: { family: fam, table, name: String(o['name'] ?? '') }, elements: elems.map(elemExpr) });
    }
    case 'counter': case 'quota': {
      const spec = { family: fam, table, name: String(o['name'] ?? '') };
      const tokens = kind === 'counter'
        ? ['packets', String(o['packets'] ?? 0), 'bytes', String(o['bytes'] ?? 0)]
        : [...(o['inv'] ? ['over'] : []), String(o['bytes'] ?? 0), 'bytes', ...(o['used'] ? ['used', String(o['used']), 'bytes'] : [])];
      return cmd({ obj: 'object', objType: kind, spec, ...(verb === 'add' || verb === 'create' ? { body: { objType: kind, tokens, loc: LOC } } : {}) });
    }
    case 'ct helper': {
      const spec = { family: fam, table, name: String(o['name'] ?? '') };
      const tokens = ['type', `"${String(o['type'] ?? '')}"`, 'protocol', String(o['protocol'] ?? 'tcp'), 'l3proto', String(o['l3proto'] ?? fam)];
      return cmd({ obj: 'object', objType: 'ct helper', spec, body: { objType: 'ct helper', tokens, loc: LOC } });
    }
    case 'flowtable':
      return cmd({ obj: 'flowtable', spec: { family: fam, table, name: String(o['name'] ?? '') }, ...(o['dev'] !== undefined ? { devices: typeNames(o['dev']) } : {}) });
    default:
      throw bad(`unknown object ${kind}`);
  }
}

/** Lists of objects (`"counters"`, `"sets"`, ...) in `list`/`reset` commands. */
const PLURALS = new Set(['tables', 'chains', 'sets', 'maps', 'counters', 'quotas', 'flowtables']);

/** Parses a libnftables JSON document into commands. Throws NftError on malformed input. */
export function parseJsonCommands(text: string): Command[] {
  let doc: J;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new NftError('GENERIC', [`Invalid JSON: ${(e as Error).message}`], undefined);
  }
  if (!isObj(doc) || !Array.isArray(doc['nftables'])) throw bad('expected an object with an "nftables" array');
  const out: Command[] = [];
  for (const item of doc['nftables']) {
    if (!isObj(item)) throw bad('command is not an object');
    const [k, v] = Object.entries(item)[0] ?? [];
    if (k === undefined || k === 'metainfo') continue;
    if (VERBS.has(k)) {
      if (!isObj(v)) throw bad(`${k} needs an object`);
      const [kind, body] = Object.entries(v)[0] ?? [];
      if (kind === undefined) throw bad(`${k} of nothing`);
      if (PLURALS.has(kind)) { out.push({ verb: k as Verb, loc: LOC, target: { obj: 'other', words: [kind] } }); continue; }
      out.push(objectCommand(k as Verb, kind, isObj(body) ? body : {}));
    } else {
      // A bare object is an `add` (what `nft -j list ruleset` prints loads back).
      out.push(objectCommand('add', k, isObj(v) ? v : {}));
    }
  }
  return out;
}
