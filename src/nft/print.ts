/**
 * Listing (nftables src/rule.c / statement.c / expression.c print paths):
 * delinearized statements → the text `nft list` shows for a rule, with the
 * protocol context resolving payload offsets to `proto field`, and the
 * dependencies nft added at compile time dropped again.
 */
import * as B from '../netfilter/bytecode.js';
import type { Family } from './ast.js';
import { DT, type Datatype, bytesToBig, intBytes, lookupDatatype } from './datatypes.js';
import { type LExpr, type LStmt, type LValue, type ProtoContext, IPPROTO_NAMES, delinearize, initialContext, protoAt } from './delinearize.js';
import { ARP_ADDR_FIELDS, CT_KEYS, META_KEYS, PROTOCOLS } from './proto.js';
import { HEX_INTEGER, type PrintOptions, valueText, timeText } from './print-value.js';
import { exthdrText } from './exthdr.js';
import { actionText, verdictText } from './print-stmt.js';
import { fieldName, icmpFieldAllowed, icmpTypeImplied, isDependency, uses, usesIcmpTypeField } from './print-deps.js';

export interface Resolved { text: string; dtype: Datatype; shift: number; bits: number; order: 'big' | 'host'; flags?: boolean }

const META_UNQUAL_PRINT = new Set(['iif', 'oif', 'iifname', 'oifname', 'iifgroup', 'oifgroup']);
/** ct keys whose direction nft_ct_get_dump puts back in the listing. */
const CT_DIR_KEYS = new Set(['saddr', 'daddr', 'ip saddr', 'ip daddr', 'ip6 saddr', 'ip6 daddr', 'proto-src', 'proto-dst', 'bytes', 'packets', 'avgpkt', 'zone']);

function maskInfo(mask: Uint8Array): { shift: number; bits: number } {
  const m = bytesToBig(mask, 'big');
  if (m === 0n) return { shift: 0, bits: 0 };
  let shift = 0;
  while (!((m >> BigInt(shift)) & 1n)) shift++;
  let bits = 0;
  while ((m >> BigInt(shift + bits)) & 1n) bits++;
  return { shift, bits };
}

/** Resolves a payload load (with an optional field mask) to `proto field`. */
function resolvePayload(p: Extract<LExpr, { k: 'payload' }>, ctx: ProtoContext, mask?: Uint8Array): Resolved | undefined {
  let desc = protoAt(ctx, p.base);
  // Link-layer bytes past the Ethernet header are VLAN tags, 4 bytes each (stacked_ll).
  if (p.base === B.NFT_PAYLOAD_LL_HEADER && p.offset >= 14) desc = { ...PROTOCOLS.vlan!, baseOffset: 14 + 4 * Math.floor((p.offset - 14) / 4) };
  if (!desc) return undefined;
  const { shift, bits } = mask ? maskInfo(mask) : { shift: 0, bits: p.len * 8 };
  const bitOff = (p.offset - desc.baseOffset) * 8 + (p.len * 8 - shift - bits);
  const fields = desc.name === 'arp' ? { ...desc.fields, ...ARP_ADDR_FIELDS } : desc.fields;
  if (desc.name === 'icmp' || desc.name === 'icmpv6') {
    // payload_expr_complete: ICMP fields overlap (id/gateway, sequence/mtu); nft takes the first
    // template at the offset whose icmp_dep agrees with the `icmp type` seen, else splits.
    const first = Object.entries(fields).find(([name, f]) => f.offset === bitOff && icmpFieldAllowed(desc.name, name, ctx.icmpType));
    if (!first || first[1].len !== bits) return undefined;
    return { text: `${desc.name} ${fieldName(first[0])}`, dtype: lookupDatatype(first[1].dtype)!, shift, bits, order: 'big' };
  }
  for (const [name, f] of Object.entries(fields)) {
    if (f.offset === bitOff && f.len === bits) return { text: `${desc.name} ${name}`, dtype: desc.name === 'comp' && name === 'flags' ? HEX_INTEGER : lookupDatatype(f.dtype)!, shift, bits, order: 'big' };
  }
  return undefined;
}


/**
 * payload_match_expand (netlink_delinearize.c): a merged `payload == value` match that no
 * single field explains becomes one match per field, each then seen by the dependency
 * logic on its own (`ether saddr . ether type` → `ether saddr X`, `ether type ip`).
 */
function expandMatch(s: LStmt, ctx: ProtoContext): LStmt[] | undefined {
  if (s.k !== 'match' || s.op !== 'eq' || s.left.k !== 'payload' || s.right.k !== 'value' || resolvePayload(s.left, ctx)) return undefined;
  const p = s.left;
  const desc = protoAt(ctx, p.base);
  if (!desc || desc.name === 'icmp' || desc.name === 'icmpv6') return undefined;
  const out: LStmt[] = [];
  let off = (p.offset - desc.baseOffset) * 8;
  const end = off + p.len * 8;
  while (off < end) {
    const f = Object.values(desc.fields).find((x) => x.offset === off && x.len % 8 === 0 && off + x.len <= end);
    if (!f) return undefined;
    const start = (off - (p.offset - desc.baseOffset) * 8) / 8;
    out.push({ k: 'match', op: 'eq', left: { k: 'payload', base: p.base, offset: p.offset + start, len: f.len / 8 }, right: { k: 'value', bytes: s.right.bytes.subarray(start, start + f.len / 8) } });
    off += f.len;
  }
  return out.length > 1 ? out : undefined;
}

