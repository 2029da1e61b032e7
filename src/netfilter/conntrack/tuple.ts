/**
 * Packet → tuple (nf_ct_get_tuple and the l4 trackers' pkt_to_tuple), the
 * inverse tuple (nf_ct_invert_tuple) and where the layer-4 header lies.
 */
import type { Packet } from '../../packet/packet.js';
import type { Tuple } from './types.js';
import {
  IPPROTO_DCCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE,
} from '../../packet/wire/constants.js';
import { ipv6SkipExtHeaders } from '../../packet/wire/ipv6.js';
import type { IPv6Walk } from '../../packet/wire/ipv6.js';

/** Where the packet's layers are, filled by `parseL3L4` (reused, no allocation). */
export interface L4Info {
  l3off: number;
  l4off: number;
  /** End of the datagram (IP total length, clipped to the bytes present). */
  l4end: number;
  proto: number;
}

export function newL4Info(): L4Info {
  return { l3off: 0, l4off: 0, l4end: 0, proto: 0 };
}

const walk: IPv6Walk = { nexthdr: 0, offset: 0, fragOffset: 0 };

/** True for the protocols whose tuples carry 16-bit ports at offsets 0 and 2 of the header. */
export function hasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE || proto === IPPROTO_SCTP || proto === IPPROTO_DCCP;
}

/**
 * Locates the layer-3 and layer-4 headers of the datagram at `l3off` in `buf`
 * (ipv4_get_l4proto / ipv6_get_l4proto). Returns an error text for what the
 * kernel cannot track (a non-first fragment, a cut-short header), else ''.
 */
export function parseL3L4(buf: Uint8Array, l3off: number, end: number, family: number, info: L4Info): string {
  info.l3off = l3off;
  if (family === 2) {
    if (l3off + 20 > end || buf[l3off]! >> 4 !== 4) return 'not an IPv4 header';
    const ihl = (buf[l3off]! & 15) * 4;
    const tot = (buf[l3off + 2]! << 8) | buf[l3off + 3]!;
    // Conntrack sees reassembled datagrams; a non-first fragment here (e.g. quoted in an ICMP error) cannot be tracked.
    if ((((buf[l3off + 6]! << 8) | buf[l3off + 7]!) & 0x1fff) !== 0) return 'non-first fragment';
    info.proto = buf[l3off + 9]!;
    info.l4off = l3off + ihl;
    info.l4end = Math.min(l3off + Math.max(tot, ihl), end);
    return info.l4off > end ? 'truncated IPv4 header' : '';
  }
  if (l3off + 40 > end || buf[l3off]! >> 4 !== 6) return 'not an IPv6 header';
  const plen = (buf[l3off + 4]! << 8) | buf[l3off + 5]!;
  const dend = plen === 0 ? end : Math.min(l3off + 40 + plen, end);
  const off = ipv6SkipExtHeaders(buf, l3off + 40, buf[l3off + 6]!, walk, dend);
  if (off < 0) return 'bad IPv6 extension headers';
  if ((walk.fragOffset & ~7) !== 0) return 'non-first fragment';
  info.proto = walk.nexthdr;
  info.l4off = off;
  info.l4end = dend;
  return '';
}

/** The layer-3 and layer-4 offsets of a packet (its network header, or head when unset). */
export function parsePacket(pkt: Packet, family: number, info: L4Info): string {
  const l3 = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  return parseL3L4(pkt.buffer, l3, pkt.tail, family, info);
}

/**
 * Fills `t` from the datagram described by `info` (addresses and the l4
 * part). Returns false when the l4 header is too short for its tuple part.
 */
export function getTuple(buf: Uint8Array, family: number, info: L4Info, t: Tuple): boolean {
  const l3 = info.l3off;
  const src = t.src, dst = t.dst;
  if (family === 2) {
    for (let i = 0; i < 4; i++) {
      src[i] = buf[l3 + 12 + i]!;
      dst[i] = buf[l3 + 16 + i]!;
    }
    for (let i = 4; i < 16; i++) src[i] = dst[i] = 0;
  } else {
    for (let i = 0; i < 16; i++) {
      src[i] = buf[l3 + 8 + i]!;
      dst[i] = buf[l3 + 24 + i]!;
    }
  }
  const p = info.proto;
  const o = info.l4off;
  // Quoted packets in ICMP errors carry at least 8 bytes of the l4 header (RFC 792), which covers ports and echo ids.
  if (hasPorts(p)) {
    if (o + 4 > info.l4end) return false;
    t.srcPort = (buf[o]! << 8) | buf[o + 1]!;
    t.dstPort = (buf[o + 2]! << 8) | buf[o + 3]!;
    return true;
  }
  if (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) {
    if (o + 8 > info.l4end) return false;
    t.srcPort = (buf[o + 4]! << 8) | buf[o + 5]!; // echo id
    t.dstPort = (buf[o]! << 8) | buf[o + 1]!; // type and code
    return true;
  }
  t.srcPort = 0;
  t.dstPort = 0;
  return true;
}

/** icmp_invert_tuple's invmap (nf_conntrack_proto_icmp.c): type + 1, 0 = no inverse. */
const ICMP_INVMAP: Record<number, number> = { 8: 0 + 1, 0: 8 + 1, 13: 14 + 1, 14: 13 + 1, 15: 16 + 1, 16: 15 + 1, 17: 18 + 1, 18: 17 + 1 };
/** icmpv6_invert_tuple's invmap: echo request/reply, node information query/reply. */
const ICMPV6_INVMAP: Record<number, number> = { 128: 129 + 1, 129: 128 + 1, 139: 140 + 1, 140: 139 + 1 };

/** nf_ct_invert_tuple(): false when the protocol cannot invert it (an ICMP type without a reply). */
export function invertTuple(proto: number, from: Tuple, to: Tuple): boolean {
  to.src.set(from.dst);
  to.dst.set(from.src);
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    const inv = (proto === IPPROTO_ICMP ? ICMP_INVMAP : ICMPV6_INVMAP)[from.dstPort >> 8];
    if (inv === undefined) return false;
    to.srcPort = from.srcPort;
    to.dstPort = ((inv - 1) << 8) | (from.dstPort & 0xff);
    return true;
  }
  to.srcPort = from.dstPort;
  to.dstPort = from.srcPort;
  return true;
}
