/**
 * nf_nat_core.c: choosing a connection's NAT binding (nf_nat_setup_info,
 * get_unique_tuple, find_best_ips_proto, nf_nat_l4proto_unique_tuple), the
 * null binding for connections no rule bound, the per-hook rewrite
 * (nf_nat_packet / nf_nat_inet_fn) and ICMP error translation
 * (nf_nat_icmp_reply_translation, nf_nat_icmpv6_reply_translation).
 */
import type { Packet } from '../../packet/packet.js';
import type { NatRequest } from '../host-services.js';
import type { Conn, Tuple } from '../conntrack/types.js';
import {
  IPS_DST_NAT, IPS_DST_NAT_DONE, IPS_SRC_NAT, IPS_SRC_NAT_DONE, IPS_CONFIRMED, IP_CT_IS_REPLY, IP_CT_NEW, IP_CT_RELATED,
  IP_CT_RELATED_REPLY, NF_NAT_MANIP_DST, NF_NAT_MANIP_SRC, copyTuple, newTuple, sameTuple,
} from '../conntrack/types.js';
import type { ConntrackTable } from '../conntrack/table.js';
import { connOf } from '../conntrack/table.js';
import { invertTuple, hasPorts } from '../conntrack/tuple.js';
import {
  NF_NAT_RANGE_MAP_IPS, NF_NAT_RANGE_NETMAP, NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_OFFSET, NF_NAT_RANGE_PROTO_RANDOM,
  NF_NAT_RANGE_PROTO_RANDOM_FULLY, NF_NAT_RANGE_PROTO_SPECIFIED,
} from '../bytecode.js';
import { manipPacket, manipTo } from './manip.js';
import { checksumReplace16, internetChecksum, onesSum, finish, pseudoSum6 } from '../../packet/checksum.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../../packet/wire/constants.js';
import { ipv6SkipExtHeaders } from '../../packet/wire/ipv6.js';
import type { IPv6Walk } from '../../packet/wire/ipv6.js';

const NF_DROP = 0;
const NF_ACCEPT = 1;
const NF_INET_PRE_ROUTING = 0, NF_INET_LOCAL_IN = 1, NF_INET_LOCAL_OUT = 3, NF_INET_POST_ROUTING = 4;
const NF_NAT_RANGE_PROTO_RANDOM_ALL = NF_NAT_RANGE_PROTO_RANDOM | NF_NAT_RANGE_PROTO_RANDOM_FULLY;
/** NF_NAT_MAX_ATTEMPTS (nf_nat_core.c). */
const NF_NAT_MAX_ATTEMPTS = 128;
const IPS_NAT_MASK = IPS_SRC_NAT | IPS_DST_NAT;

/** Addresses the host supplies for masquerade and redirect. */
export interface NatEnv {
  /**
   * nf_nat_masquerade: the source address for a packet leaving by `oif`
   * (inet_select_addr on the route's next hop / ipv6_dev_get_saddr); undefined
   * when the interface has none ("ate my IP address": the packet is dropped).
   */
  masqueradeAddress(pkt: Packet, oif: number, family: number): Uint8Array | undefined;
  /** nf_nat_redirect: the primary address of the input interface `iif`; undefined = drop. */
  redirectAddress(pkt: Packet, iif: number, family: number): Uint8Array | undefined;
}

/** HOOK2MANIP: PREROUTING and OUTPUT rewrite destinations, POSTROUTING and INPUT sources. */
export function hookManip(hook: number): number {
  return hook === NF_INET_POST_ROUTING || hook === NF_INET_LOCAL_IN ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST;
}

function initialized(c: Conn, manip: number): boolean {
  return (c.status & (manip === NF_NAT_MANIP_SRC ? IPS_SRC_NAT_DONE : IPS_DST_NAT_DONE)) !== 0;
}

// --- jhash2 (include/linux/jhash.h, Bob Jenkins' lookup3), used to spread address choices ---
function rol32(x: number, s: number): number {
  return ((x << s) | (x >>> (32 - s))) >>> 0;
}