/** Splits a merged payload match into consecutive fields (payload_expr_complete). */
function splitPayload(p: Extract<LExpr, { k: 'payload' }>, ctx: ProtoContext, value: Uint8Array, opts: PrintOptions = { numericProto: true }): string[] | undefined {
  const desc = protoAt(ctx, p.base);
  if (!desc) return undefined;
  const out: string[] = [];
  let off = (p.offset - desc.baseOffset) * 8;
  const end = off + p.len * 8;
  const fields = desc.name === 'arp' ? { ...desc.fields, ...ARP_ADDR_FIELDS } : desc.fields;
  while (off < end) {
    const f = Object.entries(fields).find(([n, x]) => x.offset === off && x.len % 8 === 0 && off + x.len <= end && icmpFieldAllowed(desc.name, n, ctx.icmpType));
    if (!f) return undefined;
    const [name, x] = f;
    const start = (off - (p.offset - desc.baseOffset) * 8) / 8;
    out.push(`${desc.name} ${name} ${valueText(lookupDatatype(x.dtype)!, value.subarray(start, start + x.len / 8), opts, x.len, 'big')}`);
    off += x.len;
  }
  return out;
}

export class RulePrinter {
  ctx: ProtoContext;
  constructor(readonly family: Family, readonly opts: PrintOptions = { numericProto: true }) { this.ctx = initialContext(family); }

  left(e: LExpr): Resolved | undefined {
    const r = this.left0(e);
    if (r && (e as { hton?: boolean }).hton) r.order = 'big';
    return r;
  }

  private left0(e: LExpr): Resolved | undefined {
    switch (e.k) {
      case 'payload': return resolvePayload(e, this.ctx) ?? { text: rawText(e), dtype: HEX_INTEGER, shift: 0, bits: e.len * 8, order: 'big' };
      case 'meta': {
        const k = META_KEYS[e.key];
        if (!k) return undefined;
        return { text: META_UNQUAL_PRINT.has(e.key) ? e.key : `meta ${e.key}`, dtype: lookupDatatype(k.dtype)!, shift: 0, bits: k.len, order: k.byteorder };
      }
      case 'ct': {
        const m = /^(ip6?) ([sd]addr)$/.exec(e.key);
        // nft_ct_get_dump: the kernel reports a direction only for the tuple keys and the
        // per-direction counters; `ct original protocol` comes back as `ct protocol`.
        const dir = e.dir === undefined || !CT_DIR_KEYS.has(e.key) ? '' : e.dir === 0 ? 'original ' : 'reply ';
        if (m) return { text: `ct ${dir}${e.key}`, dtype: m[1] === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr, shift: 0, bits: m[1] === 'ip6' ? 128 : 32, order: 'big' };
        const k = CT_KEYS[e.key];
        if (!k) return undefined;
        let dtype = lookupDatatype(k.dtype)!;
        if (e.key === 'saddr' || e.key === 'daddr') {
          // ct_print: the address keys name the network protocol of the context (`ct original
          // ip saddr`), which the table's family or an nfproto match gives.
          const nh = this.ctx.nh === 'ip6' || (this.ctx.nh !== 'ip' && this.family === 'ip6') ? 'ip6' : this.ctx.nh === 'ip' || this.family === 'ip' ? 'ip' : undefined;
          dtype = nh === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr;
          if (nh && dir) return { text: `ct ${dir}${nh} ${e.key}`, dtype, shift: 0, bits: nh === 'ip6' ? 128 : 32, order: 'big' };
        }
        return { text: `ct ${dir}${e.key}`, dtype, shift: 0, bits: k.len, order: k.byteorder };
      }
      case 'exthdr': {
        const x = exthdrText(e.e);
        return x ? { text: x.text, dtype: x.dtype, shift: 0, bits: x.bits, order: x.present ? 'host' : 'big' } : undefined;
      }
      case 'binop': {
        if (e.op === '&' && e.left.k === 'payload') {
          const r = resolvePayload(e.left, this.ctx, e.right);
          if (r) return r;
        }
        if (e.op === '&' && e.left.k === 'exthdr') {
          const x = exthdrText(e.left.e, e.right);
          if (x) return { text: x.text, dtype: x.dtype, shift: x.shift, bits: x.bits, order: 'big' };
        }
        const inner = this.left(e.left);
        if (!inner) return undefined;
        if (e.op === '&' && inner.dtype.bitmask) {
          // A flag mask is an OR of flags: `tcp flags & (fin | syn) == { ... }`.
          const names = valueText(inner.dtype, e.right, this.opts, inner.bits, inner.order).split(',');
          const mask = names.length > 1 ? `(${names.join(' | ')})` : names[0];
          return { ...inner, text: `${inner.text} & ${mask}`, binop: e.op } as Resolved;
        }
        if (e.op === '<<' || e.op === '>>') {
          // A shift amount is a plain number; a binop being shifted keeps its parentheses.
          const amount = bytesToBig(e.right, 'host');
          const lhs = e.left.k === 'binop' ? `(${inner.text})` : inner.text;
          return { ...inner, text: `${lhs} ${e.op} ${amount}`, binop: e.op } as Resolved;
        }
        return { ...inner, text: `${inner.text} ${e.op} ${valueText(inner.dtype, e.right, this.opts, inner.bits, inner.order)}`, binop: e.op } as Resolved;
      }
      case 'concat': {
        const parts = e.parts.map((p) => this.left(p));
        if (parts.some((p) => !p)) return undefined;
        return { text: parts.map((p) => p!.text).join(' . '), dtype: DT.invalid, shift: 0, bits: 0, order: 'big' };
      }
      case 'other': return this.otherExpr(e.e, e.src);
      default: return undefined;
    }
  }

