/**
 * Parser of the `nft --debug=netlink` expression lines (the inverse of
 * bytecode-text.ts): `[ payload load 4b @ network header + 12 => reg 1 ]` back
 * to an `Expr`. Lengths the text does not carry come back rounded up to whole
 * 32-bit words; evaluation is unchanged because the kernel zero-fills the
 * partial word of a register on every load.
 */
import type { Expr, Verdict, LogExpr, QueueExpr, NatExpr, MasqExpr, ExthdrExpr, DynsetExpr, LimitExpr } from './bytecode.js';
import {
  NFT_BITWISE_BOOL, NFT_BITWISE_LSHIFT, NFT_BITWISE_RSHIFT, NFT_EXTHDR_OP_IPV6, NFT_EXTHDR_OP_TCPOPT,
  NFT_EXTHDR_OP_IPV4, NFT_EXTHDR_OP_SCTP, NFT_EXTHDR_F_PRESENT,
} from './bytecode.js';
import {
  META_KEY_NAMES, CT_KEY_NAMES, CT_DIR_NAMES, CMP_OPS, RANGE_OPS, BYTEORDER_OPS, PAYLOAD_BASES, DYNSET_OPS,
  RT_KEY_NAMES, SOCKET_KEY_NAMES, XFRM_KEY_NAMES, XFRM_DIR_NAMES, FIB_RESULTS, FIB_FLAG_NAMES, NFTA_FIB_F_PRESENT,
  LOG_FLAG_NAMES, QUEUE_FLAG_BYPASS, QUEUE_FLAG_FANOUT, LIMIT_UNITS, VERDICT_CODES, indexOf, familyNumber, wordsToBytes,
} from './bytecode-names.js';


export class Tokens {
  private i = 0;
  constructor(readonly t: string[], readonly line: string) {}
  get done(): boolean { return this.i >= this.t.length; }
  peek(k = 0): string | undefined { return this.t[this.i + k]; }
  next(): string {
    const v = this.t[this.i++];
    if (v === undefined) throw new SyntaxError(`unexpected end of expression: ${this.line}`);
    return v;
  }
  expect(word: string): void {
    const v = this.next();
    if (v !== word) throw new SyntaxError(`expected '${word}', got '${v}': ${this.line}`);
  }
  num(): number {
    const v = this.next();
    if (!/^\d+$/.test(v)) throw new SyntaxError(`expected a number, got '${v}': ${this.line}`);
    return Number(v);
  }
  hex(): number {
    const v = this.next();
    if (!/^(0x)?[0-9a-f]+$/i.test(v)) throw new SyntaxError(`expected a hex number, got '${v}': ${this.line}`);
    return parseInt(v.startsWith('0x') ? v.slice(2) : v, 16);
  }
  /** `reg N`. */
  reg(): number {
    this.expect('reg');
    return this.num();
  }
  words(): string[] {
    const out: string[] = [];
    while (this.peek()?.startsWith('0x') && /^0x[0-9a-f]{8}$/.test(this.peek()!)) out.push(this.next());
    return out;
  }
  rest(): string[] { return this.t.slice(this.i); }
  end(): void {
    if (!this.done) throw new SyntaxError(`unexpected '${this.peek()}': ${this.line}`);
  }
}

export function parseVerdict(tk: Tokens): Verdict {
  const name = tk.next();
  const code = VERDICT_CODES[name];
  if (code === undefined) throw new SyntaxError(`unknown verdict '${name}'`);
  if (tk.peek() === '->') {
    tk.next();
    return { code, chain: tk.next() };
  }
  return { code };
}

/** Splits the body of `[ name body]` into the expression name and its body text. */
function splitLine(line: string): { name: string; body: string } {
  const s = line.trim();
  if (!s.startsWith('[ ') || !s.endsWith(']')) throw new SyntaxError(`not an expression line: ${line}`);
  const inner = s.slice(2, -1);
  const sp = inner.indexOf(' ');
  if (sp < 0) throw new SyntaxError(`not an expression line: ${line}`);
  return { name: inner.slice(0, sp), body: inner.slice(sp + 1) };
}

