/**
 * The packets the host makes itself — ICMP/ICMPv6 errors, echo replies and TCP
 * resets — built as the kernel builds them (net/ipv4/icmp.c, net/ipv6/icmp.c,
 * net/ipv4/tcp_ipv4.c tcp_v4_send_reset, net/ipv4/netfilter/nf_reject_ipv4.c,
 * net/ipv6/netfilter/nf_reject_ipv6.c). Each builder returns the layer-3 bytes.
 */
import { finish, internetChecksum, onesSum } from '../../packet/checksum.js';

/** IPPROTO_* (uapi/linux/in.h). */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** IPTOS_TOS_MASK and IPTOS_PREC_INTERNETCONTROL (uapi/linux/ip.h). */
const IPTOS_TOS_MASK = 0x1e;
const IPTOS_PREC_INTERNETCONTROL = 0xc0;
const IP_DF = 0x4000;

/** icmp_send(): an error quotes at most 576 bytes of packet in all (RFC 1812 §4.3.2.3). */
const ICMP_ERROR_MAX = 576;
/** icmp6_send(): the error fits the IPv6 minimum MTU (RFC 4443 §2.4 (c)). */
const IPV6_MIN_MTU = 1280;

export function be16(b: Uint8Array, o: number): number { return (b[o]! << 8) | b[o + 1]!; }
export function be32(b: Uint8Array, o: number): number { return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0; }
export function put16(b: Uint8Array, o: number, v: number): void { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}

export interface Ip4Fields { tos: number; id: number; df: boolean; ttl: number; proto: number; src: Uint8Array; dst: Uint8Array }

/** Writes a 20-byte IPv4 header (no options) with its checksum. */
export function writeIpv4Header(b: Uint8Array, total: number, f: Ip4Fields): void {
  b[0] = 0x45; b[1] = f.tos; put16(b, 2, total); put16(b, 4, f.id); put16(b, 6, f.df ? IP_DF : 0);
  b[8] = f.ttl; b[9] = f.proto; b[10] = 0; b[11] = 0;
  b.set(f.src, 12); b.set(f.dst, 16);
  put16(b, 10, internetChecksum(b, 0, 20));
}

/** Writes a 40-byte IPv6 header. */
export function writeIpv6Header(b: Uint8Array, plen: number, tclass: number, flow: number, next: number, hlim: number, src: Uint8Array, dst: Uint8Array): void {
  put32(b, 0, ((6 << 28) | (tclass << 20) | (flow & 0xfffff)) >>> 0);
  put16(b, 4, plen); b[6] = next; b[7] = hlim;
  b.set(src, 8); b.set(dst, 24);
}

/** The TCP/UDP/ICMPv6 checksum of the layer-4 bytes at `l4` over the IPv4 or IPv6 pseudo-header. */
export function l4Checksum(b: Uint8Array, family: 4 | 6, l4: number, len: number, proto: number): number {
  let s = family === 4 ? onesSum(b, 12, 8) : onesSum(b, 8, 32);
  s += proto + len;
  return finish(onesSum(b, l4, len, s));
}

/**
 * An ICMPv4 error about `orig` (its IP header onwards), as __icmp_send() makes it:
 * TOS keeps the original's TOS bits with precedence "internetwork control", TTL is
 * the default, DF clear (the ICMP socket is IP_PMTUDISC_DONT), and the quote is as
 * long as 576 bytes allow.
 */