  private otherExpr(e: B.Expr, src?: LExpr): Resolved | undefined {
    const R = (text: string, dtype: Datatype, bits: number, order: 'big' | 'host' = 'host'): Resolved => ({ text, dtype, shift: 0, bits, order });
    switch (e.type) {
      case 'rt': {
        const k = ['classid', 'nexthop', 'nexthop', 'mtu', 'ipsec'][e.key];
        if (e.key === 0) return R('rt classid', DT.realm, 32);
        // rt_expr_print names the route family in every table (`rt ip nexthop`).
        if (e.key === 1) return R('rt ip nexthop', DT.ipv4_addr, 32, 'big');
        if (e.key === 2) return R('rt ip6 nexthop', DT.ipv6_addr, 128, 'big');
        if (e.key === 3) return R('rt mtu', DT.integer, 16);
        return R(`rt ${k}`, DT.boolean, 1);
      }
      case 'socket': {
        const k = ['transparent', 'mark', 'wildcard', 'cgroupv2'][e.key] ?? String(e.key);
        if (e.key === 1) return R('socket mark', DT.mark, 32);
        if (e.key === 3) return R(`socket cgroupv2 level ${e.level}`, DT.cgroupsv2, 64);
        return R(`socket ${k}`, DT.integer, 8);
      }
      case 'fib': {
        const flags = ['saddr', 'daddr', 'mark', 'iif', 'oif'].filter((_, i) => e.flags & (1 << i));
        const res = { 1: 'oif', 2: 'oifname', 3: 'type' }[e.result] ?? '?';
        if (e.flags & B.NFTA_FIB_F_PRESENT) return R(`fib ${flags.join(' . ')} ${res}`, DT.boolean, 8);
        const dtype = e.result === 1 ? DT.iface_index : e.result === 2 ? DT.ifname : DT.fib_addrtype;
        return R(`fib ${flags.join(' . ')} ${res}`, dtype, e.result === 2 ? 128 : 32);
      }
      case 'osf': return R(`osf ${e.ttl === 1 ? 'ttl loose ' : e.ttl === 2 ? 'ttl skip ' : ''}${e.flags ? 'version' : 'name'}`, DT.string, 128);
      case 'numgen': return R(`numgen ${e.ngType === 0 ? 'inc' : 'random'} mod ${e.modulus}${e.offset ? ` offset ${e.offset}` : ''}`, DT.integer, 32);
      case 'hash': {
        if (e.hashType === 1) return R(`symhash mod ${e.modulus}${e.offset ? ` offset ${e.offset}` : ''}`, DT.integer, 32);
        // hash_expr_print: `jhash EXPR mod N [seed 0xS] [offset O]`.
        const from = src ? this.left(src) : undefined;
        if (!from) return undefined;
        return R(`jhash ${from.text} mod ${e.modulus}${e.seed !== undefined ? ` seed 0x${e.seed.toString(16)}` : ''}${e.offset ? ` offset ${e.offset}` : ''}`, DT.integer, 32);
      }
      case 'xfrm': {
        const dir = e.dir === 0 ? 'in' : 'out';
        const sp = e.spnum ? ` spnum ${e.spnum}` : '';
        const keys: Record<number, [string, Datatype, number, 'big' | 'host']> = { 1: ['ip daddr', DT.ipv4_addr, 32, 'big'], 2: ['ip6 daddr', DT.ipv6_addr, 128, 'big'], 3: ['ip saddr', DT.ipv4_addr, 32, 'big'], 4: ['ip6 saddr', DT.ipv6_addr, 128, 'big'], 5: ['reqid', DT.integer, 32, 'host'], 6: ['spi', DT.integer, 32, 'big'] };
        const k = keys[e.key];
        return k ? R(`ipsec ${dir}${sp} ${k[0]}`, k[1], k[2], k[3]) : undefined;
      }
      default: return undefined;
    }
  }

  /** Range ends: like values, except that times print in plain seconds (nft's range printing). */
  rangeValue(r: Resolved, b: Uint8Array): string {
    if (r.dtype === DT.time) return `${bytesToBig(b, r.order) / 1000n}s`;
    // Symbolic types print numerically inside ranges (`arp operation 1-2`).
    if (r.dtype.symbols && !r.dtype.bitmask && r.dtype.integer && r.dtype !== DT.inet_proto) {
      const bb = r.shift ? intBytes(bytesToBig(b, 'big') >> BigInt(r.shift), r.bits, 'big') : b;
      return String(bytesToBig(bb, r.order));
    }
    return this.value(r, b);
  }