/** Parses one `[ ... ]` line (leading blanks allowed) back to an `Expr`. */
export function parseExprLine(line: string): Expr {
  const { name, body } = splitLine(line);
  return parseBody(name, body, line);
}

function parseBody(name: string, body: string, line: string): Expr {
  if (name === 'log') return parseLog(body, line);
  if (name === 'dynset') return parseDynset(body, line);
  const tk = new Tokens(body.split(' ').filter((w) => w !== ''), line);
  const e = parseTokens(name, tk, line);
  tk.end();
  return e;
}

function parseTokens(name: string, tk: Tokens, line: string): Expr {
  switch (name) {
    case 'payload': {
      const form = tk.next();
      if (form === 'load') {
        const len = parseInt(tk.next(), 10);
        tk.expect('@');
        const base = indexOf(PAYLOAD_BASES, tk.next(), 'payload base');
        tk.expect('header'); tk.expect('+');
        const offset = tk.num();
        tk.expect('=>');
        return { type: 'payload', base, offset, len, dreg: tk.reg() };
      }
      if (form !== 'write') throw new SyntaxError(`bad payload: ${line}`);
      const sreg = tk.reg();
      tk.expect('=>');
      const len = parseInt(tk.next(), 10);
      tk.expect('@');
      const base = indexOf(PAYLOAD_BASES, tk.next(), 'payload base');
      tk.expect('header'); tk.expect('+');
      const offset = tk.num();
      tk.expect('csum_type'); const csumType = tk.num();
      tk.expect('csum_off'); const csumOffset = tk.num();
      tk.expect('csum_flags'); const csumFlags = tk.hex();
      return { type: 'payload', base, offset, len, sreg, csumType, csumOffset, csumFlags };
    }
    case 'cmp': {
      const op = indexOf(CMP_OPS, tk.next(), 'cmp op');
      const sreg = tk.reg();
      return { type: 'cmp', sreg, op, data: wordsToBytes(tk.words()) };
    }
    case 'range': {
      const op = indexOf(RANGE_OPS, tk.next(), 'range op');
      const sreg = tk.reg();
      const w = tk.words();
      if (w.length % 2) throw new SyntaxError(`range needs two equal-length values: ${line}`);
      return { type: 'range', sreg, op, from: wordsToBytes(w.slice(0, w.length / 2)), to: wordsToBytes(w.slice(w.length / 2)) };
    }
    case 'bitwise': {
      const dreg = tk.reg();
      tk.expect('='); tk.expect('(');
      const sreg = tk.reg();
      const op = tk.next();
      if (op === '<<' || op === '>>') {
        const data = wordsToBytes(tk.words());
        tk.expect(')');
        // The shifted length is not printed; shifts in nft work on one 32-bit word.
        return { type: 'bitwise', sreg, dreg, len: 4, op: op === '<<' ? NFT_BITWISE_LSHIFT : NFT_BITWISE_RSHIFT, data };
      }
      if (op !== '&') throw new SyntaxError(`bad bitwise: ${line}`);
      const mask = wordsToBytes(tk.words());
      tk.expect(')'); tk.expect('^');
      const xor = wordsToBytes(tk.words());
      return { type: 'bitwise', sreg, dreg, len: mask.length, op: NFT_BITWISE_BOOL, mask, xor };
    }
    case 'byteorder': {
      const dreg = tk.reg();
      tk.expect('=');
      const m = /^(ntoh|hton)\(reg$/.exec(tk.next());
      if (!m) throw new SyntaxError(`bad byteorder: ${line}`);
      const sreg = parseInt(tk.next(), 10);
      const size = parseInt(tk.next(), 10);
      const len = parseInt(tk.next(), 10);
      return { type: 'byteorder', sreg, dreg, op: indexOf(BYTEORDER_OPS, m[1]!, 'byteorder op'), len, size };
    }
    case 'immediate': {
      const dreg = tk.reg();
      if (tk.peek()?.startsWith('0x') || tk.done) return { type: 'immediate', dreg, data: wordsToBytes(tk.words()) };
      return { type: 'immediate', dreg, verdict: parseVerdict(tk) };
    }
    case 'lookup': {
      const sreg = tk.reg();
      tk.expect('set');
      const set = tk.next();
      let dreg: number | undefined;
      let flags = 0;
      if (tk.peek() === 'dreg') { tk.next(); dreg = tk.num(); }
      if (!tk.done) flags = tk.hex();
      return dreg !== undefined ? { type: 'lookup', sreg, dreg, set, flags } : { type: 'lookup', sreg, set, flags };
    }
    case 'meta': {
      const form = tk.next();
      if (form === 'set') {
        const key = indexOf(META_KEY_NAMES, tk.next(), 'meta key');
        tk.expect('with');
        return { type: 'meta', key, sreg: tk.reg() };
      }
      const key = indexOf(META_KEY_NAMES, tk.next(), 'meta key');
      tk.expect('=>');
      return { type: 'meta', key, dreg: tk.reg() };
    }
    case 'ct': {
      const form = tk.next();
      let key: number;
      let e: Expr;
      const keyName = tk.next();
      // "unknown" is how libnftnl prints NFT_CT_ID (see ctKeyName in bytecode-text.ts).
      key = keyName === 'unknown' ? 23 : indexOf(CT_KEY_NAMES, keyName, 'ct key');
      if (form === 'set') { tk.expect('with'); e = { type: 'ct', key, sreg: tk.reg() }; }
      else { tk.expect('=>'); e = { type: 'ct', key, dreg: tk.reg() }; }
      if (tk.peek() === ',') {
        tk.next(); tk.expect('dir');
        e.dir = indexOf(CT_DIR_NAMES, tk.next(), 'ct direction');
      }
      return e;
    }
    case 'exthdr': return parseExthdr(tk, line);
    case 'counter': {
      tk.expect('pkts'); const packets = tk.num();
      tk.expect('bytes'); const bytes = tk.num();
      return { type: 'counter', packets, bytes };
    }
    case 'limit': {
      tk.expect('rate');
      // `rate R/UNIT` or, when the unit is a multiple, `rate R/N UNIT`.
      const m = /^(\d+)\/(\w+)$/.exec(tk.next());
      if (!m) throw new SyntaxError(`bad limit rate: ${line}`);
      let mult = 1;
      let unitName = m[2]!;
      if (/^\d+$/.test(unitName)) { mult = Number(unitName); unitName = tk.next(); }
      const idx = ['second', 'minute', 'hour', 'day', 'week'].indexOf(unitName);
      if (idx < 0) throw new SyntaxError(`bad limit unit: ${line}`);
      let unit = mult;
      for (let i = 0; i < idx; i++) unit *= LIMIT_UNITS[i]![0];
      tk.expect('burst'); const burst = tk.num();
      tk.expect('type'); const t = tk.next();
      tk.expect('flags'); const flags = tk.hex();
      const e: LimitExpr = { type: 'limit', rate: Number(m[1]), unit, burst, limitType: t === 'bytes' ? 1 : 0, flags };
      return e;
    }
    case 'quota': {
      tk.expect('bytes'); const bytes = tk.num();
      tk.expect('consumed'); const consumed = tk.num();
      tk.expect('flags'); const flags = tk.num();
      return { type: 'quota', bytes, consumed, flags };
    }
    case 'connlimit': {
      tk.expect('count'); const count = tk.num();
      tk.expect('flags'); const flags = tk.hex();
      return { type: 'connlimit', count, flags };
    }
    case 'last': {
      const v = tk.next();
      return v === 'never' ? { type: 'last', msecs: 0, set: 0 } : { type: 'last', msecs: Number(v), set: 1 };
    }
    case 'reject': {
      tk.expect('type'); const rejectType = tk.num();
      tk.expect('code'); const icmpCode = tk.num();
      return { type: 'reject', rejectType, icmpCode };
    }
    case 'nat': {
      const t = tk.next();
      const e: NatExpr = { type: 'nat', natType: t === 'snat' ? 0 : t === 'dnat' ? 1 : -1, family: familyNumber(tk.next()) };
      parseNatRegs(tk, e);
      return e;
    }
    case 'masq':
    case 'redir': {
      const e: MasqExpr = { type: name };
      parseNatRegs(tk, e);
      return e;
    }
    case 'queue': {
      const e: QueueExpr = { type: 'queue' };
      if (tk.peek() === 'num') {
        tk.next();
        const [a, b] = tk.next().split('-');
        e.num = Number(a);
        e.total = b === undefined ? 1 : Number(b) - e.num + 1;
      }
      if (tk.peek() === 'sreg_qnum') { tk.next(); e.sregQnum = tk.num(); }
      while (!tk.done) {
        const f = tk.next();
        e.flags = (e.flags ?? 0) | (f === 'bypass' ? QUEUE_FLAG_BYPASS : f === 'fanout' ? QUEUE_FLAG_FANOUT : 0);
      }
      return e;
    }
    case 'objref': {
      const f = tk.next();
      if (f === 'sreg') {
        const sreg = tk.num();
        tk.expect('set');
        return { type: 'objref', sreg, set: tk.next() };
      }
      const objType = tk.num();
      tk.expect('name');
      return { type: 'objref', objType, name: tk.next() };
    }
    case 'hash': {
      const dreg = tk.reg();
      tk.expect('=');
      const f = tk.next();
      let e: Expr;
      if (f === 'symhash()') {
        tk.expect('%'); tk.expect('mod');
        e = { type: 'hash', hashType: 1, dreg, modulus: tk.num() };
      } else {
        if (f !== 'jhash(reg') throw new SyntaxError(`bad hash: ${line}`);
        const sreg = parseInt(tk.next(), 10);
        const len = parseInt(tk.next(), 10);
        const seed = parseInt(tk.next().replace(/\)$/, ''), 16);
        tk.expect('%'); tk.expect('mod');
        e = { type: 'hash', hashType: 0, sreg, dreg, len, modulus: tk.num(), seed };
      }
      if (tk.peek() === 'offset') { tk.next(); e.offset = tk.num(); }
      return e;
    }
    case 'numgen': {
      const dreg = tk.reg();
      tk.expect('=');
      const t = tk.next();
      tk.expect('mod');
      const e: Expr = { type: 'numgen', dreg, modulus: tk.num(), ngType: t === 'inc' ? 0 : 1 };
      if (tk.peek() === 'offset') { tk.next(); e.offset = tk.num(); }
      return e;
    }
    case 'xfrm': {
      tk.expect('load');
      const dir = indexOf(XFRM_DIR_NAMES, tk.next(), 'xfrm dir');
      const spnum = tk.num();
      const key = indexOf(XFRM_KEY_NAMES, tk.next(), 'xfrm key');
      tk.expect('=>');
      return { type: 'xfrm', key, dir, spnum, dreg: tk.reg() };
    }
    case 'rt':
    case 'socket': {
      tk.expect('load');
      const key = indexOf(name === 'rt' ? RT_KEY_NAMES : SOCKET_KEY_NAMES, tk.next(), `${name} key`);
      tk.expect('=>');
      return { type: name, key, dreg: tk.reg() };
    }
    case 'osf': {
      tk.expect('dreg');
      return { type: 'osf', dreg: tk.num() };
    }
    case 'dup': {
      const e: Expr = { type: 'dup' };
      if (tk.peek() === 'sreg_addr') { tk.next(); e.sregAddr = tk.num(); }
      if (tk.peek() === 'sreg_dev') { tk.next(); e.sregDev = tk.num(); }
      return e;
    }
    case 'fwd': {
      tk.expect('sreg_dev');
      const e: Expr = { type: 'fwd', sregDev: tk.num() };
      if (tk.peek() === 'sreg_addr') { tk.next(); e.sregAddr = tk.num(); }
      if (tk.peek() === 'nfproto') { tk.next(); e.nfproto = tk.num(); }
      return e;
    }
    case 'synproxy': {
      tk.expect('mss'); const mss = tk.num();
      tk.expect('wscale'); const wscale = tk.num();
      return { type: 'synproxy', mss, wscale, flags: 0 };
    }
    case 'fib': {
      // `FLAG . FLAG RESULT[ present] => reg N`; `oif` is both a flag and a result, so the last word is the result.
      const words: string[] = [];
      while (tk.peek() !== '=>') words.push(tk.next());
      tk.next();
      let flags = 0;
      if (words[words.length - 1] === 'present') { words.pop(); flags |= NFTA_FIB_F_PRESENT; }
      const result = indexOf(FIB_RESULTS, words.pop() ?? '', 'fib result');
      for (const w of words) {
        if (w === '.') continue;
        const f = FIB_FLAG_NAMES.find(([, n]) => n === w);
        if (!f) throw new SyntaxError(`unknown fib flag '${w}': ${line}`);
        flags |= f[0];
      }
      return { type: 'fib', flags, result, dreg: tk.reg() };
    }
    case 'tproxy': {
      let family = 0;
      if (tk.peek() !== 'addr' && tk.peek() !== 'port') family = familyNumber(tk.next());
      const e: Expr = { type: 'tproxy', family };
      if (tk.peek() === 'addr') { tk.next(); e.sregAddr = tk.reg(); }
      if (tk.peek() === 'port') { tk.next(); e.sregPort = tk.reg(); }
      return e;
    }
    case 'notrack': return { type: 'notrack' };
    case 'flow_offload': {
      tk.expect('flowtable');
      return { type: 'flow_offload', table: tk.next() };
    }
    default:
      throw new SyntaxError(`unknown expression '${name}': ${line}`);
  }
}

