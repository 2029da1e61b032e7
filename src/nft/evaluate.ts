/**
 * Evaluation (nftables src/evaluate.c): gives every expression its datatype,
 * length and byte order, turns symbols into register bytes, and works out the
 * protocol dependencies nft adds (family-dependent). The result, an Operand,
 * is what the linearizer loads into a register.
 */
import * as B from '../netfilter/bytecode.js';
import type { Expr, Family, Loc } from './ast.js';
import { DT, type Datatype, bytesToBig, intBytes, integerType, lookupDatatype, parseIntText } from './datatypes.js';
import { NftError, nearest } from './diagnostics.js';
import { parseTime } from './parser-expr.js';
import { CT_KEYS, META_KEYS, PROTOCOLS, ARP_ADDR_FIELDS, type ProtoField } from './proto.js';
import { exthdrOperand } from './exthdr.js';

/** A dependency nft inserts before a match: `meta l4proto tcp`, `meta nfproto ipv4`, ... */
export interface Dep {
  key: string;
  exprs: (reg: number) => B.Expr[];
  /** A dependency that is a lookup in an anonymous set of these one-byte values (`icmp type { echo-request, echo-reply }`). */
  setValues?: number[];
  /** Implied by another protocol (icmpv6 → ip6): nft does not call a mismatch a conflict. */
  weak?: boolean;
}

/** ICMP fields that exist only for some types: nft adds a type match (proto.c, PROTO_HDR dependencies). */
const ICMP_TYPE_DEPS: Record<string, number[]> = {
  'icmp id': [0, 8], 'icmp sequence': [0, 8], 'icmp gateway': [5], 'icmp mtu': [3],
  'icmpv6 id': [128, 129], 'icmpv6 sequence': [128, 129], 'icmpv6 mtu': [2], 'icmpv6 param-problem': [4],
  'icmpv6 max-delay': [130],
};

/** An evaluated left-hand expression: how to load it and how its values look in the register. */
export interface Operand {
  dtype: Datatype;
  /** Bits of the logical value. */
  bits: number;
  byteorder: 'big' | 'host';
  /** Bytes the load puts in the register. */
  regBytes: number;
  /** Bit position of the value inside the loaded bytes (payload fields not on byte boundaries). */
  shift: number;
  /** Mask nft applies after the load, for sub-byte fields. */
  mask?: Uint8Array;
  deps: Dep[];
  /** The loads, into `reg` (netlink numbering). */
  load: (reg: number) => B.Expr[];
  /** Concatenation: the parts. */
  parts?: Operand[];
  /** Payload location, for statements that write it back. */
  payload?: { base: number; offset: number; len: number };
  meta?: number;
  ct?: { key: number; dir?: number };
  exthdr?: B.ExthdrExpr;
  loc: Loc;
}

export interface EvalEnv {
  family: Family;
  /** Named sets of the table, for `@name` references. */
  sets: Map<string, { keyDtype: Datatype; keyBits: number; keyByteorder: 'big' | 'host'; isMap: boolean; flags: number; dataDtype?: Datatype; dataBits?: number; parts?: { dtype: Datatype; bits: number; byteorder: 'big' | 'host' }[] }>;
  defines: Map<string, Expr>;
  /** The network protocol an earlier match of the rule fixed (`meta nfproto ipv4`). */
  l3?: 'ip' | 'ip6';
  /** Named stateful objects of the table (name → type), when known: references are checked. */
  objects?: Map<string, string>;
  /** Hook of the base chain the rule goes into, when known (NAT statements check it). */
  hook?: string;
  /**
   * VLAN tags the rule has already stepped over (`vlan type 8021q` inside a tag): nft's
   * proto_ctx stacked_ll; later `vlan` fields sit 4 bytes further per tag.
   */
  vlanDepth?: number;
}

/** Meta keys only nft_meta_bridge.c implements (NFT_META_BRI_IIFNAME ... NFT_META_BRI_IIFVPROTO). */
const BRIDGE_META_KEYS = new Set(['ibrname', 'obrname', 'ibrpvid', 'ibrvproto']);

const err = (msg: string, loc?: Loc): NftError => new NftError('GENERIC', [msg], loc);

function l4dep(family: Family, protoName: string, num: number): Dep[] {
  const deps: Dep[] = [];
  // nft checks the network protocol too for protocols that exist in one IP version only.
  const v4only = protoName === 'icmp' || protoName === 'igmp';
  const v6only = protoName === 'icmpv6';
  if (v4only || v6only) deps.push(...l3dep(family, v4only ? 'ip' : 'ip6').map((d) => ({ ...d, weak: true })));
  deps.push({ key: `l4:${num}`, exprs: (r) => [{ type: 'meta', key: B.NFT_META.L4PROTO, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: Uint8Array.of(num) }] });
  return deps;
}

