/**
 * Rule statements (parser_bison.y's stmt rules): matches, verdicts and the
 * action statements, each parsed into its AST node.
 */
import type { Expr, Loc, RelOp, RuleAst, Stmt } from './ast.js';
import { NftError } from './diagnostics.js';
import { NFT_KEYWORDS } from './keywords.js';
import { ExprParser, VERDICTS, parseTime } from './parser-expr.js';
import type { Cursor } from './tokens.js';

const REL_OPS: Record<string, RelOp> = { '==': '==', eq: '==', '!=': '!=', ne: '!=', '<': '<', lt: '<', '>': '>', gt: '>', '<=': '<=', le: '<=', '>=': '>=', ge: '>=' };

/** Statement keywords, for "did you mean" hints on a misspelt statement. */
export const STMT_KEYWORDS = [
  'accept', 'drop', 'continue', 'return', 'jump', 'goto', 'queue', 'counter', 'log', 'limit', 'quota',
  'reject', 'snat', 'dnat', 'masquerade', 'redirect', 'notrack', 'reset', 'dup', 'fwd', 'flow', 'add', 'update',
  'delete', 'synproxy', 'tproxy', 'comment', 'meta', 'ct', 'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmpv6',
  'ether', 'vlan', 'arp', 'sctp', 'dccp', 'th', 'iifname', 'oifname', 'iif', 'oif', 'mark', 'meter',
];

const NAT_FLAGS = new Set(['random', 'fully-random', 'persistent', 'netmap']);

/** The name an anonymous chain has in a batch: the kernel numbers it (`__chain0`, ...). */
export const BINDING_CHAIN = '__chain%d';

export class StmtParser {
  readonly e: ExprParser;
  constructor(readonly c: Cursor) { this.e = new ExprParser(c); }

  private span(a: Loc): Loc { return this.c.span(a, this.c.prevLoc()); }

  /** A rule: statements up to the end of the line, `;` or `}`. */
  rule(): RuleAst {
    const c = this.c;
    const start = c.peek();
    const stmts: Stmt[] = [];
    let comment: string | undefined;
    while (!c.atEnd()) {
      const s = this.stmt();
      if (s.kind === 'comment') comment = s.text;
      else stmts.push(s);
    }
    if (stmts.length === 0 && comment === undefined) throw c.unexpected();
    const end = c.prevLoc();
    const loc = c.span(start.loc, end);
    const text = c.src.slice(start.start, c.toks[c.i - 1]!.end);
    return { loc, stmts, comment, text };
  }

  stmt(): Stmt {
    const c = this.c;
    const t = c.peek();
    const w = t.kind === 'word' && !t.variable && !t.setRef ? t.text : '';
    switch (w) {
      case 'jump': case 'goto':
        if (c.isPunct('{', 1)) return this.bindingChain();
        return { kind: 'verdict', expr: this.e.verdict(), loc: t.loc };
      case 'accept': case 'drop': case 'continue': case 'return':
        return { kind: 'verdict', expr: this.e.verdict(), loc: t.loc };
      case 'counter': return this.counter();
      case 'log': return this.log();
      case 'limit': return this.limit();
      case 'quota': return this.quota();
      case 'reject': return this.reject();
      case 'snat': case 'dnat': case 'masquerade': case 'redirect': return this.nat();
      case 'notrack': c.next(); return { kind: 'notrack', loc: t.loc };
      case 'reset': {
        c.next();
        c.expectWord('tcp');
        c.expectWord('option');
        const n = c.next();
        return { kind: 'optreset', name: n.text, nameLoc: n.loc, loc: this.span(t.loc) };
      }
      case 'meter': return this.meter();
      case 'queue': return this.queue();
      case 'dup': return this.dup();
      case 'fwd': return this.fwd();
      case 'synproxy': return this.synproxy();
      case 'tproxy': return this.tproxy();
      case 'comment': { c.next(); const s = c.expectName(); return { kind: 'comment', text: s.text, loc: this.span(t.loc) }; }
      case 'flow': {
        c.next();
        if (!c.acceptWord('add')) c.expectWord('offload');
        const ref = c.next();
        if (!ref.setRef) throw c.unexpected('set reference', ref);
        return { kind: 'flow_offload', table: c.setRefName(ref), loc: this.span(t.loc) };
      }
      case 'add': case 'update': case 'delete':
        if (c.peek(1).setRef) return this.dynset();
        break;
      case 'ct':
        if (c.isWord('count', 1) || (c.isWord('count', 2) && c.isWord('over', 1))) return this.connlimit();
        break;
    }
    return this.match();
  }