export function icmp4Error(orig: Uint8Array, type: number, code: number, info: number, src: Uint8Array, ttl: number, id: number): Uint8Array {
  const quote = Math.min(orig.length, ICMP_ERROR_MAX - 28);
  const b = new Uint8Array(28 + quote);
  writeIpv4Header(b, b.length, {
    tos: (orig[1]! & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL, id, df: false, ttl, proto: IPPROTO_ICMP, src, dst: orig.subarray(12, 16),
  });
  b[20] = type; b[21] = code; put32(b, 24, info);
  b.set(orig.subarray(0, quote), 28);
  put16(b, 22, internetChecksum(b, 20, b.length - 20));
  return b;
}

/** An ICMPv6 error about `orig`, as icmp6_send() makes it: hop limit from the route, traffic class 0, quote up to 1280 bytes in all. */
export function icmp6Error(orig: Uint8Array, type: number, code: number, info: number, src: Uint8Array, hlim: number): Uint8Array {
  const quote = Math.min(orig.length, IPV6_MIN_MTU - 48);
  const b = new Uint8Array(48 + quote);
  writeIpv6Header(b, 8 + quote, 0, 0, IPPROTO_ICMPV6, hlim, src, orig.subarray(8, 24));
  b[40] = type; b[41] = code; put32(b, 44, info);
  b.set(orig.subarray(0, quote), 48);
  put16(b, 42, l4Checksum(b, 6, 40, 8 + quote, IPPROTO_ICMPV6));
  return b;
}

/** icmp_echo() → icmp_reply(): the request's data back, from the address it was sent to, with the request's TOS. */
export function icmp4EchoReply(req: Uint8Array, ihl: number, ttl: number, id: number): Uint8Array {
  const total = be16(req, 2);
  const icmpLen = total - ihl;
  const b = new Uint8Array(20 + icmpLen);
  writeIpv4Header(b, b.length, { tos: req[1]!, id, df: false, ttl, proto: IPPROTO_ICMP, src: req.subarray(16, 20), dst: req.subarray(12, 16) });
  b.set(req.subarray(ihl, total), 20);
  b[20] = 0; b[21] = 0; b[22] = 0; b[23] = 0;
  put16(b, 22, internetChecksum(b, 20, icmpLen));
  return b;
}

/** icmpv6_echo_reply(): type 129, the request's traffic class, from the address it was sent to. */
export function icmp6EchoReply(req: Uint8Array, l4: number, hlim: number): Uint8Array {
  const len = 40 + be16(req, 4) - l4;
  const b = new Uint8Array(40 + len);
  const tclass = (be16(req, 0) >> 4) & 0xff;
  writeIpv6Header(b, len, tclass, 0, IPPROTO_ICMPV6, hlim, req.subarray(24, 40), req.subarray(8, 24));
  b.set(req.subarray(l4, l4 + len), 40);
  b[40] = 129; b[41] = 0; b[42] = 0; b[43] = 0;
  put16(b, 42, l4Checksum(b, 6, 40, len, IPPROTO_ICMPV6));
  return b;
}

/**
 * The TCP header of a reset answering the segment at `th` (layer-4 length
 * `l4len`), by the rule of tcp_v4_send_reset() and nf_reject_ip_tcphdr_put():
 * if the segment had ACK, the reset's seq is that ack and it carries no ACK;
 * otherwise seq 0 and ack = seq + SYN + FIN + payload length, with ACK.
 */
function writeRstHeader(b: Uint8Array, at: number, pkt: Uint8Array, th: number, l4len: number): void {
  put16(b, at, be16(pkt, th + 2)); put16(b, at + 2, be16(pkt, th));
  const flags = pkt[th + 13]!;
  const doff = (pkt[th + 12]! >> 4) * 4;
  if (flags & 0x10) {
    put32(b, at + 4, be32(pkt, th + 8));
    b[at + 13] = 0x04;
  } else {
    const ack = (be32(pkt, th + 4) + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0) + l4len - doff) >>> 0;
    put32(b, at + 8, ack);
    b[at + 13] = 0x14;
  }
  b[at + 12] = 5 << 4;
}

/** A TCP reset over IPv4. `orig` is the offending packet (IP header first), `ihl` its header length. */
export function tcp4Reset(orig: Uint8Array, ihl: number, o: { tos: number; ttl: number; id: number; df: boolean }): Uint8Array {
  const b = new Uint8Array(40);
  writeIpv4Header(b, 40, { tos: o.tos, id: o.id, df: o.df, ttl: o.ttl, proto: IPPROTO_TCP, src: orig.subarray(16, 20), dst: orig.subarray(12, 16) });
  writeRstHeader(b, 20, orig, ihl, be16(orig, 2) - ihl);
  put16(b, 36, l4Checksum(b, 4, 20, 20, IPPROTO_TCP));
  return b;
}

/** A TCP reset over IPv6 (tcp_v6_send_response / nf_send_reset6): traffic class 0, flow label 0. */
export function tcp6Reset(orig: Uint8Array, th: number, hlim: number): Uint8Array {
  const b = new Uint8Array(60);
  writeIpv6Header(b, 20, 0, 0, IPPROTO_TCP, hlim, orig.subarray(24, 40), orig.subarray(8, 24));
  writeRstHeader(b, 40, orig, th, 40 + be16(orig, 4) - th);
  put16(b, 56, l4Checksum(b, 6, 40, 20, IPPROTO_TCP));
  return b;
}
