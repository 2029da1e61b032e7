/**
 * libnftables JSON (nftables src/parser_json.c, libnftables-json(5)): a
 * rule's `expr` array → the same AST the text parser builds, so JSON input
 * goes through the one evaluator and linearizer. Values stay symbols and
 * are typed by the evaluator, as nft does.
 */
import type { Expr, Loc, RelOp, RuleAst, Stmt } from './ast.js';
import { NftError } from './diagnostics.js';

type J = unknown;
const LOC: Loc = { file: '<json>', line: 1, first: 1, last: 1 };
const bad = (what: string): NftError => new NftError('GENERIC', [`Invalid JSON: ${what}`], undefined);
const isObj = (x: J): x is Record<string, J> => typeof x === 'object' && x !== null && !Array.isArray(x);

const PAYLOAD_BASES: Record<string, number> = { ll: 0, nh: 1, th: 2, ih: 3 };
const JSON_OPS: Record<string, RelOp> = { '!': '!', '==': '==', '!=': '!=', '<': '<', '>': '>', '<=': '<=', '>=': '>=', in: 'implicit' };

function sym(text: string): Expr { return { kind: 'symbol', text, quoted: false, loc: LOC }; }

/** A JSON expression → AST expression. */
export function jsonExpr(x: J): Expr {
  if (typeof x === 'number' || typeof x === 'boolean') return sym(String(typeof x === 'boolean' ? Number(x) : x));
  if (typeof x === 'string') {
    if (x.startsWith('@')) return { kind: 'setref', name: x.slice(1), loc: LOC };
    if (x.startsWith('$')) return { kind: 'variable', name: x.slice(1), loc: LOC };
    if (x === '*') return { kind: 'wildcard', loc: LOC };
    return { kind: 'symbol', text: x, quoted: false, loc: LOC };
  }
  if (Array.isArray(x)) return { kind: 'list', items: x.map(jsonExpr), loc: LOC };
  if (!isObj(x)) throw bad('expression');
  const [k, v] = Object.entries(x)[0] ?? [];
  if (k === undefined) throw bad('empty object');
  const o = (isObj(v) ? v : {}) as Record<string, J>;
  const str = (y: J): string => String(y);
  switch (k) {
    case 'payload':
      if (o.base !== undefined) {
        const base = PAYLOAD_BASES[str(o.base)] ?? 1;
        return { kind: 'payload', proto: '@' + str(o.base), field: `${o.offset},${o.len}`, raw: { base, offset: Number(o.offset), len: Number(o.len) }, loc: LOC };
      }
      return { kind: 'payload', proto: str(o.protocol), field: str(o.field), loc: LOC };
    case 'meta': return { kind: 'meta', key: str(o.key), loc: LOC };
    case 'ct': {
      const key = o.family !== undefined ? `${str(o.family)} ${str(o.key)}` : str(o.key);
      return { kind: 'ct', key, dir: o.dir === undefined ? undefined : (str(o.dir) as 'original'), loc: LOC };
    }
    case 'exthdr':
      return { kind: 'exthdr', op: 'ipv6', hdr: str(o.name), field: o.field === undefined ? '' : str(o.field), present: o.field === undefined, loc: LOC };
    case 'tcp option':
      if (o.name === undefined && o.base !== undefined) {
        // Raw option bits (`tcp option @kind,offset,length`), or presence of an unnamed kind.
        const raw = o.offset !== undefined && Number(o.len) > 0 && !(Number(o.offset) === 0 && Number(o.len) === 8);
        return { kind: 'exthdr', op: 'tcpopt', hdr: String(o.base), field: raw ? `@${Number(o.offset)},${Number(o.len)}` : '', present: !raw, loc: LOC };
      }
      return { kind: 'exthdr', op: 'tcpopt', hdr: str(o.name), field: o.field === undefined ? '' : str(o.field), present: o.field === undefined, loc: LOC };
    case 'ip option':
      return { kind: 'exthdr', op: 'ipv4', hdr: str(o.name), field: o.field === undefined ? '' : str(o.field), present: o.field === undefined, loc: LOC };
    case 'sctp chunk':
      return { kind: 'exthdr', op: 'sctp', hdr: str(o.name), field: o.field === undefined ? '' : str(o.field), present: o.field === undefined, loc: LOC };
    case 'rt': return { kind: 'rt', key: str(o.key), family: o.family === undefined ? undefined : (str(o.family) as 'ip'), loc: LOC };
    case 'fib': return { kind: 'fib', flags: Array.isArray(o.flags) ? o.flags.map(str) : [str(o.flags)], result: str(o.result), loc: LOC };
    case 'socket': return { kind: 'socket', key: str(o.key), level: o.level === undefined ? undefined : Number(o.level), loc: LOC };
    case 'osf': return { kind: 'osf', key: str(o.key), ttl: o.ttl === undefined ? undefined : str(o.ttl), loc: LOC };
    case 'jhash': return { kind: 'hash', hashType: 'jhash', expr: jsonExpr(o.expr), modulus: Number(o.mod), seed: o.seed === undefined ? undefined : Number(o.seed), offset: o.offset === undefined ? undefined : Number(o.offset), loc: LOC };
    case 'symhash': return { kind: 'hash', hashType: 'symhash', modulus: Number(o.mod), offset: o.offset === undefined ? undefined : Number(o.offset), loc: LOC };
    case 'numgen': return { kind: 'numgen', mode: str(o.mode) as 'inc', modulus: Number(o.mod), offset: o.offset === undefined ? undefined : Number(o.offset), loc: LOC };
    case 'ipsec': return { kind: 'ipsec', dir: str(o.dir) as 'in', spnum: o.spnum === undefined ? 0 : Number(o.spnum), key: str(o.key), family: o.family === undefined ? undefined : (str(o.family) as 'ip'), loc: LOC };
    case 'set': {
      const items = Array.isArray(v) ? v : [v];
      return { kind: 'set', elems: items.map(jsonSetElem), loc: LOC };
    }
    case 'range': { const [a, b] = v as J[]; return { kind: 'range', low: jsonExpr(a), high: jsonExpr(b), loc: LOC }; }
    case 'prefix': return { kind: 'prefix', expr: jsonExpr(o.addr), plen: Number(o.len), loc: LOC };
    case 'concat': return { kind: 'concat', parts: (v as J[]).map(jsonExpr), loc: LOC };
    case 'map': return { kind: 'map', key: jsonExpr(o.key), map: jsonExpr(o.data), loc: LOC };
    case 'elem': return jsonSetElem(x);
    case '&': case '|': case '^': case '<<': case '>>': {
      const [a, b] = v as J[];
      return { kind: 'binop', op: k, left: jsonExpr(a), right: jsonExpr(b), loc: LOC };
    }
    case 'accept': case 'drop': case 'continue': case 'return': return { kind: 'verdict', verdict: k, loc: LOC };
    case 'jump': case 'goto': return { kind: 'verdict', verdict: k, chain: str(o.target), loc: LOC };
    default: throw bad(`unknown expression ${k}`);
  }
}

