/**
 * Rule expressions (parser_bison.y's primary_expr, rhs_expr, set_expr,
 * concat and binop levels). Words are not reserved: a protocol name is a
 * payload expression only when a field of it follows, otherwise a symbol.
 */
import type { Expr, Loc, SymbolExpr } from './ast.js';
import { CT_KEYS, META_KEYS, META_UNQUALIFIED, PROTOCOLS } from './proto.js';
import type { Cursor } from './tokens.js';
import { NftError, nearest } from './diagnostics.js';

export const VERDICTS = new Set(['accept', 'drop', 'continue', 'return', 'jump', 'goto', 'queue']);
/** IPv6 extension headers nft matches with `exthdr` (src/exthdr.c). */
export const IP6_EXTHDRS: Record<string, string[]> = {
  hbh: ['nexthdr', 'hdrlength'],
  rt: ['nexthdr', 'hdrlength', 'type', 'seg-left'],
  rt0: ['addr'],
  rt2: ['addr'],
  srh: ['last-entry', 'flags', 'tag'],
  frag: ['nexthdr', 'reserved', 'frag-off', 'reserved2', 'more-fragments', 'id'],
  dst: ['nexthdr', 'hdrlength'],
  mh: ['nexthdr', 'hdrlength', 'type', 'reserved', 'checksum'],
};

type BinOp = '&' | '|' | '^' | '<<' | '>>';
/** Word spellings of the operators (scanner.l: and, or, xor, lshift, rshift). */
const WORD_OPS: Record<string, BinOp> = { and: '&', or: '|', xor: '^', lshift: '<<', rshift: '>>' };

export class ExprParser {
  constructor(readonly c: Cursor) {}

  private span(a: Loc): Loc { return this.c.span(a, this.c.prevLoc()); }

  /** A full expression: concatenation of binops, with an optional `map`. */
  expr(rhs = false): Expr {
    const start = this.c.peek().loc;
    let e = this.concat(rhs);
    if (!rhs && this.c.isWord('map')) {
      this.c.next();
      const map = this.setOrRef();
      e = { kind: 'map', key: e, map, loc: this.span(start) };
    }
    return e;
  }

  concat(rhs: boolean): Expr {
    const start = this.c.peek().loc;
    const first = this.binop(rhs, 0);
    if (!this.c.isPunct('.')) return first;
    const parts = [first];
    while (this.c.acceptPunct('.')) parts.push(this.binop(rhs, 0));
    return { kind: 'concat', parts, loc: this.span(start) };
  }

  // Precedence, lowest first, as parser_bison.y: | ^ & << >>
  private static LEVELS: BinOp[][] = [['|'], ['^'], ['&'], ['<<', '>>']];

  binop(rhs: boolean, level: number): Expr {
    if (level >= ExprParser.LEVELS.length) return this.primary(rhs);
    const start = this.c.peek().loc;
    let left = this.binop(rhs, level + 1);
    for (;;) {
      const t = this.c.peek();
      const ops = ExprParser.LEVELS[level]!;
      const word = t.kind === 'word' && !t.variable && !t.setRef ? WORD_OPS[t.text] : undefined;
      if ((t.kind === 'punct' && (ops as string[]).includes(t.text)) || (word !== undefined && ops.includes(word))) {
        this.c.next();
        const right = this.binop(rhs, level + 1);
        left = { kind: 'binop', op: word ?? (t.text as BinOp), left, right, loc: this.span(start) };
      } else return left;
    }
  }

  /** rhs of a relation: a comma list of flag values, optionally `/ mask`. */
  rhs(): Expr {
    const start = this.c.peek().loc;
    let e = this.list();
    if (this.c.isPunct('/') ) {
      this.c.next();
      const mask = this.list();
      e = { kind: 'binop', op: '&', left: e, right: mask, loc: this.span(start), masked: true };
    }
    return e;
  }

  private list(): Expr {
    const start = this.c.peek().loc;
    const first = this.concat(true);
    if (!this.c.isPunct(',')) return first;
    const items = [first];
    while (this.c.acceptPunct(',')) items.push(this.concat(true));
    return { kind: 'list', items, loc: this.span(start) };
  }