export function l3dep(family: Family, proto: 'ip' | 'ip6' | 'arp'): Dep[] {
  const nfproto = proto === 'ip' ? 2 : proto === 'ip6' ? 10 : 3;
  const ethertype = proto === 'ip' ? 0x0800 : proto === 'ip6' ? 0x86dd : 0x0806;
  if (family === 'inet' && proto !== 'arp') {
    return [{ key: `l3:${proto}`, exprs: (r) => [{ type: 'meta', key: B.NFT_META.NFPROTO, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: Uint8Array.of(nfproto) }] }];
  }
  if (family === 'bridge' || family === 'netdev') {
    return [{ key: `l3:${proto}`, exprs: (r) => [{ type: 'meta', key: B.NFT_META.PROTOCOL, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: intBytes(BigInt(ethertype), 16, 'big') }] }];
  }
  return [];
}

function l2dep(family: Family): Dep[] {
  if (family !== 'bridge') {
    return [{ key: 'l2:ether', exprs: (r) => [{ type: 'meta', key: B.NFT_META.IIFTYPE, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: intBytes(1n, 16, 'host') }] }];
  }
  return [];
}

/** A payload field: loads the covering bytes and masks sub-byte fields (payload_expr_gen + bitwise). */
export function payloadOperand(base: number, bitOff: number, bits: number, dtype: Datatype, deps: Dep[], loc: Loc): Operand {
  const startByte = Math.floor(bitOff / 8);
  const endByte = Math.ceil((bitOff + bits) / 8);
  const regBytes = endByte - startByte;
  const shift = regBytes * 8 - (bitOff - startByte * 8) - bits;
  let mask: Uint8Array | undefined;
  if (shift !== 0 || bits % 8 !== 0) mask = intBytes(((1n << BigInt(bits)) - 1n) << BigInt(shift), regBytes * 8, 'big');
  const payload = { base, offset: startByte, len: regBytes };
  return {
    dtype, bits, byteorder: 'big', regBytes, shift, mask, deps, loc, payload,
    load: (r) => {
      const out: B.Expr[] = [{ type: 'payload', base, offset: startByte, len: regBytes, dreg: r }];
      if (mask) out.push({ type: 'bitwise', sreg: r, dreg: r, len: regBytes, op: B.NFT_BITWISE_BOOL, mask, xor: new Uint8Array(regBytes) });
      return out;
    },
  };
}

function simpleOperand(dtype: Datatype, bits: number, byteorder: 'big' | 'host', load: (r: number) => B.Expr[], loc: Loc, deps: Dep[] = []): Operand {
  return { dtype, bits, byteorder, regBytes: Math.ceil(bits / 8), shift: 0, deps, load, loc };
}