function parseNatRegs(tk: Tokens, e: NatExpr | MasqExpr): void {
  while (!tk.done) {
    const w = tk.next();
    switch (w) {
      case 'addr_min': if (e.type === 'nat') e.sregAddrMin = tk.reg(); else throw new SyntaxError(`bad ${e.type}`); break;
      case 'addr_max': if (e.type === 'nat') e.sregAddrMax = tk.reg(); else throw new SyntaxError(`bad ${e.type}`); break;
      case 'proto_min': e.sregProtoMin = tk.reg(); break;
      case 'proto_max': e.sregProtoMax = tk.reg(); break;
      case 'flags': e.flags = tk.hex(); break;
      default: throw new SyntaxError(`unexpected '${w}' in ${e.type}`);
    }
  }
}

function parseExthdr(tk: Tokens, line: string): ExthdrExpr {
  const form = tk.next();
  const opOf = (): number => {
    const p = tk.peek();
    if (p === 'ipv6') { tk.next(); return NFT_EXTHDR_OP_IPV6; }
    if (p === 'tcpopt') { tk.next(); return NFT_EXTHDR_OP_TCPOPT; }
    if (p === 'ipv4') { tk.next(); return NFT_EXTHDR_OP_IPV4; }
    // libnftnl prints no name for sctp (and dccp); sctp is the one nft 1.0.6 emits.
    return NFT_EXTHDR_OP_SCTP;
  };
  if (form === 'load') {
    const op = opOf();
    const len = parseInt(tk.next(), 10);
    tk.expect('@');
    const exthdrType = tk.num();
    tk.expect('+');
    const offset = tk.num();
    let flags = 0;
    if (tk.peek() === 'present') { tk.next(); flags = NFT_EXTHDR_F_PRESENT; }
    tk.expect('=>');
    return { type: 'exthdr', op, exthdrType, offset, len, flags, dreg: tk.reg() };
  }
  if (form === 'write') {
    const op = opOf();
    const sreg = tk.reg();
    tk.expect('=>');
    const len = parseInt(tk.next(), 10);
    tk.expect('@');
    const exthdrType = tk.num();
    tk.expect('+');
    return { type: 'exthdr', op, exthdrType, offset: tk.num(), len, flags: 0, sreg };
  }
  if (form === 'reset') {
    tk.expect('tcpopt');
    return { type: 'exthdr', op: NFT_EXTHDR_OP_TCPOPT, exthdrType: tk.num(), offset: 0, len: 0, flags: 0 };
  }
  if (form === 'op') {
    const op = tk.num();
    tk.expect('len'); const len = tk.num();
    tk.expect('type'); const exthdrType = tk.num();
    tk.expect('offset');
    return { type: 'exthdr', op, exthdrType, offset: tk.num(), len, flags: 0 };
  }
  throw new SyntaxError(`bad exthdr: ${line}`);
}