  setOrRef(): Expr {
    const t = this.c.peek();
    if (t.kind === 'word' && t.setRef) { this.c.next(); return { kind: 'setref', name: this.c.setRefName(t), loc: t.loc }; }
    if (t.kind === 'word' && t.variable) { this.c.next(); return { kind: 'variable', name: t.text, loc: t.loc }; }
    if (this.c.isPunct('{')) return this.setLiteral();
    throw this.c.unexpected("'{'");
  }

  private skipNewlines(): void { while (this.c.peek().kind === 'newline') this.c.next(); }

  setLiteral(): Expr {
    const open = this.c.expectPunct('{');
    const elems: Expr[] = [];
    this.skipNewlines();
    while (!this.c.isPunct('}')) {
      elems.push(this.setElem());
      this.skipNewlines();
      if (!this.c.acceptPunct(',')) { this.skipNewlines(); break; }
      this.skipNewlines();
    }
    this.c.expectPunct('}');
    return { kind: 'set', elems, loc: this.span(open.loc) };
  }

  setElem(): Expr {
    const start = this.c.peek().loc;
    let key: Expr;
    if (this.c.isPunct('*')) { const t = this.c.next(); key = { kind: 'wildcard', loc: t.loc }; }
    else key = this.concat(true);
    // `{ 22:8000 }` scans as one classid-like word; in a set it is key : value.
    if (key.kind === 'symbol' && !key.quoted && /^\d+:\d+$/.test(key.text) && !this.c.isPunct(':')) {
      const [k, v] = key.text.split(':');
      return { kind: 'mapping', key: { ...key, text: k! }, value: { ...key, text: v! }, loc: key.loc };
    }
    let e: Expr = key;
    const opts: { timeout?: number; expires?: number; comment?: string } = {};
    let any = false;
    for (;;) {
      if (this.c.isWord('timeout')) { this.c.next(); opts.timeout = parseTime(this.c.next().text); any = true; }
      else if (this.c.isWord('expires')) { this.c.next(); opts.expires = parseTime(this.c.next().text); any = true; }
      else if (this.c.isWord('comment')) { this.c.next(); opts.comment = this.c.next().text; any = true; }
      else if (this.c.isWord('counter')) {
        // Per-element counters in a set declaration: `1.2.3.4 counter packets 0 bytes 0`.
        this.c.next();
        for (let i = 0; i < 2; i++) if (this.c.isWord('packets') || this.c.isWord('bytes')) { this.c.next(); this.c.next(); }
        any = true;
      } else break;
    }
    if (any) e = { kind: 'elem', key, ...opts, loc: this.span(start) };
    if (this.c.acceptPunct(':')) {
      const value = this.mapValue();
      e = { kind: 'mapping', key: e, value, loc: this.span(start) };
    }
    return e;
  }

  mapValue(): Expr {
    const t = this.c.peek();
    if (t.kind === 'word' && !t.variable && VERDICTS.has(t.text)) return this.verdict();
    return this.concat(true);
  }

  verdict(): Expr {
    const t = this.c.next();
    if (t.text === 'jump' || t.text === 'goto') {
      const chain = this.c.expectIdentifier();
      return { kind: 'verdict', verdict: t.text, chain: chain.text, loc: this.c.span(t.loc, chain.loc) };
    }
    return { kind: 'verdict', verdict: t.text, loc: t.loc };
  }

  private symbol(rhs: boolean): Expr {
    const t = this.c.peek();
    if (t.kind === 'eof' || t.kind === 'newline' || t.kind === 'punct') throw this.c.unexpected();
    this.c.next();
    let e: Expr = { kind: 'symbol', text: t.text, quoted: t.kind === 'string', loc: t.loc } satisfies SymbolExpr;
    // A range `low-high` or a prefix `addr/len` binds to the value itself.
    if (this.c.isPunct('-')) {
      this.c.next();
      const hi = this.c.next();
      e = { kind: 'range', low: e, high: { kind: 'symbol', text: hi.text, quoted: hi.kind === 'string', loc: hi.loc }, loc: this.c.span(t.loc, hi.loc) };
    } else if (this.c.isPunct('/') && this.c.peek(1).kind === 'number' && !rhsFlagContext(t.text)) {
      this.c.next();
      const n = this.c.next();
      e = { kind: 'prefix', expr: e, plen: Number(n.text), loc: this.c.span(t.loc, n.loc) };
    }
    void rhs;
    return e;
  }

