/**
 * nf_nat_manip_pkt (net/netfilter/nf_nat_proto.c): rewrites one side of a
 * datagram — address and port/id — in place, patching every checksum that
 * covers them incrementally (RFC 1624): the IPv4 header checksum, the
 * transport checksum through its pseudo-header, a UDP checksum of 0 left
 * alone (RFC 768: none computed) and a patched 0 sent as 0xffff.
 */
import type { Tuple } from '../conntrack/types.js';
import { NF_NAT_MANIP_SRC } from '../conntrack/types.js';
import {
  IPPROTO_DCCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE,
} from '../../packet/wire/constants.js';
import { ipv6SkipExtHeaders } from '../../packet/wire/ipv6.js';
import type { IPv6Walk } from '../../packet/wire/ipv6.js';

const walk: IPv6Walk = { nexthdr: 0, offset: 0, fragOffset: 0 };

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function set16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/**
 * RFC 1624 eqn. 3 for several words at once: HC' = ~(~HC + Σ(~m + m')). The
 * kernel patches field by field (csum_replace4, inet_proto_csum_replace2);
 * one's-complement addition is associative and a positive sum folds to the
 * same 16 bits however it is grouped, so summing all changes before one fold
 * gives the same field, for a fraction of the work (this runs for every
 * NATed packet). `acc` starts as ~HC; callers add (~old & 0xffff) + new.
 */
function csumDone(acc: number): number {
  // Two folds bring any sum below 2^32 into 16 bits (the first leaves at most 0x1fffe).
  acc = (acc & 0xffff) + (acc >>> 16);
  acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/**
 * Σ(~m + m') over the address at `buf[off..off+alen)` becoming `addr` (the
 * bytes are not written), or -1 when the address does not change: one pass
 * over the old address for both questions.
 */
function addrDiff(buf: Uint8Array, off: number, addr: Uint8Array, alen: number): number {
  let d = 0;
  let changed = 0;
  for (let i = 0; i < alen; i += 2) {
    const o = u16(buf, off + i), n = u16(addr, i);
    changed |= o ^ n;
    d += (~o & 0xffff) + n;
  }
  return changed === 0 ? -1 : d;
}

/** ICMP query types whose identifier NAT rewrites like a port (icmp_manip_pkt). */
function icmpHasId(proto: number, type: number): boolean {
  if (proto === IPPROTO_ICMP) return type === 0 || type === 8 || (type >= 13 && type <= 18);
  return type === 128 || type === 129;
}

/**
 * Rewrites the source (manip 0) or destination (manip 1) of the datagram at
 * `l3off` to the address and port of `target` (its src side for SRC, dst side
 * for DST; an ICMP id always from `target.srcPort`). `end` bounds the bytes
 * present (a quoted packet may be cut short). Returns false when the headers
 * do not fit (the kernel drops such packets).
 */
export function manipPacket(buf: Uint8Array, l3off: number, end: number, family: number, target: Tuple, manip: number): boolean {
  const src = manip === NF_NAT_MANIP_SRC;
  return manipTo(buf, l3off, end, family, src ? target.src : target.dst, src ? target.srcPort : target.dstPort, target.srcPort, manip);
}

/**
 * manipPacket() with the new side given as fields: address `addr`, port
 * `port`, ICMP identifier `icmpId` (nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt
 * and the l4 manip_pkt they call).
 */
export function manipTo(buf: Uint8Array, l3off: number, end: number, family: number, addr: Uint8Array, port: number, icmpId: number, manip: number): boolean {
  const src = manip === NF_NAT_MANIP_SRC;
  const alen = family === 2 ? 4 : 16;
  let addrOff: number;
  let l4off: number;
  let proto: number;
  let firstFrag = true;
  if (family === 2) {
    if (l3off + 20 > end) return false;
    const ihl = (buf[l3off]! & 15) * 4;
    proto = buf[l3off + 9]!;
    l4off = l3off + ihl;
    addrOff = l3off + (src ? 12 : 16);
    firstFrag = (u16(buf, l3off + 6) & 0x1fff) === 0;
  } else {
    if (l3off + 40 > end) return false;
    const off = ipv6SkipExtHeaders(buf, l3off + 40, buf[l3off + 6]!, walk, end);
    proto = walk.nexthdr;
    l4off = off;
    addrOff = l3off + (src ? 8 : 24);
    firstFrag = off >= 0 && (walk.fragOffset & ~7) === 0;
  }
  // The address's part of every checksum that covers it (pseudo-headers, the IPv4 header).
  let aDiff = addrDiff(buf, addrOff, addr, alen);
  const addrChanges = aDiff >= 0;
  if (!addrChanges) aDiff = 0;

  if (firstFrag && l4off >= 0) {
    const avail = end - l4off;
    if (proto === IPPROTO_TCP || proto === IPPROTO_DCCP) {
      if (avail < 8) return false;
      const portOff = l4off + (src ? 0 : 2);
      const csumOff = l4off + (proto === IPPROTO_TCP ? 16 : 6);
      // A TCP header quoted in an ICMP error may be cut after 8 bytes: then only the ports change (tcp_manip_pkt).
      if (avail >= (proto === IPPROTO_TCP ? 20 : 8) && csumOff + 2 <= end) {
        set16(buf, csumOff, csumDone((~u16(buf, csumOff) & 0xffff) + aDiff + (~u16(buf, portOff) & 0xffff) + port));
      }
      set16(buf, portOff, port);
    } else if (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE) {
      if (avail < 8) return false;
      const portOff = l4off + (src ? 0 : 2);
      const csumOff = l4off + 6;
      const old = u16(buf, csumOff);
      // RFC 768: a zero UDP checksum means none was computed; it stays zero. UDP-Lite always has one.
      if (old !== 0 || proto === IPPROTO_UDPLITE) {
        const c = csumDone((~old & 0xffff) + aDiff + (~u16(buf, portOff) & 0xffff) + port);
        set16(buf, csumOff, c === 0 ? 0xffff : c); // CSUM_MANGLED_0
      }
      set16(buf, portOff, port);
    } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      if (avail < 8) return false;
      // ICMPv6's checksum covers the pseudo-header (RFC 4443 §2.3); ICMPv4's does not.
      let acc = ~u16(buf, l4off + 2) & 0xffff;
      if (proto === IPPROTO_ICMPV6) acc += aDiff;
      if (icmpHasId(proto, buf[l4off]!)) {
        acc += (~u16(buf, l4off + 4) & 0xffff) + icmpId;
        set16(buf, l4off + 4, icmpId);
      }
      set16(buf, l4off + 2, csumDone(acc));
    } else if (proto === 132 && avail >= 4) {
      // SCTP: ports only; its CRC32c does not cover addresses and the kernel recomputes it (nf_nat_sctp).
      set16(buf, l4off + (src ? 0 : 2), port);
      sctpRecrc(buf, l4off, end);
    }
  }
  if (addrChanges) {
    if (family === 2) set16(buf, l3off + 10, csumDone((~u16(buf, l3off + 10) & 0xffff) + aDiff));
    for (let i = 0; i < alen; i++) buf[addrOff + i] = addr[i]!;
  }
  return true;
}