export function evalOperand(e: Expr, env: EvalEnv): Operand {
  switch (e.kind) {
    case 'payload': {
      if (e.raw) {
        const dt = integerType('big');
        const deps = e.raw.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && env.family !== 'netdev' && env.family !== 'bridge' ? [] : [];
        return payloadOperand(e.raw.base, e.raw.offset, e.raw.len, dt, deps, e.loc);
      }
      const p = PROTOCOLS[e.proto]!;
      let f: ProtoField | undefined = p.fields[e.field] ?? ARP_ADDR_FIELDS[e.field];
      if (!f) throw err(`unknown ${e.proto} field ${e.field}`, e.loc);
      const dtype = lookupDatatype(f.dtype)!;
      let deps: Dep[] = [];
      if (p.layer === 4 && p.protoNum !== undefined) deps = l4dep(env.family, p.name, p.protoNum);
      else if (p.layer === 4 && p.name === 'th') deps = [];
      else if (p.layer === 3) {
        if (env.family === 'ip6' && p.name === 'ip') throw err('conflicting protocols specified: ip6 vs. ip', e.loc);
        if (env.family === 'ip' && p.name === 'ip6') throw err('conflicting protocols specified: ip vs. ip6', e.loc);
        if ((env.family === 'arp') !== (p.name === 'arp') && env.family !== 'netdev' && env.family !== 'bridge') {
          throw err(`conflicting protocols specified: ${env.family} vs. ${p.name}`, e.loc);
        }
        deps = l3dep(env.family, p.name as 'ip');
      } else if (p.name === 'ether') deps = l2dep(env.family);
      else if (p.name === 'vlan') {
        deps = [...l2dep(env.family), { key: 'l2:vlan', exprs: (r) => [{ type: 'payload', base: B.NFT_PAYLOAD_LL_HEADER, offset: 12, len: 2, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: Uint8Array.of(0x81, 0) }] }];
      }
      f = { ...f, offset: f.offset + (p.baseOffset + (p.name === 'vlan' ? 4 * (env.vlanDepth ?? 0) : 0)) * 8 };
      const typeDep = ICMP_TYPE_DEPS[`${p.name} ${e.field}`];
      if (typeDep) {
        deps = [...deps, {
          key: `type:${p.name}:${[...typeDep].sort((a, b) => a - b).join(',')}`,
          exprs: (r) => [{ type: 'payload', base: B.NFT_PAYLOAD_TRANSPORT_HEADER, offset: 0, len: 1, dreg: r }, ...(typeDep.length === 1 ? [{ type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: Uint8Array.of(typeDep[0]!) } as B.CmpExpr] : [])],
          setValues: typeDep.length > 1 ? typeDep : undefined,
        }];
      }
      return payloadOperand(p.base, f.offset, f.len, dtype, deps, e.loc);
    }
    case 'meta': {
      const k = META_KEYS[e.key];
      if (!k) throw err(`unknown meta key ${e.key}`, e.loc);
      // expr_evaluate_meta(): only an inet table sees packets of more than one network protocol.
      if (e.key === 'nfproto' && env.family !== 'inet') throw err('meta nfproto is only useful in the inet family', e.loc);
      // Kernel side: the bridge keys live in nft_meta_bridge, registered for NFPROTO_BRIDGE
      // only; nft_meta_get_init() of any other family refuses them with EOPNOTSUPP.
      if (BRIDGE_META_KEYS.has(e.key) && env.family !== 'bridge') throw err('Could not process rule: Operation not supported', e.loc);
      const dtype = lookupDatatype(k.dtype)!;
      const op = simpleOperand(dtype, k.len, k.byteorder, (r) => [{ type: 'meta', key: k.id, dreg: r }], e.loc);
      op.meta = k.id;
      if (e.key === 'iifname' || e.key === 'oifname' || e.key === 'ibrname' || e.key === 'obrname' || e.key.endsWith('kind') || e.key === 'sdifname') op.regBytes = 16;
      return op;
    }
    case 'ct': {
      let key = e.key;
      let k = CT_KEYS[key];
      let dtype: Datatype;
      let bits: number;
      let keyId: number;
      let byteorder: 'big' | 'host';
      const m = /^(ip6?) ([sd]addr)$/.exec(key);
      if (m) {
        const v6 = m[1] === 'ip6';
        if ((v6 && (env.family === 'ip' || env.l3 === 'ip')) || (!v6 && (env.family === 'ip6' || env.l3 === 'ip6'))) {
          throw new NftError('CONFLICT', [v6 ? 'ip' : 'ip6', m[1]!], e.loc);
        }
        keyId = m[2] === 'saddr' ? (v6 ? B.NFT_CT.SRC_IP6 : B.NFT_CT.SRC_IP) : v6 ? B.NFT_CT.DST_IP6 : B.NFT_CT.DST_IP;
        dtype = v6 ? DT.ipv6_addr : DT.ipv4_addr;
        bits = v6 ? 128 : 32;
        byteorder = 'big';
      } else {
        if (key === 'l3proto') key = 'l3proto';
        k = CT_KEYS[key];
        if (!k) throw err(`unknown ct key ${e.key}`, e.loc);
        keyId = k.id;
        dtype = lookupDatatype(k.dtype)!;
        bits = k.len;
        byteorder = k.byteorder;
        if ((key === 'saddr' || key === 'daddr')) {
          if (env.family === 'ip6' || env.l3 === 'ip6') { dtype = DT.ipv6_addr; bits = 128; }
          else if (env.family !== 'ip' && env.l3 !== 'ip') throw err(`cannot determine ip protocol version, use "ip ${key}" or "ip6 ${key}" instead`, e.loc);
        }
        if (key === 'expiration') { dtype = DT.time; }
      }
      const dir = e.dir === undefined ? undefined : e.dir === 'original' ? 0 : 1;
      // ct.c: these keys are per connection, not per direction; addresses need one.
      if (dir !== undefined && ['state', 'direction', 'status', 'mark', 'secmark', 'expiration', 'helper', 'label', 'event', 'id'].includes(key)) {
        throw new NftError('GENERIC', [`direction is not supported for ct ${key}`], e.loc);
      }
      if (dir === undefined && (m || ['saddr', 'daddr', 'proto-src', 'proto-dst'].includes(key))) {
        throw new NftError('GENERIC', [`missing direction for ct ${key}`], e.loc);
      }
      const op = simpleOperand(dtype, bits, byteorder, (r) => [{ type: 'ct', key: keyId, dreg: r, dir }], e.loc);
      if (key === 'helper') op.regBytes = 16;
      op.ct = { key: keyId, dir };
      return op;
    }
    case 'exthdr':
      return exthdrOperand(e, env);
    case 'concat': {
      for (const p of e.parts) requireCtAddrFamily(p);
      const parts = e.parts.map((p) => evalOperand(p, env));
      const bits = parts.reduce((n, p) => n + Math.ceil(p.regBytes / 4) * 32, 0);
      const op: Operand = {
        dtype: DT.invalid, bits, byteorder: 'big', regBytes: bits / 8, shift: 0, deps: parts.flatMap((p) => p.deps), loc: e.loc, parts,
        load: (r) => {
          const out: B.Expr[] = [];
          let internal = toInternal(r);
          for (const p of parts) {
            out.push(...p.load(toNetlink(internal)));
            internal += Math.ceil(p.regBytes / 4);
          }
          return out;
        },
      };
      return op;
    }
    case 'binop': {
      const left = evalOperand(e.left, env);
      const right = evalValue(e.right, left);
      return binopOperand(e.op, left, right, e.loc);
    }
    case 'variable': {
      const v = env.defines.get(e.name);
      if (!v) throw new NftError('UNDEFINED_VAR', [e.name], e.loc);
      return evalOperand(v, env);
    }
    case 'rt': case 'fib': case 'socket': case 'osf': case 'hash': case 'numgen': case 'ipsec':
      return miscOperand(e, env);
    default:
      throw err(`syntax error, unexpected ${e.kind === 'symbol' ? e.text : e.kind}`, e.loc);
  }
}

