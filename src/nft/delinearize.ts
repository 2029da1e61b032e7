/**
 * Delinearization (nftables src/netlink_delinearize.c): kernel bytecode back
 * to listing statements. Registers are tracked as expressions; a `cmp`,
 * `range` or `lookup` on a register becomes a match; loads merged by nft are
 * split back into fields; protocol dependencies nft added are dropped again
 * when a later match implies them (payload_dependency_kill).
 */
import * as B from '../netfilter/bytecode.js';
import type { Family } from './ast.js';
import { bytesToBig } from './datatypes.js';
import { CT_KEYS, META_KEYS, PROTOCOLS, type ProtoDesc } from './proto.js';

export type LExpr =
  | { k: 'payload'; base: number; offset: number; len: number; proto?: string; field?: string; bits?: number; shift?: number }
  | { k: 'meta'; key: string }
  | { k: 'ct'; key: string; dir?: number }
  | { k: 'exthdr'; e: B.ExthdrExpr }
  | { k: 'concat'; parts: LExpr[] }
  | { k: 'binop'; op: '&' | '|' | '^' | '<<' | '>>'; left: LExpr; right: Uint8Array }
  | { k: 'imm'; data: Uint8Array }
  | { k: 'map'; key: LExpr; set: string; setDesc?: B.SetDescriptor }
  | { k: 'other'; e: B.Expr; src?: LExpr };

export type LValue =
  | { k: 'value'; bytes: Uint8Array }
  | { k: 'range'; lo: Uint8Array; hi: Uint8Array }
  | { k: 'set'; name: string; desc?: B.SetDescriptor }
  | { k: 'masked'; value: Uint8Array; mask: Uint8Array };

export type LStmt =
  | { k: 'match'; left: LExpr; op: 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'flag' | 'noflag'; right: LValue }
  | { k: 'vmap'; key: LExpr; set: string; desc?: B.SetDescriptor }
  | { k: 'set'; target: LExpr; value: LExpr }
  | { k: 'stmt'; e: B.Expr; regs: Map<number, LExpr>; meter?: B.SetDescriptor };

const CMP_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
const regSize = (reg: number): number => (reg >= 8 ? 4 : 16);
const nextReg = (reg: number, bytes: number): number => {
  const internal = reg >= 8 ? reg - 8 + 1 : (reg - 1) * 4 + 1;
  const n = internal + Math.ceil(bytes / 4);
  const idx = n - 1;
  return idx % 4 === 0 ? 1 + idx / 4 : idx + 8;
};

function exprLen(e: LExpr): number {
  switch (e.k) {
    case 'payload': return e.len;
    case 'meta': return Math.ceil((META_KEYS[e.key]?.len ?? 32) / 8);
    case 'ct': return Math.ceil((CT_KEYS[e.key]?.len ?? 32) / 8);
    case 'exthdr': return e.e.len;
    case 'binop': return exprLen(e.left);
    default: return 4;
  }
}

const META_NAMES = Object.entries(META_KEYS).reduce<Record<number, string>>((m, [k, v]) => { if (!(v.id in m)) m[v.id] = k; return m; }, {});
const CT_NAMES: Record<number, string> = {
  ...Object.entries(CT_KEYS).reduce<Record<number, string>>((m, [k, v]) => { m[v.id] = k; return m; }, {}),
  [B.NFT_CT.SRC_IP]: 'ip saddr', [B.NFT_CT.DST_IP]: 'ip daddr', [B.NFT_CT.SRC_IP6]: 'ip6 saddr', [B.NFT_CT.DST_IP6]: 'ip6 daddr',
};