  primary(rhs: boolean): Expr {
    const c = this.c;
    const t = c.peek();
    if (t.kind === 'punct') {
      if (t.text === '{') return this.setLiteral();
      if (t.text === '(') { c.next(); const e = this.expr(rhs); c.expectPunct(')'); return e; }
      if (t.text === '*') { c.next(); return { kind: 'wildcard', loc: t.loc }; }
      if (t.text === '[') {
        // `[ipv6]` bracket form, used before a `:port`.
        c.next();
        const e = this.symbol(rhs);
        c.expectPunct(']');
        return e;
      }
      throw c.unexpected();
    }
    if (t.kind === 'word' && t.variable) { c.next(); return { kind: 'variable', name: t.text, loc: t.loc }; }
    if (t.kind === 'word' && t.setRef) {
      if (['ll', 'nh', 'th', 'ih'].includes(t.text) && c.isPunct(',', 1)) return this.rawPayload();
      c.next();
      return { kind: 'setref', name: c.setRefName(t), loc: t.loc };
    }
    if (t.kind !== 'word' || rhs) return this.symbol(rhs);
    return this.keywordExpr() ?? this.symbol(rhs);
  }

  private rawPayload(): Expr {
    const c = this.c;
    const t = c.next();
    c.expectPunct(',');
    const off = c.expectNumber();
    c.expectPunct(',');
    const len = c.expectNumber();
    const base = { ll: 0, nh: 1, th: 2, ih: 3 }[t.text]!;
    return { kind: 'payload', proto: '@' + t.text, field: `${off},${len}`, raw: { base, offset: off, len }, loc: this.span(t.loc) };
  }