  value(r: Resolved, b: Uint8Array): string {
    if (r.shift) b = intBytes(bytesToBig(b, 'big') >> BigInt(r.shift), r.bits, 'big');
    else if (r.bits % 8 && r.order === 'big') b = intBytes(bytesToBig(b, 'big') & ((1n << BigInt(r.bits)) - 1n), r.bits, 'big');
    return valueText(r.dtype, b, this.opts, r.bits, r.order);
  }

  /** Named-set listings wrap elements (expression.c calculate_delim): this many per line, 0 = no wrapping. */
  wrap = 0;

  /** `mapData` types the data of a map, or formats it (NAT maps whose data are ranges). */
  setText(left: LExpr, r: Resolved, desc: B.SetDescriptor | undefined, name: string, mapData?: Resolved | ((data: Uint8Array) => string)): string {
    if (!desc) return `@${name}`;
    const items: string[] = [];
    const key = (k: Uint8Array): string => {
      if (left.k === 'concat') {
        let off = 0;
        return left.parts.map((p) => { const pr = this.left(p)!; const n = Math.ceil(pr.bits / 8); const t = this.value(pr, k.subarray(off, off + n)); off += Math.ceil(n / 4) * 4; return t; }).join(' . ');
      }
      return this.value(r, r.shift || r.bits % 8 ? k : k.subarray(0, Math.ceil(r.bits / 8) || k.length));
    };
    const data = (el: B.SetElement): string => {
      if (el.verdict) return ` : ${verdictText(el.verdict)}`;
      if (el.data && mapData) return ` : ${typeof mapData === 'function' ? mapData(el.data) : this.value(mapData, el.data)}`;
      if (el.objref) return ` : "${el.objref}"`;
      return '';
    };
    if (desc.flags & B.NFT_SET_INTERVAL && !(desc.flags & B.NFT_SET_CONCAT)) {
      const els = desc.elements;
      for (let i = 0; i < els.length; i++) {
        const el = els[i]!;
        if (el.flags & B.NFT_SET_ELEM_INTERVAL_END) continue;
        const next = els[i + 1];
        const lo = bytesToBig(el.key, 'big');
        const hi = next ? bytesToBig(next.key, 'big') - 1n : (1n << BigInt(el.key.length * 8)) - 1n;
        const enc = (v: bigint): Uint8Array => { const bb = intBytes(v, el.key.length * 8, 'big'); return r.order === 'host' ? bb.reverse() : bb; };
        const span = hi - lo + 1n;
        const isPrefix = (r.dtype === DT.ipv4_addr || r.dtype === DT.ipv6_addr) && (span & (span - 1n)) === 0n && (lo & (span - 1n)) === 0n;
        if (lo === hi) items.push(key(enc(lo)) + data(el));
        else if (isPrefix) items.push(`${key(enc(lo))}/${el.key.length * 8 - (span.toString(2).length - 1)}` + data(el));
        else items.push(`${this.rangeValue(r, enc(lo))}-${this.rangeValue(r, enc(hi))}` + data(el));
      }
    } else if (desc.flags & B.NFT_SET_CONCAT && left.k === 'concat') {
      for (const el of desc.elements) {
        let off = 0;
        const parts = left.parts.map((p) => {
          const pr = this.left(p)!;
          const n = Math.ceil(pr.bits / 8);
          const lo = this.value(pr, el.key.subarray(off, off + n));
          const hiB = el.keyEnd ? el.keyEnd.subarray(off, off + n) : undefined;
          off += Math.ceil(n / 4) * 4;
          if (!hiB) return lo;
          const hi = this.value(pr, hiB);
          if (hi === lo) return lo;
          const a = bytesToBig(el.key.subarray(off - Math.ceil(n / 4) * 4, off - Math.ceil(n / 4) * 4 + n), 'big');
          const b2 = bytesToBig(hiB, 'big');
          const span = b2 - a + 1n;
          if ((pr.dtype === DT.ipv4_addr || pr.dtype === DT.ipv6_addr) && (span & (span - 1n)) === 0n && (a & (span - 1n)) === 0n) return `${lo}/${n * 8 - (span.toString(2).length - 1)}`;
          return `${lo}-${hi}`;
        });
        items.push(parts.join(' . ') + data(el));
      }
    } else {
      // nft lists set elements sorted by key value (set_sort in segtree/netlink listing).
      // A concatenation's key compares as one host-order number (mpz of the whole key), so its
      // last component weighs most.
      const order = left.k === 'concat' ? 'host' : r.order;
      const sorted = [...desc.elements].sort((a, b) => {
        if (a.flags & B.NFT_SET_ELEM_CATCHALL) return 1;
        if (b.flags & B.NFT_SET_ELEM_CATCHALL) return -1;
        const x = bytesToBig(a.key, order), y = bytesToBig(b.key, order);
        return x < y ? -1 : x > y ? 1 : 0;
      });
      // A flag combination inside a set is an OR of flags (`{ syn, syn | ack }`).
      const keyText = (k: Uint8Array): string => (r.dtype.bitmask && left.k !== 'concat' ? key(k).replace(/,/g, ' | ') : key(k));
      for (const el of sorted) items.push((el.flags & B.NFT_SET_ELEM_CATCHALL ? '*' : keyText(el.key)) + data(el));
    }
    if (this.wrap > 0) {
      let text = '';
      items.forEach((it, i) => { text += i === 0 ? it : i % this.wrap === 0 ? `,\n\t\t\t     ${it}` : `, ${it}`; });
      return `{ ${text} }`;
    }
    return `{ ${items.join(', ')} }`;
  }

