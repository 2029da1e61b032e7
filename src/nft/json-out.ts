/**
 * libnftables JSON output (nftables src/json.c) for rules: the listing AST
 * → the `expr` array `nft -j list` prints. Values are typed by the
 * evaluator (a flag type's implicit match is op "in"; integers are numbers;
 * addresses, names and strings are strings).
 */
import type { Expr, Family, RuleAst, Stmt } from './ast.js';
import { DT, type Datatype, bytesToBig, parseIntText } from './datatypes.js';
import { type EvalEnv, type Operand, evalOperand } from './evaluate.js';
import { parse } from './parser.js';
import { unitBytes } from './parser-stmt.js';
import { parseTime } from './parser-expr.js';

type J = unknown;

function scalar(text: string, quoted: boolean, dtype?: Datatype): J {
  if (quoted) return text;
  // An interface index is printed as a name, or as the number in a string when none fits.
  if (dtype === DT.iface_index) return text;
  if (dtype === DT.boolean && (text === 'exists' || text === 'missing')) return text === 'exists';
  if (dtype === DT.time && /^\d/.test(text)) {
    // JSON carries times in seconds.
    const ms = parseTime(text);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  const n = parseIntText(text);
  if (n !== undefined && !(dtype && !dtype.integer && dtype !== DT.invalid)) return n > BigInt(Number.MAX_SAFE_INTEGER) ? text : Number(n);
  return text;
}

export class JsonWriter {
  constructor(readonly env: EvalEnv) {}

  private op(e: Expr): Operand | undefined {
    try { return evalOperand(e, this.env); } catch { return undefined; }
  }

  value(e: Expr, dtype?: Datatype): J {
    switch (e.kind) {
      case 'symbol': return scalar(e.text, e.quoted, dtype);
      case 'variable': return `$${e.name}`;
      case 'list': return e.items.map((i) => this.value(i, dtype));
      case 'range': return { range: [this.rangeEnd(e.low, dtype), this.rangeEnd(e.high, dtype)] };
      case 'prefix': return { prefix: { addr: this.value(e.expr, dtype), len: e.plen } };
      case 'concat': return { concat: e.parts.map((p) => this.value(p, dtype)) };
      case 'wildcard': return '*';
      case 'setref': return `@${e.name}`;
      case 'set': return { set: e.elems.map((x) => this.elem(x, dtype)) };
      case 'verdict': return e.chain !== undefined ? { [e.verdict]: { target: e.chain } } : { [e.verdict]: null };
      case 'binop': {
        const ldt = this.op(e.left)?.dtype;
        if (e.op === '&' && ldt?.bitmask) {
          // A mask written (and listed) as `(fin | syn | ...)` stays a tree of binary ORs, as
          // json.c binop_expr_json prints it; `fin,syn` is a flag list.
          const tree = (x: Expr): J => (x.kind === 'binop' && x.op === '|' ? { '|': [tree(x.left), tree(x.right)] } : this.value(x, ldt));
          return { '&': [this.expr(e.left), e.right.kind === 'binop' && e.right.op === '|' ? tree(e.right) : this.flagValue(e.right, ldt)] };
        }
        const l = this.expr(e.left);
        return { [e.op]: [l, this.value(e.right, ldt)] };
      }
      default: return this.expr(e);
    }
  }

  /** Range ends of a symbolic type print by name where one exists (json.c range_expr_json). */
  private rangeEnd(e: Expr, dtype?: Datatype): J {
    const v = this.value(e, dtype);
    // Protocol numbers stay numeric (getprotobynumber names are a text-listing nicety).
    if (typeof v !== 'number' || !dtype?.symbols || dtype.bitmask || dtype === DT.inet_proto || dtype === DT.inet_service) return v;
    for (const [name, n] of dtype.symbols) if (n === BigInt(v)) return name;
    return v;
  }

  /** Flag values: a single name, or an array for an OR of several (`syn | ack`, `syn,ack`). */
  flagValue(e: Expr, dtype?: Datatype): J {
    const names: Expr[] = [];
    const walk = (x: Expr): void => { if (x.kind === 'binop' && x.op === '|') { walk(x.left); walk(x.right); } else if (x.kind === 'list') x.items.forEach(walk); else names.push(x); };
    walk(e);
    const vals = names.map((n) => this.value(n, dtype));
    return vals.length === 1 ? vals[0] : vals;
  }

  private elem(x: Expr, dtype?: Datatype, dataType?: Datatype): J {
    if (x.kind === 'mapping') return [this.elem(x.key, dtype), this.value(x.value, dataType)];
    return this.value(x, dtype);
  }

  expr(e: Expr): J {
    switch (e.kind) {
      case 'payload':
        if (e.raw) return { payload: { base: ['ll', 'nh', 'th', 'ih'][e.raw.base], offset: e.raw.offset, len: e.raw.len } };
        return { payload: { protocol: e.proto, field: e.field } };
      case 'meta': return { meta: { key: e.key } };
      case 'ct': {
        const o: Record<string, J> = { key: e.key };
        if (e.dir) o.dir = e.dir;
        return { ct: o };
      }
      case 'exthdr': {
        const name = { ipv6: 'exthdr', tcpopt: 'tcp option', ipv4: 'ip option', sctp: 'sctp chunk', dccp: 'dccp option' }[e.op];
        // An option known only by number is a raw option (json.c exthdr_expr_json: base/offset/len).
        if (e.op === 'tcpopt' && !e.field && /^\d+$/.test(e.hdr)) return { [name]: { base: Number(e.hdr), len: 8, offset: 0 } };
        const raw = e.op === 'tcpopt' ? /^@(\d+),(\d+)$/.exec(e.field) : null;
        if (raw) return { [name]: { base: Number(e.hdr), len: Number(raw[2]), offset: Number(raw[1]) } };
        return { [name]: e.field ? { name: e.hdr, field: e.field } : { name: e.hdr } };
      }
      case 'concat': return { concat: e.parts.map((p) => this.expr(p)) };
      case 'binop': return this.value(e);
      case 'map': {
        const key = this.op(e.key);
        return { map: { key: this.expr(e.key), data: this.value(e.map, key?.dtype) } };
      }
      case 'rt': return { rt: e.family ? { key: e.key, family: e.family } : { key: e.key } };
      case 'fib': return { fib: { result: e.result, flags: e.flags } };
      case 'socket': return { socket: { key: e.key } };
      case 'osf': return { osf: e.ttl ? { key: e.key, ttl: e.ttl } : { key: e.key } };
      case 'numgen': return { numgen: { mode: e.mode, mod: e.modulus, offset: e.offset ?? 0 } };
      case 'hash': {
        const o: Record<string, J> = e.hashType === 'symhash' ? { mod: e.modulus } : { expr: this.expr(e.expr!), mod: e.modulus };
        if (e.seed !== undefined) o.seed = e.seed;
        if (e.offset) o.offset = e.offset;
        return { [e.hashType]: o };
      }
      case 'ipsec': { const o: Record<string, J> = { key: e.key, dir: e.dir, spnum: e.spnum }; if (e.family) o.family = e.family; return { ipsec: o }; }
      default: return this.value(e);
    }
  }

  stmt(s: Stmt): J {
    switch (s.kind) {
      case 'match': {
        const left = this.op(s.left);
        const dt = left?.dtype;
        let op: string = s.op === 'implicit' ? '==' : s.op;
        if (s.op === 'implicit' && dt?.bitmask && s.left.kind !== 'binop' && (s.right.kind === 'symbol' || s.right.kind === 'list')) op = 'in';
        if (s.op === '!') op = '!';
        if (s.right.kind === 'binop' && s.right.masked) {
          // `flags value / mask` is `(flags & mask) op value` in JSON.
          return { match: { left: { '&': [this.expr(s.left), this.flagValue(s.right.right, dt)] }, op: s.op === 'implicit' ? '==' : s.op, right: this.flagValue(s.right.left, dt) } };
        }
        let right: J;
        if ((s.left.kind === 'exthdr' && s.left.present || s.left.kind === 'fib') && s.right.kind === 'symbol' && (s.right.text === 'exists' || s.right.text === 'missing')) right = s.right.text === 'exists';
        else if (s.right.kind === 'set' && left?.parts) right = { set: s.right.elems.map((x) => this.partsValue(x, left)) };
        else right = s.right.kind === 'concat' && left?.parts ? this.partsValue(s.right, left) : this.value(s.right, dt);
        return { match: { left: this.expr(s.left), op, right } };
      }
      case 'verdict':
        if (s.expr.kind === 'map') {
          const key = this.op(s.expr.key);
          const set = s.expr.map;
          const data = set.kind === 'set' ? { set: set.elems.map((x) => (x.kind === 'mapping' ? [key?.parts ? this.partsValue(x.key, key) : this.value(x.key, key?.dtype), this.value(x.value)] : this.value(x))) } : this.value(set);
          return { vmap: { key: this.expr(s.expr.key), data } };
        }
        return this.value(s.expr);
      case 'counter': return { counter: null };
      case 'notrack': return { notrack: null };
      case 'optreset': return { reset: { 'tcp option': /^\d+$/.test(s.name) ? { base: Number(s.name), len: 0, offset: 0 } : { name: s.name } } };
      case 'log': {
        const o: Record<string, J> = {};
        if (s.prefix !== undefined) o.prefix = s.prefix;
        if (s.group !== undefined) o.group = s.group;
        if (s.snaplen !== undefined) o.snaplen = s.snaplen;
        if (s.qthreshold !== undefined) o['queue-threshold'] = s.qthreshold;
        if (s.level !== undefined) o.level = s.level;
        if (s.flags.length) o.flags = s.flags.length === 1 ? s.flags[0] : s.flags;
        return { log: Object.keys(o).length ? o : null };
      }
      case 'limit': {
        // limit_stmt_json: rate, burst, per, then inv, then the byte units (nft 1.0.6 -j).
        const o: Record<string, J> = { rate: s.rate, burst: s.burst ?? (s.bytes ? 0 : 5), per: s.bytes ? s.unit.split('/')[1] : s.unit };
        if (s.over) o.inv = true;
        if (s.bytes) { o.rate_unit = s.unit.split('/')[0]; o.burst_unit = s.burstUnit ?? 'bytes'; }
        return { limit: o };
      }
      case 'quota': {
        const [v, u] = unitOf(s.bytes);
        const o: Record<string, J> = { val: v, val_unit: u };
        if (s.over) o.inv = true;
        if (s.used) { const [uv, uu] = unitOf(s.used); o.used = uv; o.used_unit = uu; }
        return { quota: o };
      }
      case 'objref': {
        const e = s.expr!;
        const name = s.objType;
        return { [name]: e.kind === 'symbol' ? e.text : { map: (this.expr(e) as { map: J }).map } };
      }
      case 'field_set': {
        if (s.target.kind === 'ct' && ['helper', 'timeout', 'expectation'].includes(s.target.key)) return { [`ct ${s.target.key}`]: this.value(s.value) };
        const t = this.op(s.target);
        return { mangle: { key: this.expr(s.target), value: s.value.kind === 'symbol' || s.value.kind === 'list' ? this.value(s.value, t?.dtype) : this.expr(s.value) } };
      }
      case 'nat': {
        const o: Record<string, J> = {};
        if (s.addr) o.addr = s.addr.kind === 'map' ? this.expr(s.addr) : this.value(s.addr, DT.ipv4_addr);
        if (s.family) o.family = s.family;
        if (s.port) o.port = this.value(s.port, DT.inet_service);
        // `prefix` is NF_NAT_RANGE_NETMAP, which nat_stmt_json lists with the other flags.
        const flags = s.prefix && !s.flags.includes('netmap') ? [...s.flags, 'netmap'] : s.flags;
        if (flags.length) o.flags = flags.length === 1 ? flags[0] : flags;
        if (s.prefix) o.type_flags = 'prefix';
        return { [s.type]: Object.keys(o).length ? o : null };
      }
      case 'reject': {
        if (!s.with) {
          const fam = this.env.family;
          return { reject: fam === 'ip' ? { type: 'icmp', expr: 'port-unreachable' } : fam === 'ip6' ? { type: 'icmpv6', expr: 'port-unreachable' } : { type: 'icmpx', expr: 'port-unreachable' } };
        }
        if (s.with.family === 'tcp') return { reject: { type: 'tcp reset' } };
        return { reject: { type: s.with.family, expr: this.value(s.with.code!) } };
      }
      case 'queue': {
        const o: Record<string, J> = {};
        if (s.num) o.num = s.num.kind === 'symbol' || s.num.kind === 'range' ? this.value(s.num) : this.expr(s.num);
        if (s.flags.length) o.flags = s.flags.length === 1 ? s.flags[0] : s.flags;
        return { queue: o };
      }
      case 'dup': { const o: Record<string, J> = {}; if (s.addr) o.addr = this.value(s.addr); if (s.dev) o.dev = this.value(s.dev); return { dup: o }; }
      case 'fwd': { const o: Record<string, J> = { dev: this.value(s.dev) }; if (s.addr) { o.addr = this.value(s.addr); o.family = s.family ?? 'ip'; } return { fwd: o }; }
      case 'tproxy': { const o: Record<string, J> = {}; if (s.family) o.family = s.family; if (s.addr) o.addr = this.value(s.addr); if (s.port) o.port = this.value(s.port); return { tproxy: o }; }
      case 'synproxy': { const o: Record<string, J> = {}; if (s.mss !== undefined) o.mss = s.mss; if (s.wscale !== undefined) o.wscale = s.wscale; if (s.flags.length) o.flags = s.flags; return { synproxy: Object.keys(o).length ? o : null }; }
      case 'connlimit': return { 'ct count': s.over ? { val: s.count, inv: true } : { val: s.count } };
      case 'flow_offload': return { flow: { op: 'add', flowtable: `@${s.table}` } };
      case 'dynset': {
        if (s.meter) {
          // meter_stmt_json: the key as a set element (with its timeout), one statement, the
          // size, then the name (measured against nft 1.0.6 -j).
          const val = this.expr(s.key);
          const o: Record<string, J> = { key: s.timeout !== undefined ? { elem: { val, timeout: Math.floor(s.timeout / 1000) } } : val };
          o.stmt = s.stmts.length ? this.stmt(s.stmts[0]!) : null;
          if (s.meter.size !== undefined) o.size = s.meter.size;
          o.name = s.set;
          return { meter: o };
        }
        return { set: { op: s.op, elem: this.expr(s.key), set: `@${s.set}` } };
      }
      default: return null;
    }
  }

  private partsValue(x: Expr, key: Operand): J {
    if (x.kind === 'concat') return { concat: x.parts.map((p, i) => this.value(p, key.parts?.[i]?.dtype)) };
    if (x.kind === 'mapping') return [this.partsValue(x.key, key), this.value(x.value)];
    return this.value(x);
  }
}

function unitOf(n: number): [number, string] {
  for (const u of ['gbytes', 'mbytes', 'kbytes']) { const b = unitBytes(u); if (n >= b && n % b === 0) return [n / b, u]; }
  return [n, 'bytes'];
}

/** The JSON `expr` array nft -j prints for a rule, from its text listing. */
export function listingToJson(listing: string, env: EvalEnv): J[] {
  const { commands } = parse(`add rule ${env.family} t c ${listing}`, '<listing>', { defines: env.defines });
  const t = commands[0]?.target;
  if (!t || t.obj !== 'rule' || !t.rule) return [];
  const w = new JsonWriter(env);
  const out = t.rule.stmts.map((s) => w.stmt(s));
  if (t.rule.comment !== undefined) out.push({ comment: t.rule.comment });
  return out;
}

export type { RuleAst, Family };
export { bytesToBig };