  private match(): Stmt {
    const c = this.c;
    const start = c.peek().loc;
    const left = this.e.expr();
    if (c.acceptWord('set')) {
      let value = this.e.expr();
      if (c.isPunct(',')) {
        const items = [value];
        while (c.acceptPunct(',')) items.push(this.e.concat(true));
        value = { kind: 'list', items, loc: this.span(value.loc) };
      }
      return { kind: 'field_set', target: left, value, loc: this.span(start) };
    }
    if (c.acceptWord('vmap')) {
      const map = this.e.setOrRef();
      const m: Expr = { kind: 'map', key: left, map, loc: this.span(start) };
      return { kind: 'verdict', expr: m, loc: this.span(start) };
    }
    if (left.kind === 'symbol' || left.kind === 'range' || left.kind === 'prefix') {
      // A statement keyword (misspelt or not) where a statement must start.
      throw new NftError('UNEXPECTED', [left.kind === 'symbol' && !left.quoted ? left.text : 'string'], left.loc, [], nearestStmt(left));
    }
    let op: RelOp = 'implicit';
    const t = c.peek();
    if (t.kind === 'punct' && t.text === '!' ) {
      // expr_evaluate_relational: `!` tests flags of a plain field, not of a masked one.
      if (left.kind === 'binop') throw new NftError('GENERIC', ['cannot combine negation with binary expression'], left.loc);
      c.next(); op = '!';
    }
    else
    if ((t.kind === 'punct' || t.kind === 'word') && !t.variable && !t.setRef && REL_OPS[t.text] !== undefined) {
      op = REL_OPS[t.text]!;
      c.next();
    }
    if (c.atEnd()) throw c.unexpected();
    const right = this.e.rhs();
    return { kind: 'match', left, op, right, loc: this.span(start) };
  }

  private counter(): Stmt {
    const c = this.c;
    const t = c.next();
    if (c.acceptWord('name')) return { kind: 'objref', objType: 'counter', expr: this.e.expr(), loc: this.span(t.loc) };
    let packets: number | undefined;
    let bytes: number | undefined;
    for (let i = 0; i < 2; i++) {
      if (c.acceptWord('packets')) packets = c.expectNumber();
      else if (c.acceptWord('bytes')) bytes = c.expectNumber();
    }
    return { kind: 'counter', packets, bytes, loc: this.span(t.loc) };
  }

  private log(): Stmt {
    const c = this.c;
    const t = c.next();
    const s: Stmt & { kind: 'log' } = { kind: 'log', flags: [], loc: t.loc };
    for (;;) {
      if (c.acceptWord('prefix')) s.prefix = c.expectName().text;
      else if (c.acceptWord('group')) s.group = c.expectNumber();
      else if (c.acceptWord('snaplen')) s.snaplen = c.expectNumber();
      else if (c.acceptWord('queue-threshold')) s.qthreshold = c.expectNumber();
      else if (c.acceptWord('level')) s.level = c.expectName().text;
      else if (c.acceptWord('flags')) {
        if (c.acceptWord('all')) s.flags.push('all');
        else if (c.acceptWord('tcp')) { do { s.flags.push('tcp ' + c.expectName().text); } while (c.acceptPunct(',')); }
        else if (c.acceptWord('ip')) { c.expectWord('options'); s.flags.push('ip options'); }
        else if (c.acceptWord('skuid')) s.flags.push('skuid');
        else if (c.acceptWord('ether')) s.flags.push('ether');
        else throw c.unexpected();
      } else break;
    }
    s.loc = this.span(t.loc);
    return s;
  }