  match(s: Extract<LStmt, { k: 'match' }>): string | undefined {
    if ((s.op === 'flag' || s.op === 'noflag') && s.right.k === 'value' && (s.left.k === 'payload' || s.left.k === 'exthdr')) {
      // A masked sub-byte field compared with 0 looks like a flag test in bytecode.
      const field = this.left({ k: 'binop', op: '&', left: s.left, right: s.right.bytes });
      if (field && !field.dtype.bitmask && !(field as { binop?: string }).binop) {
        return `${field.text} ${s.op === 'flag' ? '!= ' : ''}${this.value(field, new Uint8Array(s.right.bytes.length))}`;
      }
    }
    if (s.left.k === 'payload' && s.right.k === 'value' && !resolvePayload(s.left, this.ctx)) {
      const split = splitPayload(s.left, this.ctx, s.right.bytes, this.opts);
      if (split && s.op === 'eq') return split.join(' ');
      const pre = prefixOfPayload(s.left, this.ctx);
      if (!pre) return `${rawText(s.left)} ${s.op === 'neq' ? '!= ' : ''}0x${bytesToBig(s.right.bytes, 'big').toString(16)}`;
      if (pre) return `${pre.text} ${s.op === 'neq' ? '!= ' : ''}${valueText(pre.dtype, padBytes(s.right.bytes, pre.bits / 8), this.opts, pre.bits, 'big')}/${s.left.len * 8}`;
    }
    const r = this.left(s.left);
    if (!r) return undefined;
    const v = s.right;
    if ((s.op === 'flag' || s.op === 'noflag') && (r.dtype === DT.ipv4_addr || r.dtype === DT.ipv6_addr) && v.k === 'value') {
      // `addr & mask == 0`: with a leading-ones mask it is the all-zero network
      // (`0.0.0.0/1`, `0.0.0.0/0`), which binop_postprocess turns back into a prefix;
      // otherwise the binop stays, compared with an address.
      const m = bytesToBig(v.bytes, 'big');
      const zero = this.value(r, new Uint8Array(v.bytes.length));
      if (isPrefixMask(m, v.bytes.length * 8)) return `${r.text} ${s.op === 'flag' ? '!= ' : ''}${zero}/${m === 0n ? 0 : v.bytes.length * 8 - maskInfo(v.bytes).shift}`;
      return `${r.text} & ${this.value(r, v.bytes)} ${s.op === 'flag' ? '!=' : '=='} ${zero}`;
    }
    if ((s.op === 'flag' || s.op === 'noflag') && !r.dtype.bitmask && v.k === 'value') {
      // `x & mask != 0` on a plain integer is not a flag test: print the binop, the zero in
      // the type's own notation (`meta mark & 0x00004000 == 0x00000000`).
      return `${r.text} & ${this.value(r, v.bytes)} ${s.op === 'flag' ? '!=' : '=='} ${this.value(r, new Uint8Array(v.bytes.length))}`;
    }
    const opText = { eq: '', neq: '!= ', lt: '< ', lte: '<= ', gt: '> ', gte: '>= ', flag: '', noflag: '! ' }[s.op];
    if (v.k === 'set') return `${r.text} ${s.op === 'eq' && s.left.k === 'binop' && r.dtype.bitmask ? '== ' : opText}${this.setText(s.left, r, v.desc, v.name)}`;
    if (v.k === 'range') return `${r.text} ${opText}${this.rangeValue(r, v.lo)}-${this.rangeValue(r, v.hi)}`;
    if (v.k === 'value' && s.left.k === 'binop' && s.left.op === '&' && (s.op === 'eq' || s.op === 'neq')) {
      const inner = this.left(s.left.left);
      const masked = s.left.left.k === 'payload' ? resolvePayload(s.left.left, this.ctx, s.left.right) : s.left.left.k === 'exthdr' ? exthdrText(s.left.left.e, s.left.right) : undefined;
      if (inner && !masked) {
        const mask = bytesToBig(s.left.right, 'big');
        const val = bytesToBig(v.bytes, 'big');
        const bitsAll = s.left.right.length * 8;
        const { shift, bits } = maskInfo(s.left.right);
        // `flags value / mask` on flag types; a prefix `/len` where the mask is one.
        if (inner.dtype.bitmask) {
          // `flags & syn == syn` keeps its binop form; other masks print `value / mask`.
          if (mask === val && (mask & (mask - 1n)) === 0n) return `${inner.text} & ${this.value(inner, s.left.right)} ${s.op === 'neq' ? '!=' : '=='} ${this.value(inner, v.bytes)}`;
          return `${inner.text} ${s.op === 'neq' ? '!= ' : ''}${this.value(inner, v.bytes)} / ${this.value(inner, s.left.right)}`;
        }
        // Raw payload bits have no prefix notation: nft prints the mask (`@ll,0,8 & 0x80 == 0x80`).
        if (s.left.left.k === 'payload' && inner.text.startsWith('@')) return `${inner.text} & 0x${mask.toString(16)} ${s.op === 'neq' ? '!=' : '=='} 0x${val.toString(16)}`;
        const hostMask = bytesToBig(s.left.right, inner.order);
        const len = bitsAll - (inner.order === 'big' ? shift : maskInfo(intBytes(hostMask, bitsAll, 'big')).shift);
        const contiguous = inner.order === 'big' ? shift + bits === bitsAll : true;
        // `ip daddr 0.0.0.0/0` keeps a zero mask; it lists as prefix length 0.
        if (mask === 0n && val === 0n && (inner.dtype === DT.ipv4_addr || inner.dtype === DT.ipv6_addr)) return `${inner.text} ${s.op === 'neq' ? '!= ' : ''}${this.value(inner, v.bytes)}/0`;
        if (contiguous && mask !== 0n && (val & ~mask) === 0n && isPrefixMask(hostMask, bitsAll)) return `${inner.text} ${s.op === 'neq' ? '!= ' : ''}${this.value(inner, v.bytes)}/${len}`;
      }
    }
    if (v.k === 'value' && s.left.k === 'ct' && (s.op === 'eq' || s.op === 'neq') && (r.dtype === DT.ipv4_addr || r.dtype === DT.ipv6_addr) && v.bytes.length < r.bits / 8) {
      // A prefix on a ct address compares only the prefix bytes (nft trims the cmp).
      return `${r.text} ${opText}${valueText(r.dtype, padBytes(v.bytes, r.bits / 8), this.opts, r.bits, 'big')}/${v.bytes.length * 8}`;
    }
    if (v.k === 'value' && (s.left.k === 'meta' || s.left.k === 'ct') && (s.op === 'eq' || s.op === 'neq') && (r.dtype === DT.ifname || r.dtype === DT.string) && v.bytes.length < r.bits / 8) {
      return `${r.text} ${opText}${valueText(r.dtype, v.bytes).slice(0, -1)}*"`;
    }
    if (v.k === 'value') {
      if (s.left.k === 'payload' && !resolvePayload(s.left, this.ctx)) {
        const parts = splitPayload(s.left, this.ctx, v.bytes);
        if (parts) return parts.join(' ');
      }
      // `tcp flags == syn` keeps its operator on a flag type; plain types imply ==.
      const explicitEq = s.op === 'eq' && ((r as { binop?: string }).binop !== undefined || (r.dtype.bitmask && s.left.k !== 'binop')) ? '== ' : '';
      let text = this.value(r, v.bytes);
      // An exact match on several TCP flags prints as a number (`tcp flags == 0x12`).
      if (r.dtype === DT.tcp_flag && !(r as { binop?: string }).binop && (s.op === 'eq' || s.op === 'neq') && text.includes(',')) return `${r.text} ${s.op === 'neq' ? '!=' : '=='} 0x${bytesToBig(v.bytes, 'big').toString(16)}`;
      if (s.left.k === 'exthdr' && s.left.e.flags & B.NFT_EXTHDR_F_PRESENT) {
        const on = v.bytes[0] !== 0;
        return `${r.text} ${s.op === 'neq' ? '!= ' : ''}${on ? 'exists' : 'missing'}`;
      }
      if ((r.dtype === DT.ifname || r.dtype === DT.string) && text.endsWith('*"')) text = text.slice(0, -2) + '\\*"';
      return `${r.text} ${explicitEq}${opText}${text}`;
    }
    return undefined;
  }