const LOG_RE = /^(?:prefix (.*?) )?(?:group (\d+) snaplen (\d+) qthreshold (\d+) )?(?:level (\d+) )?((?:(?:tcpseq|tcpopt|ipopt|uid|macdecode) )*)$/s;
function parseLog(body: string, line: string): LogExpr {
  const m = LOG_RE.exec(body);
  if (!m) throw new SyntaxError(`bad log: ${line}`);
  const e: LogExpr = { type: 'log' };
  if (m[1] !== undefined) e.prefix = m[1];
  if (m[2] !== undefined) { e.group = Number(m[2]); e.snaplen = Number(m[3]); e.qthreshold = Number(m[4]); }
  if (m[5] !== undefined) e.level = Number(m[5]);
  if (m[6]) {
    let flags = 0;
    for (const w of m[6].trim().split(' ')) flags |= LOG_FLAG_NAMES.find(([, n]) => n === w)![0];
    e.flags = flags;
  }
  return e;
}

function parseDynset(body: string, line: string): DynsetExpr {
  // Nested `expr [ NAME BODY] ` blocks are parsed recursively; the rest is tokens.
  const exprs: Expr[] = [];
  const first = body.indexOf('expr [ ');
  const head = first < 0 ? body : body.slice(0, first);
  let tail = first < 0 ? '' : body.slice(first);
  while (tail.startsWith('expr [ ')) {
    // The nested body ends at the matching `] ` (nested bodies contain no brackets).
    const close = tail.indexOf('] ');
    if (close < 0) throw new SyntaxError(`bad dynset expr: ${line}`);
    const inner = tail.slice('expr [ '.length, close);
    const sp = inner.indexOf(' ');
    exprs.push(parseBody(inner.slice(0, sp), inner.slice(sp + 1), line));
    tail = tail.slice(close + 2);
  }
  if (tail !== '') throw new SyntaxError(`bad dynset: ${line}`);
  const tk = new Tokens(head.split(' ').filter((w) => w !== ''), line);
  const op = indexOf(DYNSET_OPS, tk.next(), 'dynset op');
  tk.expect('reg_key');
  const sregKey = tk.num();
  tk.expect('set');
  const e: DynsetExpr = { type: 'dynset', op, sregKey, set: tk.next() };
  if (tk.peek() === 'sreg_data') { tk.next(); e.sregData = tk.num(); }
  if (tk.peek() === 'timeout') {
    tk.next();
    const m = /^(\d+)ms$/.exec(tk.next());
    if (!m) throw new SyntaxError(`bad dynset timeout: ${line}`);
    e.timeout = Number(m[1]);
  }
  tk.end();
  if (exprs.length) e.exprs = exprs;
  return e;
}