  /** Protocol, meta, ct, ... expressions; undefined when the word is just a value. */
  private keywordExpr(): Expr | undefined {
    const c = this.c;
    const t = c.peek();
    const w = t.text;
    const next = c.peek(1);
    const nextWord = next.kind === 'word' && !next.setRef && !next.variable ? next.text : undefined;
    const proto = PROTOCOLS[w];
    if (proto && nextWord !== undefined) {
      if (w === 'arp' && (nextWord === 'saddr' || nextWord === 'daddr')) {
        const kind = c.peek(2).text;
        if (kind === 'ether' || kind === 'ip') { c.next(); c.next(); c.next(); return { kind: 'payload', proto: 'arp', field: `${nextWord} ${kind}`, loc: this.span(t.loc) }; }
      }
      if (w === 'tcp' && nextWord === 'option') return this.tcpOption();
      if (w === 'sctp' && nextWord === 'chunk') return this.sctpChunk();
      if (w === 'ip' && nextWord === 'option') return this.ipOption();
      if (nextWord in proto.fields) { c.next(); c.next(); return { kind: 'payload', proto: w, field: nextWord, loc: this.span(t.loc) }; }
      // `tcp dportt 22`: a misspelt field, not a value.
      const hint = nearest(nextWord, Object.keys(proto.fields));
      if (hint) throw new NftError('UNEXPECTED', [nextWord], next.loc, [t.loc], hint);
    }
    if ((w === 'srh' && nextWord === 'sid') || (w === 'rt0' && nextWord === 'addr')) {
      // parser_bison.y rt4_hdr_field `SID '[' NUM ']'` / rt0_hdr_field `ADDR '[' NUM ']'`:
      // template SID_1 (ADDR_1) + NUM - 1, so index 0 is the field before the list.
      c.next(); c.next();
      c.expectPunct('[');
      const n = c.expectNumber();
      c.expectPunct(']');
      const field = n === 0 ? (w === 'srh' ? 'tag' : 'reserved') : `${nextWord}[${n}]`;
      return { kind: 'exthdr', op: 'ipv6', hdr: w, field, loc: this.span(t.loc) };
    }
    if (w in IP6_EXTHDRS && nextWord !== undefined && IP6_EXTHDRS[w]!.includes(nextWord)) {
      c.next(); c.next();
      return { kind: 'exthdr', op: 'ipv6', hdr: w, field: nextWord, loc: this.span(t.loc) };
    }
    if (w === 'exthdr' && nextWord !== undefined && nextWord in IP6_EXTHDRS) {
      c.next(); c.next();
      // `exthdr hbh exists`, `exthdr hbh == missing`, `exthdr hbh 1`: presence, not a field.
      if (!(c.peek().kind === 'word' && IP6_EXTHDRS[nextWord]!.includes(c.peek().text))) {
        return { kind: 'exthdr', op: 'ipv6', hdr: nextWord, field: '', present: true, loc: this.span(t.loc) };
      }
      const f = c.expectName();
      return { kind: 'exthdr', op: 'ipv6', hdr: nextWord, field: f.text, loc: this.span(t.loc) };
    }
    if (w === 'meta' && nextWord !== undefined && nextWord in META_KEYS) {
      c.next(); c.next();
      return { kind: 'meta', key: nextWord, loc: this.span(t.loc) };
    }
    if (w === 'ipsec' && (nextWord === 'in' || nextWord === 'out')) {
      c.next(); c.next();
      let spnum = 0;
      if (c.acceptWord('spnum')) spnum = c.expectNumber();
      let family: 'ip' | 'ip6' | undefined;
      if (c.isWord('ip') || c.isWord('ip6')) family = c.next().text as 'ip' | 'ip6';
      const key = c.expectName().text;
      return { kind: 'ipsec', dir: nextWord, spnum, key, family, loc: this.span(t.loc) };
    }
    if (META_UNQUALIFIED.has(w)) { c.next(); return { kind: 'meta', key: w, loc: t.loc }; }
    if (w === 'ct' && nextWord !== undefined) return this.ct();
    if (w === 'rt' && nextWord !== undefined) {
      c.next();
      let family: 'ip' | 'ip6' | undefined;
      if (c.isWord('ip') || c.isWord('ip6')) family = c.next().text as 'ip' | 'ip6';
      const key = c.expectName().text;
      return { kind: 'rt', key, family, loc: this.span(t.loc) };
    }
    if (w === 'fib' && nextWord !== undefined) {
      c.next();
      const flags: string[] = [];
      do { flags.push(c.expectName().text); } while (c.acceptPunct('.'));
      const result = c.expectName().text;
      return { kind: 'fib', flags, result, loc: this.span(t.loc) };
    }
    if (w === 'socket' && nextWord !== undefined) {
      c.next();
      const key = c.next().text;
      let level: number | undefined;
      if (key === 'cgroupv2') { c.expectWord('level'); level = c.expectNumber(); }
      return { kind: 'socket', key, level, loc: this.span(t.loc) };
    }
    if (w === 'osf' && nextWord !== undefined) {
      c.next();
      let ttl: string | undefined;
      if (c.acceptWord('ttl')) {
        const v = c.next();
        // parser_bison.y osf_ttl: only `loose` (NF_OSF_TTL_LESS) and `skip` (NF_OSF_TTL_NOCHECK).
        if (v.text !== 'loose' && v.text !== 'skip') throw new NftError('GENERIC', ['invalid ttl option'], v.loc);
        ttl = v.text;
      }
      const key = c.next().text;
      return { kind: 'osf', key, ttl, loc: this.span(t.loc) };
    }
    if ((w === 'jhash' || w === 'symhash') ) {
      c.next();
      const expr = w === 'jhash' ? this.concat(false) : undefined;
      c.expectWord('mod');
      const modulus = c.expectNumber();
      let seed: number | undefined;
      let offset: number | undefined;
      if (c.acceptWord('seed')) seed = c.expectNumber();
      if (c.acceptWord('offset')) offset = c.expectNumber();
      return { kind: 'hash', hashType: w, expr, modulus, seed, offset, loc: this.span(t.loc) };
    }
    if (w === 'numgen' && (nextWord === 'inc' || nextWord === 'random')) {
      c.next(); c.next();
      c.expectWord('mod');
      const modulus = c.expectNumber();
      let offset: number | undefined;
      if (c.acceptWord('offset')) offset = c.expectNumber();
      return { kind: 'numgen', mode: nextWord, modulus, offset, loc: this.span(t.loc) };
    }
    return undefined;
  }