/** jhash2() over 32-bit words. */
export function jhash2(k: ArrayLike<number>, initval: number): number {
  let len = k.length;
  let a = (0xdeadbeef + (len << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  while (len > 3) {
    a = (a + k[i]!) >>> 0; b = (b + k[i + 1]!) >>> 0; c = (c + k[i + 2]!) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    len -= 3;
    i += 3;
  }
  if (len === 0) return c;
  if (len >= 3) c = (c + k[i + 2]!) >>> 0;
  if (len >= 2) b = (b + k[i + 1]!) >>> 0;
  a = (a + k[i]!) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An address's 32-bit words as the kernel's u32 view of the __be32 bytes (host order). */
function hostWords(a: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 4) {
    w.push(LITTLE_ENDIAN
      ? (a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24)) >>> 0
      : ((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0);
  }
  return w;
}

function be32(a: Uint8Array, i: number): number {
  return ((a[4 * i]! << 24) | (a[4 * i + 1]! << 16) | (a[4 * i + 2]! << 8) | a[4 * i + 3]!) >>> 0;
}

function setBe32(a: Uint8Array, i: number, v: number): void {
  a[4 * i] = v >>> 24; a[4 * i + 1] = (v >>> 16) & 0xff; a[4 * i + 2] = (v >>> 8) & 0xff; a[4 * i + 3] = v & 0xff;
}

/** The normalized range nf_nat_setup_info works with (struct nf_nat_range2). */
interface Range {
  flags: number;
  minAddr: Uint8Array;
  maxAddr: Uint8Array;
  minProto: number;
  maxProto: number;
  baseProto: number;
}

function cmpAddr(a: Uint8Array, b: Uint8Array, alen: number): number {
  for (let i = 0; i < alen; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** l4proto_in_range(): is the manip side's port (or ICMP id) within the range. */
function protoInRange(proto: number, t: Tuple, manip: number, min: number, max: number): boolean {
  let port: number;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) port = t.srcPort;
  else if (hasPorts(proto)) port = manip === NF_NAT_MANIP_SRC ? t.srcPort : t.dstPort;
  else return true;
  return port >= min && port <= max;
}

/** nf_in_range(): the tuple's manip side already satisfies the range. */
function inRange(c: Conn, t: Tuple, r: Range, manip: number): boolean {
  const alen = c.family === 2 ? 4 : 16;
  if (r.flags & NF_NAT_RANGE_MAP_IPS) {
    const a = manip === NF_NAT_MANIP_SRC ? t.src : t.dst;
    if (cmpAddr(a, r.minAddr, alen) < 0 || cmpAddr(a, r.maxAddr, alen) > 0) return false;
  }
  return !(r.flags & NF_NAT_RANGE_PROTO_SPECIFIED) || protoInRange(c.proto, t, manip, r.minProto, r.maxProto);
}

const scratchT = newTuple();

/** nf_nat_used_tuple(): would the reply to `t` collide with another connection? */
function usedTuple(table: ConntrackTable, c: Conn, t: Tuple): boolean {
  invertTuple(c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6 ? -1 : c.proto, t, scratchT);
  if (c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6) {
    // The id is the same both ways; the reply's type is the inverse of the request's.
    scratchT.srcPort = t.srcPort;
    const inv = t.dstPort >> 8;
    const map: Record<number, number> = c.proto === IPPROTO_ICMP ? { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 } : { 128: 129, 129: 128, 139: 140, 140: 139 };
    scratchT.dstPort = ((map[inv] ?? inv) << 8) | (t.dstPort & 0xff);
  }
  return table.tupleTaken(c.zone, c.family, c.proto, scratchT, c);
}

/** Source mappings by original source (nf_nat_bysource), for find_appropriate_src. */
const bySource = new WeakMap<ConntrackTable, Map<string, Conn>>();

function sourceKey(c: Conn, t: Tuple): string {
  // Built from numbers (every new source-NATed connection makes one): no Buffer, no hex.
  const s = t.src;
  let k = `${c.zone}/${c.proto}/${t.srcPort}/${be32(s, 0)}`;
  if (c.family !== 2) k += `/${be32(s, 1)}/${be32(s, 2)}/${be32(s, 3)}`;
  return k;
}

/** find_appropriate_src(): reuse the mapping an earlier connection from the same source got. */
function findAppropriateSrc(table: ConntrackTable, c: Conn, orig: Tuple, out: Tuple, r: Range): boolean {
  const m = bySource.get(table)?.get(sourceKey(c, orig));
  if (m === undefined || m === c || m.timeoutAt <= table.now() || !(m.status & IPS_CONFIRMED) || m.family !== c.family) return false;
  // The mapped source is the inverse of the other connection's reply tuple.
  copyTuple(out, orig);
  out.src.set(m.tuple[1].dst);
  out.srcPort = m.tuple[1].dstPort;
  return inRange(c, out, r, NF_NAT_MANIP_SRC);
}

/** find_best_ips_proto(): pick the address in the range, spread by a hash of the addresses. */
function findBestIps(c: Conn, t: Tuple, r: Range, manip: number): void {
  if (!(r.flags & NF_NAT_RANGE_MAP_IPS)) return;
  const alen = c.family === 2 ? 4 : 16;
  const v = manip === NF_NAT_MANIP_SRC ? t.src : t.dst;
  if (r.flags & NF_NAT_RANGE_NETMAP) {
    // nf_nat_netmap: keep the host part, take the network part from the range.
    for (let i = 0; i < alen; i++) {
      const mask = ~(r.minAddr[i]! ^ r.maxAddr[i]!) & 0xff;
      v[i] = (v[i]! & ~mask & 0xff) | (r.minAddr[i]! & mask);
    }
    return;
  }
  if (cmpAddr(r.minAddr, r.maxAddr, alen) === 0) {
    v.set(r.minAddr.subarray(0, alen));
    return;
  }
  const max = alen / 4 - 1;
  const dstWords = hostWords(t.dst);
  let j = jhash2(hostWords(t.src), r.flags & NF_NAT_RANGE_PERSISTENT ? 0 : (dstWords[max]! ^ c.zone) >>> 0);
  let full = false;
  for (let i = 0; i <= max; i++) {
    let minip: number;
    let dist: number;
    if (!full) {
      minip = be32(r.minAddr, i);
      dist = ((be32(r.maxAddr, i) - minip + 1) >>> 0);
    } else {
      minip = 0;
      dist = 0xffffffff;
    }
    // reciprocal_scale(j, dist)
    const pick = dist === 0 ? j : Math.floor((j * dist) / 4294967296);
    setBe32(v, i, (minip + pick) >>> 0);
    if (be32(v, i) !== be32(r.maxAddr, i)) full = true;
    if (!(r.flags & NF_NAT_RANGE_PERSISTENT)) j = (j ^ dstWords[i]!) >>> 0;
  }
}

/** nf_nat_l4proto_unique_tuple(): walk the port (or id) range from a starting offset until the tuple is free. */
function uniqueL4(table: ConntrackTable, c: Conn, t: Tuple, r: Range, manip: number): void {
  const proto = c.proto;
  let min: number;
  let size: number;
  let isId = false;
  const rnd16 = (): number => Math.floor(table.random() * 65536) & 0xffff;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    isId = true;
    if (!(r.flags & NF_NAT_RANGE_PROTO_SPECIFIED)) { min = 0; size = 65536; } else { min = r.minProto; size = r.maxProto - r.minProto + 1; }
  } else if (hasPorts(proto)) {
    const cur = manip === NF_NAT_MANIP_SRC ? t.srcPort : t.dstPort;
    if (!(r.flags & NF_NAT_RANGE_PROTO_SPECIFIED)) {
      // A destination's port is never changed unless a range says so.
      if (manip === NF_NAT_MANIP_DST) return;
      // Loose convention: below 512 stays below 512, 512..1023 maps into 600..1023, others to 1024..65535.
      if (cur < 1024) {
        if (cur < 512) { min = 1; size = 511; } else { min = 600; size = 1023 - 600 + 1; }
      } else { min = 1024; size = 65535 - 1024 + 1; }
    } else {
      let lo = r.minProto, hi = r.maxProto;
      if (hi < lo) [lo, hi] = [hi, lo];
      min = lo;
      size = hi - lo + 1;
    }
  } else {
    return;
  }
  const cur = isId ? t.srcPort : manip === NF_NAT_MANIP_SRC ? t.srcPort : t.dstPort;
  let off: number;
  if (r.flags & NF_NAT_RANGE_PROTO_OFFSET) off = (cur - r.baseProto) & 0xffff;
  else if ((r.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL) || manip !== NF_NAT_MANIP_DST) off = rnd16();
  else off = 0;
  let attempts = Math.min(size, NF_NAT_MAX_ATTEMPTS);
  const set = (p: number): void => {
    if (isId || manip === NF_NAT_MANIP_SRC) t.srcPort = p; else t.dstPort = p;
  };
  for (let round = 0; round < 16; round++) {
    for (let i = 0; i < attempts; i++, off = (off + 1) & 0xffff) {
      set(min + (off % size));
      if (!usedTuple(table, c, t)) return;
    }
    if (attempts >= size || attempts < 16) return;
    attempts = Math.floor(attempts / 2);
    off = rnd16();
  }
}

/** get_unique_tuple(). */
function getUniqueTuple(table: ConntrackTable, c: Conn, out: Tuple, orig: Tuple, r: Range, manip: number): void {
  if (manip === NF_NAT_MANIP_SRC && !(r.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL)) {
    // 1) Keep the original source if it is in range and free, or reuse this source's earlier mapping.
    if (inRange(c, orig, r, manip)) {
      if (!usedTuple(table, c, orig)) {
        copyTuple(out, orig);
        return;
      }
    } else if (findAppropriateSrc(table, c, orig, out, r)) {
      if (!usedTuple(table, c, out)) return;
    }
  }
  // 2) The address from the range.
  copyTuple(out, orig);
  findBestIps(c, out, r, manip);
  // 3) The port: keep it if in range and free.
  if (!(r.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL)) {
    if (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
      if (!(r.flags & NF_NAT_RANGE_PROTO_OFFSET) && protoInRange(c.proto, out, manip, r.minProto, r.maxProto) &&
        (r.minProto === r.maxProto || !usedTuple(table, c, out))) return;
    } else if (!usedTuple(table, c, out)) {
      return;
    }
  }
  uniqueL4(table, c, out, r, manip);
}

const curT = newTuple();
const newT = newTuple();

/** nf_nat_setup_info(): binds the (unconfirmed) connection for one manip type. */
function setupInfo(table: ConntrackTable, c: Conn, r: Range, manip: number): number {
  if (c.status & IPS_CONFIRMED) return NF_ACCEPT;
  if (initialized(c, manip)) return NF_ACCEPT;
  // What we've got will look like the inverse of the reply (which may carry an earlier manip).
  invertTuple(c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6 ? -1 : c.proto, c.tuple[1], curT);
  if (c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6) {
    curT.srcPort = c.tuple[1].srcPort;
    curT.dstPort = c.tuple[0].dstPort;
  }
  getUniqueTuple(table, c, newT, curT, r, manip);
  const alen = c.family === 2 ? 4 : 16;
  if (!sameTuple(newT, curT, alen)) {
    // nf_conntrack_alter_reply(): replies are recognised by the inverse of the new tuple.
    const rep = c.tuple[1];
    rep.src.set(newT.dst);
    rep.dst.set(newT.src);
    if (c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6) {
      rep.srcPort = newT.srcPort;
    } else {
      rep.srcPort = newT.dstPort;
      rep.dstPort = newT.srcPort;
    }
    c.status |= manip === NF_NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
  }
  if (manip === NF_NAT_MANIP_SRC) {
    let m = bySource.get(table);
    if (m === undefined) {
      m = new Map();
      bySource.set(table, m);
    }
    m.set(sourceKey(c, c.tuple[0]), c);
  }
  c.status |= manip === NF_NAT_MANIP_SRC ? IPS_SRC_NAT_DONE : IPS_DST_NAT_DONE;
  return NF_ACCEPT;
}

function rangeFrom(req: NatRequest, alen: number): Range {
  const r: Range = { flags: req.flags, minAddr: new Uint8Array(16), maxAddr: new Uint8Array(16), minProto: 0, maxProto: 0, baseProto: 0 };
  if (req.addrMin !== undefined) {
    r.flags |= NF_NAT_RANGE_MAP_IPS;
    r.minAddr.set(req.addrMin.subarray(0, alen));
    r.maxAddr.set((req.addrMax ?? req.addrMin).subarray(0, alen));
  }
  if (req.protoMin !== undefined) {
    r.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
    r.minProto = req.protoMin;
    r.maxProto = req.protoMax ?? req.protoMin;
  }
  return r;
}

const LOOPBACK4 = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK6 = (() => { const a = new Uint8Array(16); a[15] = 1; return a; })();

/**
 * The nat, masquerade and redirect expressions (nft_nat_eval, nft_masq_eval,
 * nft_redir_eval): binds the packet's new connection. Returns NF_ACCEPT, or
 * NF_DROP when no address is available. `hook` is the hook being run.
 */
export function natSetup(table: ConntrackTable, pkt: Packet, req: NatRequest, hook: number, env: NatEnv): number {
  const c = connOf(table, pkt);
  const v = pkt.meta.ctSlot;
  if (c === undefined) return NF_ACCEPT; // no conntrack entry (invalid, untracked): nothing to bind
  const ctinfo = v & 7;
  const alen = c.family === 2 ? 4 : 16;
  const manip = req.kind === 'masq' ? NF_NAT_MANIP_SRC : req.kind === 'redir' ? NF_NAT_MANIP_DST : req.natType === 0 ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST;
  const r = rangeFrom(req, alen);
  if (req.kind === 'masq') {
    // nf_nat_masquerade_ipv4/ipv6: only new or related connections are masqueraded.
    if (ctinfo !== IP_CT_NEW && ctinfo !== IP_CT_RELATED && ctinfo !== IP_CT_RELATED_REPLY) return NF_ACCEPT;
    const a = env.masqueradeAddress(pkt, pkt.meta.oif, c.family);
    if (a === undefined) return NF_DROP;
    c.masqIndex = pkt.meta.oif;
    r.flags |= NF_NAT_RANGE_MAP_IPS;
    r.minAddr.fill(0).set(a.subarray(0, alen));
    r.maxAddr.fill(0).set(a.subarray(0, alen));
  } else if (req.kind === 'redir') {
    let a: Uint8Array | undefined;
    if (hook === NF_INET_LOCAL_OUT) a = c.family === 2 ? LOOPBACK4 : LOOPBACK6;
    else a = env.redirectAddress(pkt, pkt.meta.iif, c.family);
    if (a === undefined) return NF_DROP;
    r.flags |= NF_NAT_RANGE_MAP_IPS;
    r.minAddr.fill(0).set(a.subarray(0, alen));
    r.maxAddr.fill(0).set(a.subarray(0, alen));
  }
  return setupInfo(table, c, r, manip);
}

const walk: IPv6Walk = { nexthdr: 0, offset: 0, fragOffset: 0 };

/**
 * nf_nat_follow_master(): an expected connection of a NATed master (tftp) is
 * bound like the master — source to where the master sends to, destination
 * to the master's source and the saved port.
 */
function followMaster(table: ConntrackTable, c: Conn): void {
  const m = c.master >= 0 ? table.slots[c.master] : null;
  const port = c.natFollowPort;
  c.natFollowPort = -1;
  if (m == null || (c.status & IPS_CONFIRMED)) return;
  const mk = (a: Uint8Array, flags: number): Range => {
    const r: Range = { flags, minAddr: new Uint8Array(16), maxAddr: new Uint8Array(16), minProto: port, maxProto: port, baseProto: 0 };
    r.minAddr.set(a);
    r.maxAddr.set(a);
    return r;
  };
  // The master's tuple of the direction opposite the expectation's (tuplehash[!exp->dir]) gives both
  // ends: tftp expects a reply (tuple 0), nf_nat_ftp the other side of the announcing packet.
  const mt = m.tuple[c.natFollowTuple ?? 0];
  setupInfo(table, c, mk(mt.dst, NF_NAT_RANGE_MAP_IPS), NF_NAT_MANIP_SRC);
  setupInfo(table, c, mk(mt.src, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED), NF_NAT_MANIP_DST);
}

/** Where the packet's ICMP/ICMPv6 header is, -1 when it is not an ICMP error. */
function icmpErrorOffset(pkt: Packet, family: number): number {
  const buf = pkt.buffer;
  const l3 = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  let off: number;
  let proto: number;
  if (family === 2) {
    proto = buf[l3 + 9]!;
    off = l3 + (buf[l3]! & 15) * 4;
    if (proto !== IPPROTO_ICMP || off + 8 > pkt.tail) return -1;
    const t = buf[off]!;
    return t === 3 || t === 4 || t === 5 || t === 11 || t === 12 ? off : -1;
  }
  off = ipv6SkipExtHeaders(buf, l3 + 40, buf[l3 + 6]!, walk, pkt.tail);
  if (off < 0 || walk.nexthdr !== IPPROTO_ICMPV6 || off + 8 > pkt.tail) return -1;
  return buf[off]! < 128 ? off : -1;
}

/**
 * True while the NAT base chains at `hook` must still run for this packet:
 * its connection is new (or related, not an ICMP error) and has no binding
 * for this hook's manip type yet. Established traffic never sees NAT chains.
 */
export function natNeedsChains(table: ConntrackTable, pkt: Packet, hook: number): boolean {
  const c = connOf(table, pkt);
  if (c === undefined) return false;
  if (c.natFollowPort >= 0) followMaster(table, c);
  const ctinfo = pkt.meta.ctSlot & 7;
  if (ctinfo === IP_CT_RELATED || ctinfo === IP_CT_RELATED_REPLY) {
    if (icmpErrorOffset(pkt, c.family) >= 0) return false;
  } else if (ctinfo !== IP_CT_NEW) {
    return false;
  }
  return !initialized(c, hookManip(hook));
}

/**
 * nf_nat_inet_fn after the chains: gives a new connection the null binding
 * when no rule bound it, drops masqueraded traffic whose out interface
 * changed, translates related ICMP errors, and rewrites the packet
 * (nf_nat_packet). Returns NF_ACCEPT or NF_DROP.
 */
export function natPacket(table: ConntrackTable, pkt: Packet, hook: number): number {
  const c = connOf(table, pkt);
  if (c === undefined) return NF_ACCEPT;
  if (c.natFollowPort >= 0) followMaster(table, c);
  const ctinfo = pkt.meta.ctSlot & 7;
  const manip = hookManip(hook);
  const dir = ctinfo >= IP_CT_IS_REPLY ? 1 : 0;
  if (ctinfo === IP_CT_RELATED || ctinfo === IP_CT_RELATED_REPLY) {
    const icmpOff = icmpErrorOffset(pkt, c.family);
    if (icmpOff >= 0) return icmpReplyTranslation(table, c, pkt, icmpOff, dir, manip) ? NF_ACCEPT : NF_DROP;
  }
  if (ctinfo === IP_CT_NEW || ctinfo === IP_CT_RELATED || ctinfo === IP_CT_RELATED_REPLY) {
    if (!initialized(c, manip)) {
      // nf_nat_alloc_null_binding(): map onto itself, letting the port move only on a clash.
      const alen = c.family === 2 ? 4 : 16;
      const a = manip === NF_NAT_MANIP_SRC ? c.tuple[1].dst : c.tuple[1].src;
      const r: Range = { flags: NF_NAT_RANGE_MAP_IPS, minAddr: new Uint8Array(16), maxAddr: new Uint8Array(16), minProto: 0, maxProto: 0, baseProto: 0 };
      r.minAddr.set(a.subarray(0, alen));
      r.maxAddr.set(a.subarray(0, alen));
      setupInfo(table, c, r, manip);
    }
  } else if (c.masqIndex !== 0 && hook === NF_INET_POST_ROUTING && dir === 0 && c.masqIndex !== pkt.meta.oif) {
    // nf_nat_oif_changed(): a masqueraded connection now routed out of another interface is killed.
    table.kill(c);
    return NF_DROP;
  }
  let bit = manip === NF_NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
  if (dir === 1) bit ^= IPS_NAT_MASK;
  if (!(c.status & bit)) return NF_ACCEPT;
  // nf_nat_manip_pkt(): look like the inverse of the other direction (targetOf(), read in place:
  // the SRC side of the inverse is the other tuple's dst side; ICMP ids are the same both ways).
  const other = c.tuple[dir ^ 1];
  const l3 = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  const src = manip === NF_NAT_MANIP_SRC;
  const icmp = c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6;
  const port = icmp ? (src ? other.srcPort : 0) : src ? other.dstPort : other.srcPort;
  return manipTo(pkt.buffer, l3, pkt.tail, c.family, src ? other.dst : other.src, port, other.srcPort, manip) ? NF_ACCEPT : NF_DROP;
}

const targetT = newTuple();

/** nf_ct_invert_tuple(&target, &ct->tuplehash[!dir].tuple), with ICMP ids kept. */
function targetOf(c: Conn, dir: number): Tuple {
  const other = c.tuple[dir ^ 1];
  const ts = targetT.src, td = targetT.dst, os = other.src, od = other.dst;
  // Only the family's address bytes: manipPacket reads 4 of them for IPv4 (this runs for every NATed packet).
  const alen = c.family === 2 ? 4 : 16;
  for (let i = 0; i < alen; i++) {
    ts[i] = od[i]!;
    td[i] = os[i]!;
  }
  if (c.proto === IPPROTO_ICMP || c.proto === IPPROTO_ICMPV6) {
    targetT.srcPort = other.srcPort;
    targetT.dstPort = 0;
  } else {
    targetT.srcPort = other.dstPort;
    targetT.dstPort = other.srcPort;
  }
  return targetT;
}

/**
 * nf_nat_icmp_reply_translation(): an ICMP error for a NATed connection gets
 * its quoted packet translated back (the inner header is the other
 * direction's tuple, manipulated the opposite way), its ICMP checksum
 * recomputed, and its outer header rewritten like a reply.
 */
function icmpReplyTranslation(table: ConntrackTable, c: Conn, pkt: Packet, icmpOff: number, dir: number, manip: number): boolean {
  void table;
  const buf = pkt.buffer;
  const l3 = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  const end = c.family === 2 ? Math.min(l3 + ((buf[l3 + 2]! << 8) | buf[l3 + 3]!), pkt.tail) : pkt.tail;
  const type = buf[icmpOff]!;
  // Redirects through a NAT would let the two sides talk past it.
  if (((c.family === 2 && type === 5) || (c.family === 10 && type === 137)) && (c.status & IPS_NAT_MASK)) return false;
  if (c.family === 2 && internetChecksum(buf, icmpOff, end - icmpOff) !== 0) return false;
  let bit = manip === NF_NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
  if (dir === 1) bit ^= IPS_NAT_MASK;
  if (!(c.status & bit)) return true;
  // The quoted packet went the other way: give it the other direction's original tuple, manipulated the opposite way.
  const inner = c.tuple[dir ^ 1];
  if (!manipPacket(buf, icmpOff + 8, end, c.family, inner, manip === NF_NAT_MANIP_SRC ? NF_NAT_MANIP_DST : NF_NAT_MANIP_SRC)) return false;
  // Outer: look like the reply to an incoming packet (addresses only; the ICMP header is recomputed below).
  const target = targetOf(c, dir);
  const alen = c.family === 2 ? 4 : 16;
  const addrOff = l3 + (c.family === 2 ? (manip === NF_NAT_MANIP_SRC ? 12 : 16) : (manip === NF_NAT_MANIP_SRC ? 8 : 24));
  const addr = manip === NF_NAT_MANIP_SRC ? target.src : target.dst;
  if (c.family === 2) {
    // csum_replace4() on the header checksum, as the kernel patches it.
    let hc = (buf[l3 + 10]! << 8) | buf[l3 + 11]!;
    for (let i = 0; i < 4; i += 2) hc = checksumReplace16(hc, (buf[addrOff + i]! << 8) | buf[addrOff + i + 1]!, (addr[i]! << 8) | addr[i + 1]!);
    for (let i = 0; i < 4; i++) buf[addrOff + i] = addr[i]!;
    buf[l3 + 10] = hc >> 8; buf[l3 + 11] = hc & 0xff;
  } else {
    for (let i = 0; i < alen; i++) buf[addrOff + i] = addr[i]!;
  }
  // The ICMP checksum over the whole message (and, for ICMPv6, the pseudo-header).
  buf[icmpOff + 2] = 0; buf[icmpOff + 3] = 0;
  let ck: number;
  if (c.family === 2) ck = internetChecksum(buf, icmpOff, end - icmpOff);
  else ck = finish(onesSum(buf, icmpOff, end - icmpOff, pseudoSum6(buf, l3 + 8, l3 + 24, IPPROTO_ICMPV6, end - icmpOff)));
  buf[icmpOff + 2] = ck >> 8; buf[icmpOff + 3] = ck & 0xff;
  return true;
}