function jsonSetElem(x: J): Expr {
  if (Array.isArray(x) && x.length === 2) return { kind: 'mapping', key: jsonSetElem(x[0]), value: jsonExpr(x[1]), loc: LOC };
  if (isObj(x) && isObj(x.elem)) {
    const e = x.elem;
    return { kind: 'elem', key: jsonExpr(e.val), timeout: e.timeout === undefined ? undefined : Number(e.timeout) * 1000, comment: e.comment === undefined ? undefined : String(e.comment), loc: LOC };
  }
  return jsonExpr(x);
}

const flagList = (x: J): string[] => (x === undefined ? [] : Array.isArray(x) ? x.map(String) : [String(x)]);

/** A JSON statement → AST statement. */
export function jsonStmt(x: J): Stmt {
  if (!isObj(x)) throw bad('statement');
  const [k, v] = Object.entries(x)[0] ?? [];
  if (k === undefined) throw bad('empty statement');
  const o = (isObj(v) ? v : {}) as Record<string, J>;
  switch (k) {
    case 'match': {
      const op = JSON_OPS[String(o.op)];
      if (!op) throw bad(`operator ${String(o.op)}`);
      // A boolean against fib is its presence test (NFTA_FIB_F_PRESENT), as `exists`/`missing`.
      const fib = isObj(o.left) && (o.left as Record<string, J>)['fib'] !== undefined && typeof o.right === 'boolean';
      const right: Expr = fib ? { kind: 'symbol', text: o.right ? 'exists' : 'missing', quoted: false, loc: LOC } : jsonExpr(o.right);
      return { kind: 'match', left: jsonExpr(o.left), op, right, loc: LOC };
    }
    case 'accept': case 'drop': case 'continue': case 'return': case 'jump': case 'goto':
      return { kind: 'verdict', expr: jsonExpr(x), loc: LOC };
    case 'vmap': return { kind: 'verdict', expr: { kind: 'map', key: jsonExpr(o.key), map: jsonExpr(o.data), loc: LOC }, loc: LOC };
    case 'counter': case 'quota': case 'limit': case 'synproxy':
      if (typeof v === 'string') return { kind: 'objref', objType: k, expr: sym(v), loc: LOC };
      if (isObj(v) && v.map !== undefined) return { kind: 'objref', objType: k, expr: jsonExpr(v.map === undefined ? v : { map: v.map }), loc: LOC };
      if (k === 'counter') return { kind: 'counter', packets: o.packets === undefined ? undefined : Number(o.packets), bytes: o.bytes === undefined ? undefined : Number(o.bytes), loc: LOC };
      if (k === 'quota') {
        const unit = (u: J): number => ({ bytes: 1, kbytes: 1024, mbytes: 1048576, gbytes: 1073741824 }[String(u ?? 'bytes')] ?? 1);
        return { kind: 'quota', over: !!o.inv, bytes: Number(o.val) * unit(o.val_unit), used: o.used === undefined ? undefined : Number(o.used) * unit(o.used_unit), loc: LOC };
      }
      if (k === 'limit') {
        const bytes = o.rate_unit !== undefined && o.rate_unit !== 'packets';
        return { kind: 'limit', over: !!o.inv, rate: Number(o.rate), unit: bytes ? `${String(o.rate_unit)}/${String(o.per ?? 'second')}` : String(o.per ?? 'second'), bytes, burst: o.burst === undefined ? undefined : Number(o.burst), burstUnit: o.burst === undefined ? undefined : String(o.burst_unit ?? (bytes ? 'bytes' : 'packets')), loc: LOC };
      }
      return { kind: 'synproxy', mss: o.mss === undefined ? undefined : Number(o.mss), wscale: o.wscale === undefined ? undefined : Number(o.wscale), flags: flagList(o.flags), loc: LOC };
    case 'ct helper': case 'ct timeout': case 'ct expectation':
      return { kind: 'field_set', target: { kind: 'ct', key: k.slice(3), loc: LOC }, value: jsonExpr(v), loc: LOC };
    case 'log': {
      const flags = flagList(o.flags).map((f) => (f === 'ip options' || f === 'tcp sequence' || f === 'tcp options' ? f : f));
      return { kind: 'log', prefix: o.prefix === undefined ? undefined : String(o.prefix), group: o.group === undefined ? undefined : Number(o.group), snaplen: o.snaplen === undefined ? undefined : Number(o.snaplen), qthreshold: o['queue-threshold'] === undefined ? undefined : Number(o['queue-threshold']), level: o.level === undefined ? undefined : String(o.level), flags, loc: LOC };
    }
    case 'mangle': return { kind: 'field_set', target: jsonExpr(o.key), value: jsonExpr(o.value), loc: LOC };
    case 'snat': case 'dnat': case 'masquerade': case 'redirect':
      return {
        kind: 'nat', type: k, family: o.family === undefined ? undefined : (String(o.family) as 'ip'),
        addr: o.addr === undefined ? undefined : jsonExpr(o.addr), port: o.port === undefined ? undefined : jsonExpr(o.port),
        flags: flagList(o.flags), prefix: (o.type_flags !== undefined && flagList(o.type_flags).includes('prefix')) || undefined, loc: LOC,
      };
    case 'reject': {
      if (!isObj(v)) return { kind: 'reject', loc: LOC };
      const type = String(o.type ?? 'icmpx');
      if (type === 'tcp reset') return { kind: 'reject', with: { family: 'tcp' }, loc: LOC };
      return { kind: 'reject', with: { family: type as 'icmp', code: o.expr === undefined ? sym('port-unreachable') : jsonExpr(o.expr) }, loc: LOC };
    }
    case 'queue': return { kind: 'queue', num: o.num === undefined ? undefined : jsonExpr(o.num), flags: flagList(o.flags), loc: LOC };
    case 'dup': return { kind: 'dup', addr: o.addr === undefined ? undefined : jsonExpr(o.addr), dev: o.dev === undefined ? undefined : jsonExpr(o.dev), loc: LOC };
    case 'fwd': return { kind: 'fwd', dev: jsonExpr(o.dev), addr: o.addr === undefined ? undefined : jsonExpr(o.addr), family: o.family === undefined ? undefined : (String(o.family) as 'ip'), loc: LOC };
    case 'notrack': return { kind: 'notrack', loc: LOC };
    case 'reset': {
      const opt = isObj(v) && isObj((v as Record<string, J>)['tcp option']) ? (v as Record<string, Record<string, J>>)['tcp option']! : {};
      return { kind: 'optreset', name: opt.name !== undefined ? String(opt.name) : String(opt.base ?? ''), nameLoc: LOC, loc: LOC };
    }
    case 'tproxy': return { kind: 'tproxy', family: o.family === undefined ? undefined : (String(o.family) as 'ip'), addr: o.addr === undefined ? undefined : jsonExpr(o.addr), port: o.port === undefined ? undefined : jsonExpr(o.port), loc: LOC };
    case 'flow': return { kind: 'flow_offload', table: String(o.flowtable ?? '').replace(/^@/, ''), loc: LOC };
    case 'set': {
      const stmts = Array.isArray(o.stmt) ? o.stmt.map(jsonStmt) : [];
      return { kind: 'dynset', op: String(o.op) as 'add', set: String(o.set).replace(/^@/, ''), key: jsonExpr(o.elem), stmts, loc: LOC };
    }
    case 'meter': {
      // parser_json.c json_parse_meter_stmt: {"key": KEY or {"elem": {"val", "timeout"}}, "name", "size", "stmt"}.
      const key = isObj(o.key) && isObj((o.key as Record<string, J>)['elem']) ? (o.key as Record<string, Record<string, J>>)['elem']! : undefined;
      const timeout = key && key.timeout !== undefined ? Number(key.timeout) * 1000 : undefined;
      return {
        kind: 'dynset', op: timeout !== undefined ? 'update' : 'add', set: String(o.name), key: jsonExpr(key ? key.val! : o.key!), timeout, stmts: o.stmt ? [jsonStmt(o.stmt)] : [],
        meter: { size: o.size === undefined ? undefined : Number(o.size) }, loc: LOC,
      };
    }
    case 'ct count': return { kind: 'connlimit', over: !!o.inv, count: Number(o.val), loc: LOC };
    default: throw bad(`unknown statement ${k}`);
  }
}

/** A rule's JSON `expr` array → rule AST. */
export function jsonToRule(expr: J): RuleAst {
  if (!Array.isArray(expr)) throw bad('expr must be an array');
  return { loc: LOC, stmts: expr.map(jsonStmt), text: JSON.stringify(expr) };
}