/** Bytecode → listing statements. `sets` resolves `__set%d` lookups in order of use. */
export function delinearize(exprs: readonly B.Expr[], sets: readonly B.SetDescriptor[], namedKeyLen?: ReadonlyMap<string, number>): LStmt[] {
  const regs = new Map<number, LExpr>();
  const out: LStmt[] = [];
  let anon = 0;
  // Anonymous sets: by name once committed (`__set0`), else in order of use (`__set%d`).
  const setOf = (name: string): B.SetDescriptor | undefined => {
    if (!name.startsWith('__')) return undefined;
    if (!name.includes('%d')) { const byName = sets.find((s) => s.name === name); if (byName) return byName; }
    return sets[anon++];
  };
  for (let i = 0; i < exprs.length; i++) {
    const e = exprs[i]!;
    switch (e.type) {
      case 'payload':
        if (e.dreg !== undefined) regs.set(e.dreg, { k: 'payload', base: e.base, offset: e.offset, len: e.len });
        else {
          const v = regs.get(e.sreg!);
          const target: LExpr = { k: 'payload', base: e.base, offset: e.offset, len: e.len };
          // A load + mask + xor + write is a sub-byte field set: the xor holds the value.
          if (v?.k === 'binop' && v.left.k === 'payload' && v.op === '^') out.push({ k: 'set', target: { ...target, mask: undefined } as LExpr, value: v });
          else out.push({ k: 'set', target, value: v ?? { k: 'imm', data: new Uint8Array(e.len) } });
        }
        break;
      case 'meta':
        if (e.dreg !== undefined) regs.set(e.dreg, { k: 'meta', key: META_NAMES[e.key] ?? String(e.key) });
        else out.push({ k: 'set', target: { k: 'meta', key: META_NAMES[e.key] ?? String(e.key) }, value: regs.get(e.sreg!)! });
        break;
      case 'ct':
        if (e.dreg !== undefined) regs.set(e.dreg, { k: 'ct', key: CT_NAMES[e.key] ?? String(e.key), dir: e.dir });
        else out.push({ k: 'set', target: { k: 'ct', key: CT_NAMES[e.key] ?? String(e.key), dir: e.dir }, value: regs.get(e.sreg!)! });
        break;
      case 'exthdr':
        if (e.dreg !== undefined) regs.set(e.dreg, { k: 'exthdr', e });
        else out.push({ k: 'stmt', e, regs: new Map(regs) });
        break;
      case 'bitwise': {
        const src = regs.get(e.sreg);
        if (!src) break;
        if (e.op === B.NFT_BITWISE_BOOL) {
          const mask = e.mask!;
          const xor = e.xor!;
          const allOnes = mask.every((b) => b === 0xff);
          const xorZero = xor.every((b) => b === 0);
          if (xorZero) regs.set(e.dreg, { k: 'binop', op: '&', left: src, right: mask });
          else if (allOnes) regs.set(e.dreg, { k: 'binop', op: '^', left: src, right: xor });
          else if (mask.every((b, j) => (b & xor[j]!) === 0) && mask.every((b, j) => ((b | xor[j]!) & 0xff) === 0xff)) regs.set(e.dreg, { k: 'binop', op: '|', left: src, right: xor });
          else regs.set(e.dreg, { k: 'binop', op: '^', left: { k: 'binop', op: '&', left: src, right: mask }, right: xor });
        } else regs.set(e.dreg, { k: 'binop', op: e.op === B.NFT_BITWISE_LSHIFT ? '<<' : '>>', left: src, right: e.data! });
        break;
      }
      case 'byteorder': {
        // After hton the register holds the value big-endian: comparisons read it that way.
        const src = regs.get(e.sreg);
        if (src) regs.set(e.dreg, Object.assign({}, src, { hton: true }));
        break;
      }
      case 'immediate':
        if (e.dreg === B.NFT_REG_VERDICT) out.push({ k: 'stmt', e, regs: new Map(regs) });
        else regs.set(e.dreg, { k: 'imm', data: e.data! });
        break;
      case 'cmp': {
        const left = regs.get(e.sreg);
        if (!left) break;
        // cmp gte + cmp lte on one register is a range (netlink_gen_range's `==` form).
        const nx = exprs[i + 1];
        if (e.op === B.NFT_CMP_GTE && nx?.type === 'cmp' && nx.op === B.NFT_CMP_LTE && nx.sreg === e.sreg) {
          out.push({ k: 'match', left, op: 'eq', right: { k: 'range', lo: e.data, hi: nx.data } });
          i++;
          break;
        }
        if (left.k === 'binop' && left.op === '&' && (e.op === B.NFT_CMP_NEQ || e.op === B.NFT_CMP_EQ) && e.data.every((b) => b === 0)) {
          out.push({ k: 'match', left: left.left, op: e.op === B.NFT_CMP_NEQ ? 'flag' : 'noflag', right: { k: 'value', bytes: left.right } });
          break;
        }
        out.push({ k: 'match', left, op: CMP_OPS[e.op]!, right: { k: 'value', bytes: e.data } });
        break;
      }
      case 'range': {
        const left = regs.get(e.sreg);
        if (left) out.push({ k: 'match', left, op: e.op === B.NFT_RANGE_NEQ ? 'neq' : 'eq', right: { k: 'range', lo: e.from, hi: e.to } });
        break;
      }
      case 'lookup': {
        let left = regs.get(e.sreg);
        if (!left) break;
        const desc = setOf(e.set);
        // A key longer than the register's expression is a concatenation in consecutive registers.
        if (desc?.fieldLengths && desc.fieldLengths.length > 1) {
          const parts: LExpr[] = [];
          let r = e.sreg;
          for (const fl of desc.fieldLengths) { const p = regs.get(r); if (p) parts.push(p); r = nextReg(r, fl); }
          left = { k: 'concat', parts };
        } else if (!desc && (namedKeyLen?.get(e.set) ?? 0) > Math.ceil(exprLen(left) / 4) * 4) {
          const want = namedKeyLen!.get(e.set)!;
          const parts: LExpr[] = [left];
          let r = nextReg(e.sreg, exprLen(left));
          let total = Math.ceil(exprLen(left) / 4) * 4;
          while (total < want && regs.has(r)) { const p = regs.get(r)!; parts.push(p); total += Math.ceil(exprLen(p) / 4) * 4; r = nextReg(r, exprLen(p)); }
          left = { k: 'concat', parts };
        } else if (desc && desc.keyLen > exprLen(left) && regSize(e.sreg) >= 4) {
          const parts: LExpr[] = [left];
          let r = nextReg(e.sreg, exprLen(left));
          let total = Math.ceil(exprLen(left) / 4) * 4;
          while (total < desc.keyLen && regs.has(r)) { const p = regs.get(r)!; parts.push(p); total += Math.ceil(exprLen(p) / 4) * 4; r = nextReg(r, exprLen(p)); }
          left = { k: 'concat', parts };
        }
        if (e.dreg === B.NFT_REG_VERDICT) out.push({ k: 'vmap', key: left, set: e.set, desc });
        else if (e.dreg !== undefined) regs.set(e.dreg, { k: 'map', key: left, set: e.set, setDesc: desc });
        else out.push({ k: 'match', left, op: e.flags & B.NFT_LOOKUP_F_INV ? 'neq' : 'eq', right: { k: 'set', name: e.set, desc } });
        break;
      }
      case 'objref':
        if (e.sreg !== undefined) out.push({ k: 'stmt', e: { ...e, set: e.set }, regs: new Map([[0, { k: 'map', key: regs.get(e.sreg)!, set: e.set!, setDesc: setOf(e.set!) }]]) });
        else out.push({ k: 'stmt', e, regs: new Map(regs) });
        break;
      case 'hash': case 'numgen': case 'rt': case 'fib': case 'socket': case 'osf': case 'xfrm':
        if (e.type === 'hash' && e.sreg !== undefined && e.dreg !== undefined) {
          // jhash reads `len` bytes from its source: a concatenation spans consecutive registers.
          const first = regs.get(e.sreg);
          let src = first;
          if (first && (e.len ?? 0) > Math.ceil(exprLen(first) / 4) * 4) {
            const parts: LExpr[] = [first];
            let r = nextReg(e.sreg, exprLen(first));
            let total = Math.ceil(exprLen(first) / 4) * 4;
            while (total < e.len! && regs.has(r) && parts.length < 16) { const p = regs.get(r)!; parts.push(p); total += Math.ceil(exprLen(p) / 4) * 4; r = nextReg(r, exprLen(p)); }
            src = { k: 'concat', parts };
          }
          regs.set(e.dreg, { k: 'other', e, src });
          break;
        }
        if ('dreg' in e && e.dreg !== undefined) { regs.set(e.dreg, { k: 'other', e }); break; }
        out.push({ k: 'stmt', e, regs: new Map(regs) });
        break;
      case 'dynset': {
        // The key of a named set may be a concatenation in consecutive registers.
        const m = new Map(regs);
        const left = regs.get(e.sregKey);
        // netlink_parse_dynset: an update of an anonymous set the rule declared is a meter.
        const meter = sets.find((s) => s.name === e.set && s.flags & B.NFT_SET_ANONYMOUS);
        const want = namedKeyLen?.get(e.set) ?? meter?.keyLen ?? 0;
        if (left && want > Math.ceil(exprLen(left) / 4) * 4) {
          const parts: LExpr[] = [left];
          let r = nextReg(e.sregKey, exprLen(left));
          let total = Math.ceil(exprLen(left) / 4) * 4;
          while (total < want && regs.has(r)) { const p = regs.get(r)!; parts.push(p); total += Math.ceil(exprLen(p) / 4) * 4; r = nextReg(r, exprLen(p)); }
          m.set(-1, { k: 'concat', parts });
        }
        out.push(meter ? { k: 'stmt', e, regs: m, meter } : { k: 'stmt', e, regs: m });
        break;
      }
      default:
        out.push({ k: 'stmt', e, regs: new Map(regs) });
    }
  }
  return out;
}

