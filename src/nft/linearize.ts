/**
 * Linearization (nftables src/netlink_linearize.c): an evaluated rule
 * becomes kernel bytecode. Registers are allocated as nft does: every
 * statement starts again at reg 1; a concatenation takes consecutive 32-bit
 * registers; a second operand of a statement takes the next 128-bit one.
 */
import * as B from '../netfilter/bytecode.js';
import type { Expr, MatchStmt, RuleAst, Stmt } from './ast.js';
import { NftError } from './diagnostics.js';
import { type Dep, type EvalEnv, type Operand, evalOperand, evalValue } from './evaluate.js';
import { buildSet, isSetExpr } from './sets.js';
import { DT, bytesToBig, intBytes } from './datatypes.js';
import { linearizeAction } from './linearize-stmt.js';
import { IPPROTO_NAMES } from './delinearize.js';

export interface Compiled {
  exprs: B.Expr[];
  /** Anonymous sets the rule creates, in order (`__set%d`, `__map%d`). */
  sets: B.SetDescriptor[];
  comment?: string;
  /** Anonymous chains the rule jumps to (`__chain%d`), created before it in the batch. */
  bindings?: Binding[];
}

export interface Binding { verdict: 'jump' | 'goto'; rules: Compiled[] }

export class Linearizer {
  readonly out: B.Expr[] = [];
  readonly sets: B.SetDescriptor[] = [];
  /** Anonymous chains (`jump { ... }`) the rule binds, with their compiled rules. */
  readonly bindings: Binding[] = [];
  /** Dependencies already satisfied by earlier matches of the rule (`meta l4proto tcp` ...). */
  readonly have = new Set<string>();

  constructor(readonly env: EvalEnv, readonly table: string) {}

  /**
   * The transport protocol the rule fixed first. proto_ctx_update (nftables 1.0.6 proto.c)
   * keeps the first transport protocol it learns, so `ip protocol icmp meta l4proto tcp
   * tcp dport 22` still sees icmp and refuses the tcp match.
   */
  private firstL4: string | undefined;