  /** Updates the protocol context from a match (proto_ctx_update). */
  learn(s: LStmt): void {
    if (s.k === 'match' && s.op === 'eq' && s.left.k === 'payload' && s.left.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && s.left.offset === 0 && s.left.len === 1 && (this.ctx.th === 'icmp' || this.ctx.th === 'icmpv6')) {
      // A type set (`icmp type { echo-reply, echo-request }`) leaves its lowest element behind.
      if (s.right.k === 'value') this.ctx.icmpType = s.right.bytes[0];
      else if (s.right.k === 'set' && s.right.desc?.elements.length) this.ctx.icmpType = Math.min(...s.right.desc.elements.map((x) => x.key[0] ?? 0));
      return;
    }
    if (s.k !== 'match' || s.op !== 'eq' || s.right.k !== 'value') return;
    const v = Number(bytesToBig(s.right.bytes, s.left.k === 'meta' && s.left.key === 'protocol' ? 'big' : 'big'));
    const l = s.left;
    if (l.k === 'meta' && l.key === 'l4proto') this.ctx.th = IPPROTO_NAMES[v];
    else if (l.k === 'meta' && l.key === 'nfproto') this.ctx.nh = v === 2 ? 'ip' : v === 10 ? 'ip6' : this.ctx.nh;
    else if (l.k === 'meta' && l.key === 'protocol') this.ctx.nh = v === 0x0800 ? 'ip' : v === 0x86dd ? 'ip6' : v === 0x0806 ? 'arp' : this.ctx.nh;
    else if (l.k === 'meta' && l.key === 'iiftype' && v === 0x100) this.ctx.ll = 'ether';
    else if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_NETWORK_HEADER && ((this.ctx.nh === 'ip' && l.offset === 9) || (this.ctx.nh === 'ip6' && l.offset === 6)) && l.len === 1) this.ctx.th = IPPROTO_NAMES[v];
    else if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_LL_HEADER && (l.offset === 12 || l.offset === 16 || l.offset === 20) && l.len === 2) this.ctx.nh = v === 0x0800 ? 'ip' : v === 0x86dd ? 'ip6' : v === 0x0806 ? 'arp' : this.ctx.nh;
  }

  stmt(s: LStmt): string | undefined {
    switch (s.k) {
      case 'match': return this.match(s);
      case 'vmap': {
        const r = this.left(s.key);
        if (!r) return undefined;
        return `${r.text} vmap ${this.setText(s.key, r, s.desc, s.set)}`;
      }
      case 'set': {
        const v = s.value;
        if (s.target.k === 'payload' && v.k === 'binop' && v.op === '^' && v.left.k === 'binop' && v.left.op === '&' && v.left.left.k === 'payload') {
          // load + (& ~field) ^ value + write: a field narrower than the write (payload_stmt).
          const inv = v.left.right.map((b) => ~b & 0xff);
          const f = resolvePayload(s.target, this.ctx, inv);
          if (f) return `${f.text} set ${this.value(f, v.right)}`;
        }
        if (s.target.k === 'payload' && v.k === 'binop' && (v.op === '&' || v.op === '|') && v.left.k === 'payload') {
          // The mask/xor pair degenerates to & (value 0) or | (value = all field bits).
          const fieldMask = v.op === '&' ? v.right.map((b) => ~b & 0xff) : v.right;
          const f = resolvePayload(s.target, this.ctx, fieldMask);
          if (f) return `${f.text} set ${this.value(f, v.op === '&' ? new Uint8Array(v.right.length) : v.right)}`;
        }
        const t = this.left(s.target);
        if (!t) return undefined;
        return `${t.text} set ${this.rvalue(s.value, t)}`;
      }
      case 'stmt': return this.action(s.e, s.regs, s.meter);
    }
  }

  rvalue(e: LExpr, t: Resolved): string {
    if (e.k === 'imm') return this.value(t, e.data);
    if (e.k === 'map') {
      const k = this.left(e.key);
      if (!k) return '?';
      return `${k.text} map ${this.setText(e.key, k, e.setDesc, e.set, t)}`;
    }
    const r = this.left(e);
    return r ? r.text : '?';
  }

  /** A statement expression (verdict, counter, nat, ...) as nft prints it; see print-stmt.ts. */
  action(e: B.Expr, regs: Map<number, LExpr>, meter?: B.SetDescriptor): string | undefined {
    return actionText(this, e, regs, meter);
  }

  regText(regs: Map<number, LExpr>, reg: number, dtype: Datatype): string {
    const e = regs.get(reg);
    if (e?.k === 'imm') return valueText(dtype, e.data, this.opts);
    if (e?.k === 'map') return this.rvalue(e, { text: '', dtype, shift: 0, bits: dtype.size || 32, order: dtype.byteorder });
    if (e) { const r = this.left(e); if (r) return r.text; }
    return '?';
  }
}