let crcTable: Uint32Array | null = null;

/** RFC 4960 Appendix B: CRC32c over the SCTP packet with its checksum field zeroed. */
function sctpRecrc(buf: Uint8Array, off: number, end: number): void {
  if (end - off < 12) return;
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  buf[off + 8] = buf[off + 9] = buf[off + 10] = buf[off + 11] = 0;
  let crc = 0xffffffff;
  for (let i = off; i < end; i++) crc = crcTable[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  crc = ~crc >>> 0;
  // The CRC goes on the wire least significant byte first.
  buf[off + 8] = crc & 0xff;
  buf[off + 9] = (crc >>> 8) & 0xff;
  buf[off + 10] = (crc >>> 16) & 0xff;
  buf[off + 11] = crc >>> 24;
}

/**
 * One side's rewrite of a flow whose packets all carry the same old address and port
 * (a flowtable flow's direction: nf_flow_nat_ip/nf_flow_nat_ipv6 patch the same fields
 * with the same csum_replace calls as nf_nat_manip_pkt). The checksum terms depend only on
 * the old and new values, so they are summed once here; applyManip() then does exactly
 * what manipTo() does to a TCP or UDP datagram with those old values, field for field.
 */
export interface ManipPlan {
  /** Offset of the rewritten address in the network header (12/16 IPv4, 8/24 IPv6). */
  addrOff: number;
  /** Offset of the rewritten port in the transport header (0 source, 2 destination). */
  portOff: number;
  addr: Uint8Array;
  port: number;
  /** Σ(~m + m') over the address words, or -1 when the address stays (no IPv4 header patch, no bytes written). */
  addrDelta: number;
  /** The transport checksum's terms: the address's (0 when it stays) and the port's. */
  l4Delta: number;
}

/**
 * The plan for rewriting side `manip` of a `family`/TCP-or-UDP datagram whose old address is
 * `oldAddr` and old port `oldPort`, to `addr`/`port`.
 */
export function planManip(family: number, oldAddr: Uint8Array, oldPort: number, addr: Uint8Array, port: number, manip: number): ManipPlan {
  const src = manip === NF_NAT_MANIP_SRC;
  const alen = family === 2 ? 4 : 16;
  const addrDelta = addrDiff(oldAddr, 0, addr, alen);
  return {
    addrOff: family === 2 ? (src ? 12 : 16) : (src ? 8 : 24),
    portOff: src ? 0 : 2,
    addr: addr.slice(0, alen),
    port,
    addrDelta,
    // manipTo adds the port's terms even when the port stays: (~p + p) is one's-complement zero,
    // but it can turn a 0x0000 field into 0xffff, and the fast path must write what the slow path writes.
    l4Delta: (addrDelta >= 0 ? addrDelta : 0) + (~oldPort & 0xffff) + port,
  };
}

/**
 * manipTo() for a datagram whose old side is the plan's: `l3off` the network header,
 * `l4off` the TCP or UDP header (`udp` false for TCP), both present in full (the flowtable
 * checked: no IPv4 options or fragments, no IPv6 extension headers).
 */
export function applyManip(buf: Uint8Array, l3off: number, l4off: number, udp: boolean, v4: boolean, plan: ManipPlan): void {
  const portOff = l4off + plan.portOff;
  if (udp) {
    const csumOff = l4off + 6;
    const old = (buf[csumOff]! << 8) | buf[csumOff + 1]!;
    if (old !== 0) {
      const c = csumDone((~old & 0xffff) + plan.l4Delta);
      set16(buf, csumOff, c === 0 ? 0xffff : c);
    }
  } else {
    const csumOff = l4off + 16;
    set16(buf, csumOff, csumDone((~((buf[csumOff]! << 8) | buf[csumOff + 1]!) & 0xffff) + plan.l4Delta));
  }
  set16(buf, portOff, plan.port);
  if (plan.addrDelta < 0) return;
  if (v4) set16(buf, l3off + 10, csumDone((~((buf[l3off + 10]! << 8) | buf[l3off + 11]!) & 0xffff) + plan.addrDelta));
  const a = plan.addr, at = l3off + plan.addrOff;
  for (let i = 0; i < a.length; i++) buf[at + i] = a[i]!;
}