  emitDeps(deps: Dep[]): void {
    for (const d of deps) {
      if (d.key.startsWith('l4:') && this.firstL4 !== undefined && this.firstL4 !== d.key && !this.have.has('l4any')) {
        const name = (k: string): string => IPPROTO_NAMES[Number(k.slice(3))] ?? k.slice(3);
        throw new NftError('CONFLICT', [name(this.firstL4), name(d.key)], this.curLoc);
      }
      if (this.have.has(d.key)) continue;
      // An explicit ICMP type that is one of the dependency's types satisfies it.
      if (d.key.startsWith('type:')) {
        const [, proto, vals] = d.key.split(':');
        if (vals!.split(',').some((v) => this.have.has(`type:${proto}:${v}`))) continue;
        // An explicit `icmp type X` that is not the field's type can never match
        // (payload_add_dependency's icmp check in nftables 1.0.6 payload.c).
        const fixed = [...this.have].find((h) => h.startsWith(`type:${proto}:`) && !h.includes(','));
        if (fixed) throw new NftError('GENERIC', [`incompatible icmp match: rule has ${fixed.split(':')[2]}, need ${vals!.split(',').at(-1)}`], this.curLoc);
      }
      // An implied network protocol is not re-checked once the rule fixed one (nft keeps the first).
      if (d.weak) {
        const fixed = [...this.have].find((h) => h.startsWith('l3:') && h !== 'l3:');
        // ARP against IP can never both hold (`ether type arp ip daddr X`): nft refuses it.
        if (fixed && fixed !== d.key && (fixed === 'l3:arp' || d.key === 'l3:arp')) throw new NftError('CONFLICT', [fixed.slice(3), d.key.slice(3)], this.curLoc);
        if (fixed) continue;
      }
      if (d.key.startsWith('l4:') && this.have.has('l4any')) throw new NftError('CONFLICT', ['meta l4proto set', d.key.slice(3)], this.curLoc);
      // A rule that already pinned this layer to another protocol can never match (evaluate.c
      // resolve_protocol_conflict): nft refuses it.
      const layer = d.key.split(':')[0]!;
      if (d.key === 'l2:vlan' && [...this.have].some((h) => h.startsWith('ethertype:') && h !== 'ethertype:33024' && h !== 'ethertype:34984')) {
        throw new NftError('CONFLICT', ['ether', 'vlan'], this.curLoc);
      }
      if ((layer === 'l3' && !d.weak) || layer === 'l4') {
        for (const h of this.have) {
          if (h.startsWith(layer + ':') && h !== d.key) {
            throw new NftError('CONFLICT', [h.slice(3), d.key.slice(3)], this.curLoc);
          }
        }
      }
      const fam = this.env.family;
      if (layer === 'l3' && !this.have.has('l2:vlan') && ((fam === 'bridge' && (d.weak || d.key === 'l3:arp')) || ((fam === 'netdev' || fam === 'inet') && this.have.has('l2:ether')))) {
        // With the link layer known to be Ethernet, nft checks its type field rather than
        // meta protocol / meta nfproto (bridge tables for implied protocols; netdev and inet
        // once `meta iiftype ether` put proto_eth in the link-layer context).
        const et = d.key === 'l3:ip' ? 0x0800 : d.key === 'l3:ip6' ? 0x86dd : 0x0806;
        this.out.push({ type: 'payload', base: B.NFT_PAYLOAD_LL_HEADER, offset: 12, len: 2, dreg: B.NFT_REG_1 }, { type: 'cmp', sreg: B.NFT_REG_1, op: B.NFT_CMP_EQ, data: intBytes(BigInt(et), 16, 'big') });
        this.have.add(d.key);
        continue;
      }
      if (layer === 'l3' && this.have.has('l2:vlan') && (this.env.family === 'bridge' || this.env.family === 'netdev')) {
        // Behind a VLAN tag the network protocol is the (innermost) tag's type field, not meta protocol.
        const et = d.key === 'l3:ip' ? 0x0800 : d.key === 'l3:ip6' ? 0x86dd : 0x0806;
        this.out.push({ type: 'payload', base: B.NFT_PAYLOAD_LL_HEADER, offset: 16 + 4 * (this.env.vlanDepth ?? 0), len: 2, dreg: B.NFT_REG_1 }, { type: 'cmp', sreg: B.NFT_REG_1, op: B.NFT_CMP_EQ, data: intBytes(BigInt(et), 16, 'big') });
        this.have.add(d.key);
        continue;
      }
      this.out.push(...d.exprs(B.NFT_REG_1));
      if (d.key.startsWith('l4:')) this.firstL4 ??= d.key;
      if (d.setValues) {
        const name = '__set%d';
        this.sets.push({ table: this.table, name, flags: B.NFT_SET_ANONYMOUS | B.NFT_SET_CONSTANT, keyType: 0, keyLen: 1, size: d.setValues.length, elements: d.setValues.map((v) => ({ key: Uint8Array.of(v), flags: 0 })) });
        this.out.push({ type: 'lookup', sreg: B.NFT_REG_1, set: name, flags: 0 });
      }
      this.have.add(d.key);
    }
  }

  operand(e: Expr): Operand { return evalOperand(e, this.env); }

  /** Dependencies a statement adds at the head of the rule (reject's network protocol check). */
  prependDeps(deps: Dep[]): void {
    const before = this.out.length;
    this.emitDeps(deps);
    const added = this.out.splice(before);
    this.out.unshift(...added);
  }