  private ct(): Expr {
    const c = this.c;
    const t = c.next();
    let dir: 'original' | 'reply' | undefined;
    if (c.isWord('original') || c.isWord('reply')) dir = c.next().text as 'original' | 'reply';
    let key = c.expectName().text;
    // `ct original ip saddr`: the address family is explicit.
    if ((key === 'ip' || key === 'ip6') && (c.isWord('saddr') || c.isWord('daddr'))) key = `${key} ${c.next().text}`;
    if (!(key in CT_KEYS) && !/^ip6? [sd]addr$/.test(key) && !['count', 'helper', 'timeout', 'expectation', 'l3proto'].includes(key)) {
      c.i--;
      throw c.unexpected();
    }
    return { kind: 'ct', key, dir, loc: this.span(t.loc) };
  }

  private tcpOption(): Expr {
    const c = this.c;
    const t = c.next();
    c.next();
    if (c.isPunct('@')) {
      // `tcp option @kind,offset,length`: raw bits of any option (tcp_hdr_option_type).
      c.next();
      const kind = c.expectNumber();
      c.expectPunct(',');
      const off = c.expectNumber();
      c.expectPunct(',');
      const len = c.expectNumber();
      return { kind: 'exthdr', op: 'tcpopt', hdr: String(kind), field: `@${off},${len}`, loc: this.span(t.loc) };
    }
    const name = c.expectName().text;
    if (c.isWord('exists') || c.isWord('missing')) return { kind: 'exthdr', op: 'tcpopt', hdr: name, field: '', present: true, loc: this.span(t.loc) };
    let field = '';
    if (c.peek().kind === 'word' && !c.atEnd() && TCPOPT_FIELDS.has(c.peek().text)) field = c.next().text;
    else if (c.peek().kind === 'punct' && c.isPunct('@')) {
      // `tcp option @kind,offset,len`: raw option bytes.
      c.next();
      field = `@${c.expectNumber()},${(c.expectPunct(','), c.expectNumber())}`;
    }
    return { kind: 'exthdr', op: 'tcpopt', hdr: name, field, loc: this.span(t.loc) };
  }

  private sctpChunk(): Expr {
    const c = this.c;
    const t = c.next();
    c.next();
    const name = c.expectName().text;
    if (c.isWord('exists') || c.isWord('missing')) return { kind: 'exthdr', op: 'sctp', hdr: name, field: '', present: true, loc: this.span(t.loc) };
    const field = c.expectName().text;
    return { kind: 'exthdr', op: 'sctp', hdr: name, field, loc: this.span(t.loc) };
  }

  private ipOption(): Expr {
    const c = this.c;
    const t = c.next();
    c.next();
    const name = c.expectName().text;
    if (c.isWord('exists') || c.isWord('missing')) return { kind: 'exthdr', op: 'ipv4', hdr: name, field: '', present: true, loc: this.span(t.loc) };
    const field = c.expectName().text;
    return { kind: 'exthdr', op: 'ipv4', hdr: name, field, loc: this.span(t.loc) };
  }
}

export const TCPOPT_FIELDS = new Set(['kind', 'length', 'size', 'count', 'left', 'right', 'tsval', 'tsecr', 'value', 'subtype']);

/** Flag words such as `syn` before `/` mean a mask, not a prefix. */
function rhsFlagContext(text: string): boolean {
  return /^[a-z]/.test(text) && !text.includes(':');
}

/** nft time strings: `1d2h3m4s5ms`, or plain seconds. Returns milliseconds. */
export function parseTime(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const re = /(\d+)(ms|d|h|m|s)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(text))) {
    const n = Number(m[1]);
    total += n * { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2] as 'ms']!;
    pos = re.lastIndex;
  }
  if (pos !== text.length || pos === 0) return NaN;
  return total;
}