  private limit(): Stmt {
    const c = this.c;
    const t = c.next();
    if (c.acceptWord('name')) return { kind: 'objref', objType: 'limit', expr: this.e.expr(), loc: this.span(t.loc) };
    c.expectWord('rate');
    const over = !!c.acceptWord('over');
    c.acceptWord('until');
    const rateLoc = c.peek().loc;
    const rate = c.expectNumber();
    let bytes = false;
    let unit: string;
    // `400/minute`, `1 kbytes/second`, `1 kbytes / second`
    if (c.acceptPunct('/')) unit = this.timeUnit();
    else {
      const u = c.expectName().text;
      bytes = true;
      if (u.includes('/')) unit = u;
      else { c.expectPunct('/'); unit = `${u}/${this.timeUnit()}`; }
      // data_unit_parse() of nft 1.0.6 knows bytes, kbytes and mbytes, by prefix.
      const slash = unit.indexOf('/');
      const du = dataUnit(unit.slice(0, slash));
      if (!du) throw new NftError('GENERIC', ['Wrong rate format'], this.span(rateLoc));
      unit = du + unit.slice(slash);
    }
    let burst: number | undefined;
    let burstUnit: string | undefined;
    if (c.acceptWord('burst')) {
      const burstLoc = c.peek().loc;
      burst = c.expectNumber();
      burstUnit = c.expectName().text;
      if (bytes) {
        const du = dataUnit(burstUnit);
        if (!du) throw new NftError('GENERIC', ['Wrong rate format'], this.span(burstLoc));
        burstUnit = du;
      }
    }
    return { kind: 'limit', over, rate, unit, bytes, burst, burstUnit, loc: this.span(t.loc) };
  }

  private quota(): Stmt {
    const c = this.c;
    const t = c.next();
    if (c.acceptWord('name')) return { kind: 'objref', objType: 'quota', expr: this.e.expr(), loc: this.span(t.loc) };
    const over = !!c.acceptWord('over');
    c.acceptWord('until');
    const n = c.expectNumber();
    const unit = this.quotaUnit();
    let usedN: number | undefined, usedUnit = 'bytes';
    if (c.acceptWord('used')) { usedN = c.expectNumber(); usedUnit = this.quotaUnit(); }
    const loc = this.span(t.loc);
    // quota_stmt's action runs data_unit_parse() once the whole statement is read: its error marks all of it.
    const u = dataUnit(unit), uu = dataUnit(usedUnit);
    if (!u || !uu) throw new NftError('GENERIC', ['Wrong rate format'], loc);
    return { kind: 'quota', over, bytes: n * unitBytes(u), used: usedN === undefined ? undefined : usedN * unitBytes(uu), loc };
  }

  /** parser_bison.y `time_unit`: the keywords second, minute, hour, day, week; a string there is a syntax error. */
  private timeUnit(): string {
    const t = this.c.peek();
    if (t.kind === 'word' && /^(second|minute|hour|day|week)$/.test(t.text)) return this.c.next().text;
    throw this.c.unexpected();
  }

  /** parser_bison.y `quota_unit: BYTES | STRING`: any other keyword is a syntax error. */
  private quotaUnit(): string {
    const t = this.c.peek();
    if (t.kind === 'word' && !t.setRef && !t.variable && (t.text === 'bytes' || !NFT_KEYWORDS.has(t.text))) return this.c.next().text;
    throw this.c.unexpected('string or bytes');
  }

  private reject(): Stmt {
    const c = this.c;
    const t = c.next();
    if (!c.acceptWord('with')) return { kind: 'reject', loc: t.loc };
    const fam = c.expectName().text;
    if (fam === 'tcp') { c.expectWord('reset'); return { kind: 'reject', with: { family: 'tcp' }, loc: this.span(t.loc) }; }
    if (fam !== 'icmp' && fam !== 'icmpv6' && fam !== 'icmpx') throw c.unexpected(undefined, c.toks[c.i - 1]);
    c.acceptWord('type');
    const code = this.e.primary(true);
    return { kind: 'reject', with: { family: fam, code }, loc: this.span(t.loc) };
  }

  private natFlags(): string[] {
    const c = this.c;
    const flags: string[] = [];
    while (c.peek().kind === 'word' && NAT_FLAGS.has(c.peek().text)) {
      flags.push(c.next().text);
      if (!c.acceptPunct(',')) break;
    }
    return flags;
  }

