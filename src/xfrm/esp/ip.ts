/**
 * The IP header work around ESP: the fields xfrm keeps while it rebuilds
 * headers (XFRM_MODE_SKB_CB), IPv6 extension-header walking, and the
 * DSCP/ECN rules of tunnel encapsulation (RFC 6040 as Linux implements it in
 * include/net/inet_ecn.h).
 */
import { internetChecksum, onesSum, finish } from '../../packet/checksum.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_IPIP = 4;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
/** BEET pseudo header for IPv4 options (include/uapi/linux/in.h). */
export const IPPROTO_BEETPH = 94;

/** INET_ECN_* (include/net/inet_ecn.h). */
export const INET_ECN_NOT_ECT = 0;
export const INET_ECN_ECT_1 = 1;
export const INET_ECN_ECT_0 = 2;
export const INET_ECN_CE = 3;
export const INET_ECN_MASK = 3;

const IP_DF = 0x4000;
const IP_MF = 0x2000;
const IP_OFFSET = 0x1fff;
/** IPV6_MIN_MTU (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

/** What xfrm{4,6}_extract_header() saves from the header being replaced (XFRM_MODE_SKB_CB). */
export interface ModeCb {
  /** Header length the fields were taken from (20 or 40). */
  ihl: number;
  id: number;
  fragOff: number;
  tos: number;
  ttl: number;
  optlen: number;
  /** 20-bit IPv6 flow label; 0 for IPv4. */
  flowLabel: number;
  protocol: number;
}

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** xfrm4_extract_header(). */
export function extract4(b: Uint8Array, o: number, cb: ModeCb): void {
  cb.ihl = 20;
  cb.id = u16(b, o + 4);
  cb.fragOff = u16(b, o + 6);
  cb.tos = b[o + 1]!;
  cb.ttl = b[o + 8]!;
  cb.optlen = (b[o]! & 0x0f) * 4 - 20;
  cb.flowLabel = 0;
  cb.protocol = b[o + 9]!;
}

/** xfrm6_extract_header(): an IPv6 packet counts as DF (it is never fragmented en route). */
export function extract6(b: Uint8Array, o: number, cb: ModeCb): void {
  cb.ihl = 40;
  cb.id = 0;
  cb.fragOff = IP_DF;
  cb.tos = tclass6(b, o);
  cb.ttl = b[o + 7]!;
  cb.optlen = 0;
  cb.flowLabel = ((b[o + 1]! & 0x0f) << 16) | u16(b, o + 2);
  cb.protocol = b[o + 6]!;
}

export function newModeCb(): ModeCb {
  return { ihl: 0, id: 0, fragOff: 0, tos: 0, ttl: 0, optlen: 0, flowLabel: 0, protocol: 0 };
}

export function tclass6(b: Uint8Array, o: number): number {
  return ((b[o]! & 0x0f) << 4) | (b[o + 1]! >>> 4);
}

export function setTclass6(b: Uint8Array, o: number, tc: number): void {
  b[o] = 0x60 | (tc >>> 4);
  b[o + 1] = ((tc & 0x0f) << 4) | (b[o + 1]! & 0x0f);
}

export function isFragment4(fragOff: number): boolean {
  return (fragOff & (IP_MF | IP_OFFSET)) !== 0;
}

/** INET_ECN_encapsulate(outer, inner): the outer ECN copies the inner, except CE which becomes ECT(0) (RFC 6040 §4.1 normal mode). */
export function ecnEncapsulate(outer: number, inner: number): number {
  const ecn = inner & INET_ECN_MASK;
  return (outer & ~INET_ECN_MASK & 0xff) | (ecn === INET_ECN_CE ? INET_ECN_ECT_0 : ecn);
}

/** Writes a fresh IPv4 header (ihl 5) at `o` with its checksum. */
export function writeIpv4(b: Uint8Array, o: number, tos: number, totLen: number, id: number, fragOff: number, ttl: number, proto: number, src: Uint8Array, dst: Uint8Array): void {
  b[o] = 0x45;
  b[o + 1] = tos;
  put16(b, o + 2, totLen);
  put16(b, o + 4, id);
  put16(b, o + 6, fragOff);
  b[o + 8] = ttl;
  b[o + 9] = proto;
  put16(b, o + 10, 0);
  b.set(src, o + 12);
  b.set(dst, o + 16);
  put16(b, o + 10, internetChecksum(b, o, 20));
}

/** Recomputes the IPv4 header checksum in place (ip_send_check()). */
export function ipv4SendCheck(b: Uint8Array, o: number): void {
  const ihl = (b[o]! & 0x0f) * 4;
  put16(b, o + 10, 0);
  put16(b, o + 10, internetChecksum(b, o, ihl));
}

export function writeIpv6(b: Uint8Array, o: number, tclass: number, flowLabel: number, payloadLen: number, nexthdr: number, hopLimit: number, src: Uint8Array, dst: Uint8Array): void {
  b[o] = 0x60 | (tclass >>> 4);
  b[o + 1] = ((tclass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  put16(b, o + 2, flowLabel & 0xffff);
  put16(b, o + 4, payloadLen);
  b[o + 6] = nexthdr;
  b[o + 7] = hopLimit;
  b.set(src, o + 8);
  b.set(dst, o + 24);
}

/**
 * Where ESP goes in an IPv6 packet (ip6_find_1stfragopt(), used by
 * xfrm6_transport_output): after Hop-by-Hop, Routing, and Destination
 * Options met before a Routing header. Returns the header length in front
 * of the insertion point and the offset of the next-header byte that must
 * become ESP, or null when the chain is truncated.
 */
export function ipv6InsertionPoint(b: Uint8Array, o: number, end: number): { hdrLen: number; nhOff: number } | null {
  let off = 40;
  let nhOff = 6;
  let foundRhdr = false;
  for (let guard = 0; guard < 16; guard++) {
    const nh = b[o + nhOff]!;
    if (nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING) {
      if (nh === IPPROTO_ROUTING) foundRhdr = true;
    } else if (nh === IPPROTO_DSTOPTS) {
      if (foundRhdr) return { hdrLen: off, nhOff };
    } else {
      return { hdrLen: off, nhOff };
    }
    if (o + off + 2 > end) return null;
    const len = (b[o + off + 1]! + 1) * 8;
    nhOff = off;
    off += len;
    if (o + off > end) return null;
  }
  return null;
}

/** Walks IPv6 extension headers (HBH, Routing, Destination Options) to the first other header. */
export function ipv6UpperLayer(b: Uint8Array, o: number, end: number): { off: number; proto: number; nhOff: number } | null {
  let off = 40;
  let nhOff = 6;
  for (let guard = 0; guard < 16; guard++) {
    const nh = b[o + nhOff]!;
    if (nh !== IPPROTO_HOPOPTS && nh !== IPPROTO_ROUTING && nh !== IPPROTO_DSTOPTS) return { off, proto: nh, nhOff };
    if (o + off + 2 > end) return null;
    nhOff = off;
    off += (b[o + off + 1]! + 1) * 8;
    if (o + off > end) return null;
  }
  return null;
}

/** UDP checksum over an IPv6 pseudo header (RFC 8200 §8.1); 0 is sent as 0xffff (RFC 768). */
export function udp6Checksum(b: Uint8Array, ip: number, udp: number, len: number): number {
  let sum = onesSum(b, ip + 8, 32);
  sum += Math.floor(len / 0x10000) + (len & 0xffff) + IPPROTO_UDP;
  sum = onesSum(b, udp, len, sum);
  const c = finish(sum);
  return c === 0 ? 0xffff : c;
}