/** Which protocol sits at each payload base, as a listing walks the rule (proto context). */
export interface ProtoContext { ll?: string; nh?: string; th?: string; /** the `icmp type` last matched (th_dep.icmp.type) */ icmpType?: number }

export function initialContext(family: Family): ProtoContext {
  const ctx: ProtoContext = {};
  if (family === 'ip') ctx.nh = 'ip';
  if (family === 'ip6') ctx.nh = 'ip6';
  if (family === 'arp') ctx.nh = 'arp';
  if (family === 'bridge' || family === 'netdev') ctx.ll = 'ether';
  return ctx;
}

/** The protocol header that lives at `base` in this context. */
export function protoAt(ctx: ProtoContext, base: number): ProtoDesc | undefined {
  // Without a known transport protocol nft names the ports of the generic `th` header.
  const name = base === B.NFT_PAYLOAD_LL_HEADER ? ctx.ll : base === B.NFT_PAYLOAD_NETWORK_HEADER ? ctx.nh : base === B.NFT_PAYLOAD_TRANSPORT_HEADER ? ctx.th ?? 'th' : undefined;
  return name ? PROTOCOLS[name] : undefined;
}

export const IPPROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 50: 'esp', 51: 'ah', 58: 'icmpv6', 108: 'comp', 132: 'sctp', 136: 'udplite' };

export { bytesToBig };