  private nat(): Stmt {
    const c = this.c;
    const t = c.next();
    const type = t.text as 'snat' | 'dnat' | 'masquerade' | 'redirect';
    let family: 'ip' | 'ip6' | undefined;
    let prefix = false;
    if (type === 'snat' || type === 'dnat') {
      if ((c.isWord('ip') || c.isWord('ip6')) && (c.isWord('to', 1) || c.isWord('prefix', 1) || c.isWord('addr', 1))) family = c.next().text as 'ip' | 'ip6';
      if (c.acceptWord('prefix')) prefix = true;
    }
    let addr: Expr | undefined;
    let port: Expr | undefined;
    if (c.acceptWord('to')) {
      if (c.isPunct('[')) {
        // `[2001:db8::1]-[2001:db8::2]:80`: brackets keep the port apart from the address.
        const lo = this.e.primary(true);
        addr = lo;
        if (c.acceptPunct('-')) {
          const hi = this.e.primary(true);
          addr = { kind: 'range', low: lo, high: hi, loc: this.span(lo.loc) };
        } else if (c.isPunct('/') && c.peek(1).kind === 'number') {
          c.next();
          addr = { kind: 'prefix', expr: lo, plen: c.expectNumber(), loc: this.span(lo.loc) };
        }
      } else if (!c.isPunct(':')) addr = this.e.expr();
      if (c.acceptPunct(':')) port = this.e.expr();
    }
    const flags = this.natFlags();
    return { kind: 'nat', type, family, addr, port, flags, prefix, loc: this.span(t.loc) };
  }

  private queue(): Stmt {
    const c = this.c;
    const t = c.next();
    const flags: string[] = [];
    let num: Expr | undefined;
    for (;;) {
      if (c.acceptWord('num')) num = this.e.primary(true);
      else if (c.acceptWord('to')) num = this.e.expr();
      else if (c.acceptWord('flags')) { do { flags.push(c.expectName().text); } while (c.acceptPunct(',')); }
      else if (c.isWord('bypass') || c.isWord('fanout')) { flags.push(c.next().text); c.acceptPunct(','); }
      else break;
    }
    return { kind: 'queue', num, flags, loc: this.span(t.loc) };
  }

  private dup(): Stmt {
    const c = this.c;
    const t = c.next();
    let family: 'ip' | 'ip6' | undefined;
    if (c.isWord('ip') || c.isWord('ip6')) family = c.next().text as 'ip' | 'ip6';
    c.expectWord('to');
    const addr = this.e.expr();
    let dev: Expr | undefined;
    if (c.acceptWord('device')) dev = this.e.expr();
    return { kind: 'dup', addr, dev, family, loc: this.span(t.loc) };
  }

  private fwd(): Stmt {
    const c = this.c;
    const t = c.next();
    let family: 'ip' | 'ip6' | undefined;
    if (c.isWord('ip') || c.isWord('ip6')) family = c.next().text as 'ip' | 'ip6';
    c.expectWord('to');
    const first = this.e.expr();
    if (c.acceptWord('device')) return { kind: 'fwd', addr: first, dev: this.e.expr(), family, loc: this.span(t.loc) };
    return { kind: 'fwd', dev: first, family, loc: this.span(t.loc) };
  }

  private synproxy(): Stmt {
    const c = this.c;
    const t = c.next();
    if (c.acceptWord('name')) return { kind: 'objref', objType: 'synproxy', expr: this.e.expr(), loc: this.span(t.loc) };
    const s: Stmt & { kind: 'synproxy' } = { kind: 'synproxy', flags: [], loc: t.loc };
    for (;;) {
      if (c.acceptWord('mss')) s.mss = c.expectNumber();
      else if (c.acceptWord('wscale')) s.wscale = c.expectNumber();
      else if (c.isWord('timestamp') || c.isWord('sack-perm')) s.flags.push(c.next().text);
      else break;
    }
    s.loc = this.span(t.loc);
    return s;
  }

  private tproxy(): Stmt {
    const c = this.c;
    const t = c.next();
    let family: 'ip' | 'ip6' | undefined;
    if (c.isWord('ip') || c.isWord('ip6')) family = c.next().text as 'ip' | 'ip6';
    c.expectWord('to');
    let addr: Expr | undefined;
    let port: Expr | undefined;
    if (!c.isPunct(':')) addr = this.e.primary(true);
    if (c.acceptPunct(':')) port = this.e.primary(true);
    return { kind: 'tproxy', family, addr, port, loc: this.span(t.loc) };
  }