function rawText(p: Extract<LExpr, { k: 'payload' }>): string {
  return `@${['ll', 'nh', 'th', 'ih'][p.base] ?? 'll'},${p.offset * 8},${p.len * 8}`;
}

function padBytes(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(b.subarray(0, n));
  return out;
}

/** A payload load shorter than its field at the field's offset: nft's trimmed prefix match. */
function prefixOfPayload(p: Extract<LExpr, { k: 'payload' }>, ctx: ProtoContext): { text: string; dtype: Datatype; bits: number } | undefined {
  const desc = protoAt(ctx, p.base);
  if (!desc) return undefined;
  const off = (p.offset - desc.baseOffset) * 8;
  for (const [name, f] of Object.entries(desc.fields)) {
    if (f.offset === off && f.len > p.len * 8 && (f.dtype === 'ipv4_addr' || f.dtype === 'ipv6_addr' || f.dtype === 'ether_addr')) return { text: `${desc.name} ${name}`, dtype: lookupDatatype(f.dtype)!, bits: f.len };
  }
  return undefined;
}

function isPrefixMask(m: bigint, bits: number): boolean {
  const inv = ~m & ((1n << BigInt(bits)) - 1n);
  return (inv & (inv + 1n)) === 0n;
}

/** Does a NAT/tproxy statement's address (not its port) read the transport header? */
function natAddrUsesTransport(s: LStmt): boolean {
  if (s.k !== 'stmt') return false;
  const e = s.e;
  const reg = e.type === 'nat' ? e.sregAddrMin : e.type === 'tproxy' ? e.sregAddr : undefined;
  const a = reg === undefined ? undefined : s.regs.get(reg);
  return a !== undefined && uses({ k: 'set', target: a, value: a }, 'l4');
}