/** `mark & 0xff`, `(meta mark | 0x10) << 8`: a bitwise over the loaded value. */
function binopOperand(op: string, left: Operand, right: Uint8Array, loc: Loc): Operand {
  const n = left.regBytes;
  const base = left.load;
  const res: Operand = { ...left, loc, mask: undefined };
  const zero = new Uint8Array(n);
  const ones = new Uint8Array(n).fill(0xff);
  res.load = (r) => {
    const out = base(r);
    if (op === '<<' || op === '>>') {
      const amount = Number(bytesToBig(right, left.byteorder));
      out.push({ type: 'bitwise', sreg: r, dreg: r, len: n, op: op === '<<' ? B.NFT_BITWISE_LSHIFT : B.NFT_BITWISE_RSHIFT, data: intBytes(BigInt(amount), 32, 'host') });
    } else if (op === '&') out.push({ type: 'bitwise', sreg: r, dreg: r, len: n, op: B.NFT_BITWISE_BOOL, mask: right, xor: zero });
    else if (op === '|') out.push({ type: 'bitwise', sreg: r, dreg: r, len: n, op: B.NFT_BITWISE_BOOL, mask: ones.map((b, i) => b & ~right[i]!), xor: right });
    else out.push({ type: 'bitwise', sreg: r, dreg: r, len: n, op: B.NFT_BITWISE_BOOL, mask: ones, xor: right });
    return out;
  };
  return res;
}

export function toInternal(reg: number): number { return reg >= 8 ? reg - 8 + 1 : (reg - 1) * 4 + 1; }
export function toNetlink(internal: number): number {
  const idx = internal - 1;
  return idx % 4 === 0 ? 1 + idx / 4 : idx + 8;
}

/** Parses a constant for `op`'s datatype into register bytes (the value, shifted for sub-byte fields). */
export function evalValue(e: Expr, op: Operand, raw = false): Uint8Array {
  const bytes = constBytes(e, op.dtype, op.bits, op.byteorder);
  if (raw || op.shift === 0) return padTo(bytes, op.regBytes);
  const v = bytesToBig(bytes, op.byteorder) << BigInt(op.shift);
  return intBytes(v, op.regBytes * 8, op.byteorder);
}

function padTo(b: Uint8Array, n: number): Uint8Array {
  if (b.length === n) return b;
  const out = new Uint8Array(n);
  out.set(b.subarray(0, n));
  return out;
}