  compileRule(rule: RuleAst): Compiled {
    rule = { ...rule, stmts: rule.stmts.map((s) => resolveVariables(s, this.env.defines)) };
    rule.stmts.forEach((s, i) => {
      // rule_evaluate: nothing may follow a statement that ends the rule's evaluation.
      if (i < rule.stmts.length - 1 && isTerminal(s)) {
        throw new NftError('GENERIC', ['Statement after terminal statement has no effect'], rule.stmts[i + 1]!.loc, [s.loc]);
      }
    });
    for (const s of rule.stmts) {
      const before = this.out.length;
      this.stmt(s);
      void before;
    }
    this.dropOwnProtocol();
    this.mergePayloads();
    const c: Compiled = { exprs: this.out, sets: this.sets, comment: rule.comment };
    if (this.bindings.length) c.bindings = this.bindings;
    return c;
  }

  /**
   * payload_try_merge (nftables rule.c): `payload == constant` matches on
   * contiguous bytes of one header are merged into one load and one
   * comparison, across other matches but not across action statements. The
   * merged match takes the place of the one with the lower offset.
   */
  private mergePayloads(): void {
    const o = this.out;
    const isAction = (e: B.Expr): boolean => {
      switch (e.type) {
        case 'payload': case 'exthdr': return e.sreg !== undefined;
        case 'meta': case 'ct': return e.sreg !== undefined;
        case 'bitwise': case 'byteorder': case 'cmp': case 'range': case 'rt': case 'fib': case 'socket': case 'osf': case 'xfrm': case 'numgen': case 'hash': return false;
        case 'lookup': return e.dreg !== undefined;
        default: return true;
      }
    };
    const removed = new Set<number>();
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 1) {
        const units = [...run].sort((x, y) => {
          const px = o[x] as B.PayloadExpr, py = o[y] as B.PayloadExpr;
          return px.base - py.base || px.offset - py.offset;
        });
        const protocol = new Set(units.filter((u) => isProtocolKey(o[u] as B.PayloadExpr)));
        let last = units[0]!;
        for (const u of units.slice(1)) {
          const pa = o[last] as B.PayloadExpr, ca = o[last + 1] as B.CmpExpr;
          const pb = o[u] as B.PayloadExpr, cb = o[u + 1] as B.CmpExpr;
          // payload_can_merge: adjacent whole bytes, at most one register; loads of up to
          // 4 bytes above the link layer take the kernel's fast path, so nft merges those
          // only when the result stays within 4 bytes or one side is already longer.
          const ok = pa.base === pb.base && pa.offset + pa.len === pb.offset && pa.len + pb.len <= 16
            && (pa.len + pb.len <= 4 || pa.base === B.NFT_PAYLOAD_LL_HEADER || pa.len > 4 || pb.len > 4);
          if (!ok) { last = u; continue; }
          const data = new Uint8Array(pa.len + pb.len);
          data.set(ca.data.subarray(0, pa.len));
          data.set(cb.data.subarray(0, pb.len), pa.len);
          // payload_do_merge: the merged match replaces the lower one, unless the higher one
          // carries a protocol key (`ether type`): then it takes that one's place, so the
          // dependency still comes before the matches that rely on it.
          const at = protocol.has(u) ? u : last;
          const drop = at === u ? last : u;
          o[at] = { ...pa, len: pa.len + pb.len };
          o[at + 1] = { ...ca, data };
          if (protocol.has(last) || protocol.has(u)) protocol.add(at);
          removed.add(drop);
          removed.add(drop + 1);
          last = at;
        }
      }
      run = [];
    };
    for (let i = 0; i < o.length; i++) {
      const e = o[i]!;
      const n = o[i + 1];
      if (e.type === 'payload' && e.dreg === B.NFT_REG_1 && e.sreg === undefined && n?.type === 'cmp' && n.op === B.NFT_CMP_EQ && n.sreg === B.NFT_REG_1 && n.data.length === e.len) {
        run.push(i);
        i++;
        continue;
      }
      if (isAction(e)) flush();
    }
    flush();
    if (removed.size) this.out.splice(0, o.length, ...o.filter((_, i) => !removed.has(i)));
  }

  /**
   * stmt_reduce (rule.c): `meta protocol ip` in an ip table (ip6 in ip6) says nothing and
   * goes, but only once another statement follows it (nft deletes it while looking at the
   * next statement, so a rule ending with it keeps it).
   */
  private dropOwnProtocol(): void {
    const fam = this.env.family;
    if (fam !== 'ip' && fam !== 'ip6') return;
    const own = fam === 'ip' ? 0x0800 : 0x86dd;
    const o = this.out;
    for (let i = 0; i + 2 < o.length; i++) {
      const m = o[i]!, c = o[i + 1]!;
      if (m.type === 'meta' && m.key === B.NFT_META.PROTOCOL && m.dreg !== undefined && c.type === 'cmp' && c.op === B.NFT_CMP_EQ && c.sreg === m.dreg && c.data.length === 2 && ((c.data[0]! << 8) | c.data[1]!) === own) {
        o.splice(i, 2);
        i--;
      }
    }
  }

  curLoc: B.SourceLocation | undefined;

  stmt(s: Stmt): void {
    this.curLoc = s.loc;
    try {
      if (s.kind === 'match') return this.match(s);
      linearizeAction(this, s);
    } catch (e) {
      // Every rejection names a place: fall back to the statement's span.
      if (e instanceof NftError && !e.loc) throw new NftError(e.id, e.args, s.loc, e.context, e.hint);
      throw e;
    }
  }

  /** Records what an explicit match tells later dependencies (payload_dependency_store). */
  private learn(left: Expr, op: string, value: Uint8Array | undefined): void {
    if (op !== '==' && op !== 'implicit') return;
    if (!value) return;
    const v = Number(bytesToBig(value, 'big'));
    const l4 = (left.kind === 'meta' && left.key === 'l4proto') || (left.kind === 'payload' && (left.proto === 'ip' && left.field === 'protocol' || left.proto === 'ip6' && left.field === 'nexthdr'));
    // Explicit matches never conflict (nft accepts `udp sport 53 ip6 nexthdr tcp`); only the
    // dependencies it adds itself do.
    if (l4) { this.have.add(`l4:${v}`); this.firstL4 ??= `l4:${v}`; }
    else if (left.kind === 'meta' && left.key === 'nfproto') { this.have.add(v === 2 ? 'l3:ip' : v === 10 ? 'l3:ip6' : ''); this.env.l3 = v === 2 ? 'ip' : v === 10 ? 'ip6' : undefined; }
    else if (left.kind === 'meta' && left.key === 'protocol') this.have.add(v === 0x0800 ? 'l3:ip' : v === 0x86dd ? 'l3:ip6' : v === 0x0806 ? 'l3:arp' : '');
    else if (left.kind === 'payload' && left.proto === 'ether' && left.field === 'type') this.have.add(`ethertype:${v}`), this.have.add(v === 0x8100 || v === 0x88a8 ? 'l2:vlan' : v === 0x0800 ? 'l3:ip' : v === 0x86dd ? 'l3:ip6' : v === 0x0806 ? 'l3:arp' : '');
    else if (left.kind === 'meta' && left.key === 'iiftype' && v === 0x100) this.have.add('l2:ether');
    else if (left.kind === 'payload' && left.proto === 'vlan' && left.field === 'type') {
      // payload_expr_pctx_update: a tag inside a tag stacks the outer one (stacked_ll).
      if (v === 0x8100 || v === 0x88a8) this.env.vlanDepth = (this.env.vlanDepth ?? 0) + 1;
      else this.have.add(v === 0x0800 ? 'l3:ip' : v === 0x86dd ? 'l3:ip6' : v === 0x0806 ? 'l3:arp' : '');
    }
    else if (left.kind === 'payload' && (left.proto === 'icmp' || left.proto === 'icmpv6') && left.field === 'type') this.have.add(`type:${left.proto}:${v}`);
  }

  match(s: MatchStmt): void {
    if (s.left.kind === 'fib' && s.right.kind === 'symbol' && (s.right.text === 'exists' || s.right.text === 'missing')) {
      // `fib ... oif exists`: the presence flag instead of the result (fib.c, NFTA_FIB_F_PRESENT).
      const f = this.operand(s.left).load(B.NFT_REG_1)[0] as B.FibExpr;
      const on = (s.right.text === 'exists') !== (s.op === '!=');
      this.out.push({ ...f, flags: f.flags | B.NFTA_FIB_F_PRESENT }, { type: 'cmp', sreg: B.NFT_REG_1, op: B.NFT_CMP_EQ, data: Uint8Array.of(on ? 1 : 0) });
      return;
    }
    const left = this.operand(s.left);
    if (left.parts) for (const p of left.parts) this.emitDeps(p.deps);
    else this.emitDeps(left.deps);
    const reg = B.NFT_REG_1;
    let r = s.right;
    // nft turns a one-element anonymous set into the element itself (expr_evaluate_set).
    if (r.kind === 'set') {
      const flat = flattenSet(r.elems, this.env.defines);
      if (flat.length === 1 && flat[0]!.kind !== 'mapping' && flat[0]!.kind !== 'elem' && flat[0]!.kind !== 'wildcard' && flat[0]!.kind !== 'concat') {
        r = flat[0]!;
        s = { ...s, right: r };
      }
    }
    if (isSetExpr(r)) {
      if (s.op !== 'implicit' && s.op !== '==' && s.op !== '!=') throw new NftError('GENERIC', [`invalid operator for a set lookup`], s.loc);
      if (r.kind === 'setref') {
        const named = this.env.sets.get(r.name);
        if (named && !left.parts && named.keyDtype !== left.dtype && named.keyDtype.name !== 'invalid' && !(named.keyDtype.integer && left.dtype.integer && named.keyBits === left.bits)) {
          throw new NftError('DATATYPE_MISMATCH', [left.dtype.name, named.keyDtype.name], r.loc, [s.left.loc]);
        }
      }
      const lookup = buildSet(this, r, left, undefined);
      const l = s.left;
      if (s.op !== '!=' && l.kind === 'payload' && (l.proto === 'icmp' || l.proto === 'icmpv6') && l.field === 'type' && r.kind === 'set') {
        const set = this.sets[this.sets.length - 1]!;
        const vals = set.elements.map((e) => e.key[0]!).sort((a, b) => a - b);
        this.have.add(`type:${l.proto}:${vals.join(',')}`);
      }
      if (s.op !== '!=' && ((l.kind === 'meta' && l.key === 'l4proto') || (l.kind === 'payload' && ((l.proto === 'ip' && l.field === 'protocol') || (l.proto === 'ip6' && l.field === 'nexthdr'))))) {
        // A set of transport protocols replaces what the rule knew about it.
        for (const h of [...this.have]) if (h.startsWith('l4:')) this.have.delete(h);
        this.have.add('l4any');
      }
      this.out.push(...lookup.load(reg));
      this.out.push({ type: 'lookup', sreg: reg, set: lookup.name, flags: s.op === '!=' ? B.NFT_LOOKUP_F_INV : 0 });
      return;
    }
    const load = left.load(reg);
    if (r.kind === 'range') {
      if (bytesToBig(evalValue(r.low, left), left.byteorder) > bytesToBig(evalValue(r.high, left), left.byteorder)) {
        throw new NftError('GENERIC', ['Range has zero or negative size'], r.loc);
      }
      // An `==` range is two comparisons (netlink_gen_range: cmp gte + cmp lte); `!=` is a range expression.
      let lo = evalValue(r.low, left);
      let hi = evalValue(r.high, left);
      this.out.push(...load);
      if (left.byteorder === 'host' && left.regBytes > 1) {
        this.out.push({ type: 'byteorder', sreg: reg, dreg: reg, op: B.NFT_BYTEORDER_HTON, len: left.regBytes, size: left.regBytes });
        lo = lo.slice().reverse();
        hi = hi.slice().reverse();
      }
      if (s.op === '!=') this.out.push({ type: 'range', sreg: reg, op: B.NFT_RANGE_NEQ, from: lo, to: hi });
      else this.out.push({ type: 'cmp', sreg: reg, op: B.NFT_CMP_GTE, data: lo }, { type: 'cmp', sreg: reg, op: B.NFT_CMP_LTE, data: hi });
      return;
    }
    if (r.kind === 'prefix') {
      const value = evalValue(r.expr, left);
      const plen = r.plen;
      const bits = left.regBytes * 8;
      if (plen > bits) throw new NftError('GENERIC', [`prefix length ${plen} is too large`], r.loc);
      const mask = intBytes(plen === 0 ? 0n : ((1n << BigInt(plen)) - 1n) << BigInt(bits - plen), bits, 'big');
      const masked = value.map((b, i) => b & mask[i]!);
      if (left.payload && left.shift === 0 && !left.mask && plen % 8 === 0 && plen > 0) {
        // payload_expr_trim: load only the bytes the prefix covers.
        const n = Math.ceil(plen / 8);
        const p = load[0] as B.PayloadExpr;
        this.out.push({ ...p, len: n });
        if (plen % 8) this.out.push({ type: 'bitwise', sreg: reg, dreg: reg, len: n, op: B.NFT_BITWISE_BOOL, mask: mask.slice(0, n), xor: new Uint8Array(n) });
        this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: masked.slice(0, n) });
        return;
      }
      if (left.byteorder === 'big' && plen % 8 === 0 && plen > 0) {
        // A whole-byte prefix of a big-endian value compares only its leading bytes.
        this.out.push(...load);
        this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: masked.slice(0, plen / 8) });
        return;
      }
      const hmask = intBytes(plen === 0 ? 0n : ((1n << BigInt(plen)) - 1n) << BigInt(bits - plen), bits, left.byteorder);
      this.out.push(...load);
      this.out.push({ type: 'bitwise', sreg: reg, dreg: reg, len: left.regBytes, op: B.NFT_BITWISE_BOOL, mask: hmask, xor: new Uint8Array(left.regBytes) });
      this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: value.map((b, i) => b & hmask[i]!) });
      return;
    }
    if (r.kind === 'binop' && r.masked) {
      // `flags value / mask`: (x & mask) op value
      const value = evalValue(r.left, left);
      const mask = evalValue(r.right, left);
      this.out.push(...load);
      this.out.push({ type: 'bitwise', sreg: reg, dreg: reg, len: left.regBytes, op: B.NFT_BITWISE_BOOL, mask, xor: new Uint8Array(left.regBytes) });
      this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: value });
      return;
    }
    if ((left.dtype === DT.ifname || left.dtype === DT.string) && r.kind === 'symbol' && r.text.endsWith('*') && !r.text.endsWith('\\*') && r.text.length > 1) {
      // `iifname "eth*"`: compare only the prefix (datatype.c string wildcard).
      this.out.push(...load);
      this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: new TextEncoder().encode(r.text.slice(0, -1)) });
      return;
    }
    if (r.kind === 'symbol' && r.text.endsWith('\\*')) r.text = r.text.slice(0, -2) + '*';
    let value = evalValue(r, left);
    if (s.left.kind === 'binop' && s.left.op === '^' && s.left.left.kind !== 'binop' && (s.op === '==' || s.op === '!=' || s.op === 'implicit')) {
      // x ^ c == v  ⇔  x == v ^ c: nft folds the xor into the constant (binop_transfer).
      const c = evalValue(s.left.right, left);
      value = value.map((b, i) => b ^ c[i]!);
      const inner = this.operand(s.left.left);
      this.out.push(...inner.load(reg));
      this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!=' ? B.NFT_CMP_NEQ : B.NFT_CMP_EQ, data: value });
      return;
    }
    this.learn(s.left, s.op, left.shift === 0 && !left.mask ? value : undefined);
    if ((s.op === 'implicit' && left.dtype.bitmask && s.left.kind !== 'binop' && (r.kind === 'list' || r.kind === 'symbol' || r.kind === 'binop')) || s.op === '!') {
      // Flag types: an implicit match tests bits (`tcp flags syn` = (flags & syn) != 0; `! syn` = == 0).
      this.out.push(...load);
      this.out.push({ type: 'bitwise', sreg: reg, dreg: reg, len: left.regBytes, op: B.NFT_BITWISE_BOOL, mask: value, xor: new Uint8Array(left.regBytes) });
      this.out.push({ type: 'cmp', sreg: reg, op: s.op === '!' ? B.NFT_CMP_EQ : B.NFT_CMP_NEQ, data: new Uint8Array(left.regBytes) });
      return;
    }
    this.out.push(...load);
    const op = { implicit: B.NFT_CMP_EQ, '!': B.NFT_CMP_EQ, '==': B.NFT_CMP_EQ, '!=': B.NFT_CMP_NEQ, '<': B.NFT_CMP_LT, '<=': B.NFT_CMP_LTE, '>': B.NFT_CMP_GT, '>=': B.NFT_CMP_GTE }[s.op];
    if ((op >= B.NFT_CMP_LT) && left.byteorder === 'host' && left.regBytes > 1) {
      this.out.push({ type: 'byteorder', sreg: reg, dreg: reg, op: B.NFT_BYTEORDER_HTON, len: left.regBytes, size: left.regBytes });
      this.out.push({ type: 'cmp', sreg: reg, op, data: value.slice().reverse() });
      return;
    }
    this.out.push({ type: 'cmp', sreg: reg, op, data: value });
  }
}