/** The listing of one rule's bytecode, as `nft -s -p list` prints it inside its chain. */
export function listRule(exprs: readonly B.Expr[], sets: readonly B.SetDescriptor[], family: Family, opts?: PrintOptions, namedKeyLen?: ReadonlyMap<string, number>): string {
  const stmts = delinearize(exprs, sets, namedKeyLen);
  const p = new RulePrinter(family, opts);
  const parts: string[] = [];
  for (let i = 0; i < stmts.length; i++) {
    const fields = expandMatch(stmts[i]!, p.ctx);
    if (fields) stmts.splice(i, 1, ...fields);
    const s = stmts[i]!;
    const dep = isDependency(s, family);
    p.learn(s);
    if (dep === 'l3' && stmts.some((x) => x.k === 'stmt' && x.e.type === 'reject' && x.e.rejectType === B.NFT_REJECT_ICMP_UNREACH)) continue;
    if (dep === 'l3') {
      const n = stmts[i + 1];
      const nextIsL4 = n && isDependency(n, family) === 'l4' && n.k === 'match' && n.right.k === 'value';
      const v4v6Only = nextIsL4 && [1, 2, 58].includes((n.right as { bytes: Uint8Array }).bytes[0]!);
      const nextPayloadStmt = stmts.slice(i + 1).find((x) => { const d = isDependency(x, family); return d === undefined || d === 'type'; });
      const onlyTransport = nextPayloadStmt && !uses(nextPayloadStmt, 'l3net') && uses(nextPayloadStmt, 'l3');
      // icmp/igmp imply ipv4 and icmpv6 ipv6; the other family is the user's own match.
      const l4 = v4v6Only ? (n.right as { bytes: Uint8Array }).bytes[0]! : 0;
      const nfv = s.k === 'match' && s.right.k === 'value' ? Number(bytesToBig(s.right.bytes, 'big')) : -1;
      const v4 = s.k === 'match' && s.left.k === 'meta' && s.left.key === 'nfproto' ? nfv === 2 : nfv === 0x0800;
      const mismatched = v4v6Only && (l4 === 58 ? v4 : !v4);
      // In an ip/ip6 table, `meta protocol` of the table's own family says nothing new.
      const ownFamily = s.k === 'match' && s.left.k === 'meta' && s.left.key === 'protocol' && ((family === 'ip' && nfv === 0x0800) || (family === 'ip6' && nfv === 0x86dd));
      if (((onlyTransport && !v4v6Only) || mismatched) && !ownFamily) { parts.push(p.stmt(s) ?? '<match>'); continue; }
    }
    if (dep === 'l4') {
      const n = stmts[i + 1];
      // The tcp dependency of `reject with tcp reset` is implied in ip/ip6 tables only.
      if ((family === 'ip' || family === 'ip6') && stmts.slice(i + 1).some((x) => x.k === 'stmt' && x.e.type === 'reject' && x.e.rejectType === B.NFT_REJECT_TCP_RST) && s.k === 'match' && s.right.k === 'value' && s.right.bytes[0] === 6) continue;
      void n;
      if (stmts.slice(i + 1).some((x) => x.k === 'stmt' && x.e.type === 'reject') && !stmts.slice(i + 1).some((x) => uses(x, 'l4') && !(x.k === 'stmt'))) { parts.push(p.stmt(s) ?? '<match>'); continue; }
    }
    if (dep === 'l2' && s.k === 'match' && s.left.k === 'meta' && stmts.slice(i + 1).some((x) => uses(x, 'l2'))) continue;
    if (dep === 'l4' && s.k === 'match' && s.right.k === 'value' && IPPROTO_NAMES[s.right.bytes[0]!] === undefined) {
      // A protocol nft has no header description for implies nothing: raw `@th` loads keep it.
      parts.push(p.stmt(s) ?? '<match>');
      continue;
    }
    if (dep === 'l4') {
      // payload_dependency_kill: the next statement on the transport header implies it, even
      // with other matches in between.
      const later = stmts.slice(i + 1);
      const user = later.find((x) => uses(x, 'l4') || isDependency(x, family) === 'l4');
      // Any other statement in between ends the dependency's reach (nft keeps
      // `ip protocol tcp counter tcp dport 22` as written).
      const between = user ? later.slice(0, later.indexOf(user)) : [];
      // rule_maybe_reset_payload_deps: every statement but a match resets the stored
      // dependency. rule_parse_postprocess resets it before a NAT or tproxy port too, so
      // only their address expression (`dnat to tcp dport map { ... }`) consumes it.
      const natUser = user !== undefined && user.k === 'stmt' && ['nat', 'redir', 'masq', 'tproxy'].includes(user.e.type);
      const natKeeps = natUser && !natAddrUsesTransport(user);
      const interrupted = between.some((x) => x.k !== 'match');
      if (user && !interrupted && !natKeeps && isDependency(user, family) !== 'l4' && uses(user, 'l4')) continue;
      if (user && !interrupted && natKeeps) { parts.push(p.stmt(s) ?? '<match>'); continue; }
    }
    if (dep === 'type' && (p.ctx.th === 'icmp' || p.ctx.th === 'icmpv6')) {
      // payload_may_dependency_kill_icmp: only an `icmp type == X` that a later field's
      // icmp_dep names goes away; echo types and type sets stay in the listing.
      if (s.k === 'match' && s.right.k === 'value' && icmpTypeImplied(stmts, i, p.ctx.th, s.right.bytes[0]!)) continue;
      parts.push(p.stmt(s) ?? '<match>');
      continue;
    }
    if (dep) {
      const next = stmts.slice(i + 1).find((x) => { const d = isDependency(x, family); return d === undefined || d === 'type' || (dep === 'l2' && d !== 'l3' && d !== 'l4'); });
      if (next && uses(next, dep) && !(dep === 'type' && s.k === 'match' && s.right.k === 'value' && !usesIcmpTypeField(stmts, i))) continue;
    }
    const t = p.stmt(s);
    parts.push(t ?? `<${s.k === 'stmt' ? s.e.type : s.k}>`);
  }
  return parts.join(' ');
}

export { timeText };