/** The bytes of a constant of `dtype` (bits wide). */
export function constBytes(e: Expr, dtype: Datatype, bits: number, order: 'big' | 'host'): Uint8Array {
  if (e.kind === 'variable') throw new NftError('UNDEFINED_VAR', [e.name], e.loc);
  if (e.kind === 'list' || e.kind === 'binop') {
    // Flag lists and constant expressions: OR / fold them.
    const items = e.kind === 'list' ? e.items : [e.left, e.right];
    let v = 0n;
    if (e.kind === 'binop') {
      const a = bytesToBig(constBytes(e.left, dtype, bits, order), order);
      const b = bytesToBig(constBytes(e.right, dtype, bits, order), order);
      v = e.op === '|' ? a | b : e.op === '&' ? a & b : e.op === '^' ? a ^ b : e.op === '<<' ? a << b : a >> b;
    } else for (const it of items) v |= bytesToBig(constBytes(it, dtype, bits, order), order);
    return intBytes(v & ((1n << BigInt(Math.ceil(bits / 8) * 8)) - 1n), bits, order);
  }
  if (e.kind !== 'symbol') throw err(`expected a constant, got ${e.kind}`, e.loc);
  const text = e.text;
  if ((dtype === DT.ifname || dtype === DT.string) && (text === '' || new TextEncoder().encode(text).length > bits / 8)) {
    if (text === '' || dtype === DT.string) throw new NftError('GENERIC', [text === '' ? 'Empty string is not allowed' : `String exceeds maximum length of ${bits / 8}`], e.loc);
  }
  if (dtype.parse && (!e.quoted || dtype === DT.iface_index || dtype === DT.time_date || dtype === DT.hour) || dtype === DT.string || dtype === DT.ifname) {
    if (dtype.parse) {
      const b = dtype.parse(text, bits);
      if (b) return b;
    }
    // A plain number where an address is expected (`ip saddr & 0xff == 1`) is taken as an integer.
    const n = parseIntText(text);
    if (n !== undefined && dtype.size && !e.quoted && !dtype.integer) return intBytes(n, dtype.size, dtype.byteorder);
    if (dtype === DT.time_date || dtype === DT.hour) throw new NftError('BAD_VALUE', [dtype.name === 'hour' ? 'hour' : 'time'], e.loc);
    if (!dtype.integer) throw new NftError('BAD_VALUE', [`${dtype.name === 'ipv4_addr' ? 'IPv4 address' : dtype.name === 'ipv6_addr' ? 'IPv6 address' : dtype.name}`], e.loc);
  }
  if (dtype === DT.time) {
    const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseTime(text);
    if (Number.isNaN(ms)) throw new NftError('BAD_VALUE', ['time'], e.loc);
    return intBytes(BigInt(ms), bits, order);
  }
  let v = dtype.symbols?.get(text);
  if (v === undefined) v = parseIntText(text);
  if (v === undefined && dtype === DT.classid) v = parseClassid(text);
  if (v === undefined) {
    const hint = dtype.symbols ? nearest(text, dtype.symbols.keys()) : undefined;
    throw new NftError('GENERIC', [`Could not parse ${dtype.name === 'integer' ? 'integer' : dtype.name}`], e.loc, [], hint);
  }
  if (dtype === DT.ct_label) {
    // A label is a bit number in the 128-bit label bitmap (ct.c ct_label_type_parse).
    if (v > 127n) throw new NftError('GENERIC', [`ct label ${text} out of range`], e.loc);
    return intBytes(1n << v, 128, 'host');
  }
  if (dtype === DT.day && v > 6n) throw new NftError('BAD_VALUE', ['day'], e.loc);
  if (bits < 64 && v >= 1n << BigInt(bits)) throw new NftError('VALUE_TOO_LARGE', [text, String((1n << BigInt(bits)) - 1n)], e.loc);
  return intBytes(v, bits, order);
}

function parseClassid(text: string): bigint | undefined {
  if (text === 'root') return 0xffffffffn;
  if (text === 'none') return 0n;
  const m = /^([0-9a-fA-F]*):([0-9a-fA-F]*)$/.exec(text);
  if (!m) return undefined;
  return (BigInt('0x' + (m[1] || '0')) << 16n) | BigInt('0x' + (m[2] || '0'));
}

import { miscOperand } from './evaluate-misc.js';

/**
 * `ct original saddr` takes its width from the rule's network protocol, which a concatenation
 * or a map key cannot wait for (expr_evaluate_concat in nftables 1.0.6 evaluate.c).
 */
export function requireCtAddrFamily(e: Expr): void {
  if (e.kind === 'ct' && (e.key === 'saddr' || e.key === 'daddr')) throw new NftError('GENERIC', ['specify either ip or ip6 for address matching'], e.loc);
}