/** Replaces `$name` by its `define` (recursively, with a depth bound against self-reference). */
function resolveVariables<T>(node: T, defines: Map<string, Expr>, depth = 0): T {
  if (depth > 32) throw new NftError('GENERIC', ['define recursion too deep'], undefined);
  if (Array.isArray(node)) return node.map((n) => resolveVariables(n, defines, depth)) as T;
  if (node instanceof Uint8Array || node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (o.kind === 'variable') {
    const v = defines.get(o.name as string);
    if (!v) throw new NftError('UNDEFINED_VAR', [o.name as string], o.loc as B.SourceLocation);
    return resolveVariables(v as T, defines, depth + 1);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = k === 'loc' || k === 'dtype' ? v : resolveVariables(v, defines, depth);
  return out as T;
}

function flattenSet(elems: Expr[], defines: Map<string, Expr>, out: Expr[] = []): Expr[] {
  for (const e of elems) {
    if (e.kind === 'set') flattenSet(e.elems, defines, out);
    else if (e.kind === 'variable' && defines.get(e.name)) flattenSet([defines.get(e.name)!], defines, out);
    else out.push(e);
  }
  return out;
}

function isTerminal(s: Stmt): boolean {
  if (s.kind === 'verdict') return s.expr.kind === 'verdict' && s.expr.verdict !== 'continue';
  return s.kind === 'reject' || (s.kind === 'nat');
}

/** Compiles one rule for a table of `env.family`. Throws NftError. */
export function compileRule(rule: RuleAst, env: EvalEnv, table: string): Compiled {
  return new Linearizer(env, table).compileRule(rule);
}

/**
 * A payload load of a protocol key (the field the next header's type lives in: ether type,
 * a VLAN tag's type, ip protocol, ip6 nexthdr), which nft flags EXPR_F_PROTOCOL.
 */
function isProtocolKey(p: B.PayloadExpr): boolean {
  if (p.base === B.NFT_PAYLOAD_LL_HEADER) return p.len === 2 && (p.offset === 12 || p.offset === 16 || p.offset === 20);
  if (p.base === B.NFT_PAYLOAD_NETWORK_HEADER) return p.len === 1 && (p.offset === 9 || p.offset === 6);
  return false;
}