  private connlimit(): Stmt {
    const c = this.c;
    const t = c.next();
    c.expectWord('count');
    const over = !!c.acceptWord('over');
    const count = c.expectNumber();
    return { kind: 'connlimit', over, count, loc: this.span(t.loc) };
  }

  /**
   * parser_bison.y meter_stmt_alloc: `meter NAME [size N] { KEY [timeout T] STMT }`, one
   * statement; evaluate.c turns it into an update of an implicitly declared set.
   */
  private meter(): Stmt {
    const c = this.c;
    const t = c.next();
    const set = c.expectIdentifier().text;
    let size: number | undefined;
    if (c.acceptWord('size')) size = c.expectNumber();
    c.expectPunct('{');
    const key = this.e.concat(false);
    let timeout: number | undefined;
    if (c.acceptWord('timeout')) timeout = parseTime(c.next().text);
    const stmts: Stmt[] = [this.stmt()];
    c.expectPunct('}');
    // netlink_gen_meter_stmt: elements that time out are refreshed (update), others added.
    return { kind: 'dynset', op: timeout !== undefined ? 'update' : 'add', set, key, timeout, stmts, meter: { size }, loc: this.span(t.loc) };
  }

  /**
   * parser_bison.y chain_stmt: `jump|goto { RULE; ... }`, an anonymous chain bound to the
   * rule (NFT_CHAIN_BINDING); as in any chain block each rule ends with a separator.
   */
  private bindingChain(): Stmt {
    const c = this.c;
    const t = c.next();
    c.expectPunct('{');
    const block: RuleAst[] = [];
    for (;;) {
      while (c.peek().kind === 'newline' || c.isPunct(';')) c.next();
      if (c.isPunct('}')) break;
      block.push(this.rule());
      if (c.peek().kind !== 'newline' && !c.isPunct(';')) throw c.unexpected('newline or semicolon');
    }
    c.expectPunct('}');
    const loc = this.span(t.loc);
    return { kind: 'verdict', expr: { kind: 'verdict', verdict: t.text, chain: BINDING_CHAIN, loc }, block, loc };
  }

  private dynset(): Stmt {
    const c = this.c;
    const t = c.next();
    const ref = c.next();
    const set = c.setRefName(ref);
    c.expectPunct('{');
    const key = this.e.concat(false);
    let timeout: number | undefined;
    if (c.acceptWord('timeout')) timeout = parseTime(c.next().text);
    const stmts: Stmt[] = [];
    while (!c.isPunct('}') && !c.isPunct(':')) stmts.push(this.stmt());
    let data: Expr | undefined;
    if (c.acceptPunct(':')) data = this.e.concat(false);
    c.expectPunct('}');
    return { kind: 'dynset', op: t.text as 'add', set, key, data, timeout, stmts, loc: this.span(t.loc) };
  }
}

/**
 * data_unit_parse() of nft 1.0.6: a prefix match (strncmp) on bytes, kbytes and
 * mbytes, so `kbytesx` reads as kbytes; anything else is no unit.
 */
export function dataUnit(word: string): 'bytes' | 'kbytes' | 'mbytes' | undefined {
  for (const u of ['bytes', 'kbytes', 'mbytes'] as const) if (word.startsWith(u)) return u;
  return undefined;
}

/** Bytes in a unit name; the parser has already checked it with dataUnit(). */
export function unitBytes(u: string): number {
  switch (u) {
    case 'bytes': return 1;
    case 'kbytes': return 1024;
    case 'mbytes': return 1024 * 1024;
    case 'gbytes': return 1024 * 1024 * 1024;
    default: throw new NftError('GENERIC', [`wrong unit ${u}`], undefined);
  }
}

function nearestStmt(left: Expr): string | undefined {
  if (left.kind !== 'symbol' || left.quoted) return undefined;
  let best: string | undefined;
  let bestD = 3;
  for (const k of STMT_KEYWORDS) {
    const d = editDist(left.text, k);
    if (d < bestD && d < left.text.length) { bestD = d; best = k; }
  }
  return best;
}

function editDist(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return dp[a.length]![b.length]!;
}

export { VERDICTS };
