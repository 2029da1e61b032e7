/**
 * Setting a Packet's header offsets as the kernel's receive functions do
 * (ip_rcv_core, ipv6_rcv + the extension header walk), and small address tests.
 */
import type { Packet } from '../../packet/packet.js';
import { be16 } from './build.js';

/** IPv4 IP_OFFSET/IP_MF (include/net/ip.h). */
export const IP_OFFSET = 0x1fff;
export const IP_MF = 0x2000;
export const IP_DF = 0x4000;

/** Sets transport header and l4proto of an IPv4 packet whose network header is at `pkt.head`. */
export function setIpv4Headers(pkt: Packet): void {
  const b = pkt.buffer, n = pkt.head;
  pkt.networkHeader = n;
  pkt.protocol = 0x0800;
  const ihl = (b[n]! & 0x0f) * 4;
  pkt.l4proto = b[n + 9]!;
  // A non-first fragment carries no transport header (nft_set_pktinfo_ipv4 sets fragoff).
  pkt.transportHeader = (be16(b, n + 6) & IP_OFFSET) !== 0 ? -1 : n + ihl;
}

/** IPv6 extension headers that ipv6_skip_exthdr() walks (RFC 8200 §4). */
const EXTHDRS = new Set([0, 43, 60, 51]);

/** Sets transport header and l4proto of an IPv6 packet: the first header that is not an extension header. */
export function setIpv6Headers(pkt: Packet): void {
  const b = pkt.buffer, n = pkt.head;
  pkt.networkHeader = n;
  pkt.protocol = 0x86dd;
  let next = b[n + 6]!;
  let off = n + 40;
  for (let i = 0; i < 16; i++) {
    if (next === 44) {
      // Fragment header: only the first fragment has the upper-layer header.
      if (off + 8 > pkt.tail) break;
      const fragOff = be16(b, off + 2) & 0xfff8;
      next = b[off]!;
      off += 8;
      if (fragOff !== 0) { pkt.l4proto = next; pkt.transportHeader = -1; return; }
      continue;
    }
    if (!EXTHDRS.has(next) || off + 2 > pkt.tail) break;
    const len = next === 51 ? (b[off + 1]! + 2) * 4 : (b[off + 1]! + 1) * 8;
    next = b[off]!;
    off += len;
  }
  pkt.l4proto = next;
  pkt.transportHeader = off <= pkt.tail ? off : -1;
}

export function isMulticast4(a: Uint8Array, o = 0): boolean { return (a[o]! & 0xf0) === 0xe0; }
export function isLbcast4(a: Uint8Array, o = 0): boolean { return a[o] === 255 && a[o + 1] === 255 && a[o + 2] === 255 && a[o + 3] === 255; }
export function isZeronet4(a: Uint8Array, o = 0): boolean { return a[o] === 0; }
export function isLoopback4(a: Uint8Array, o = 0): boolean { return a[o] === 127; }
export function isMulticast6(a: Uint8Array, o = 0): boolean { return a[o] === 0xff; }
export function isLinkLocal6(a: Uint8Array, o = 0): boolean { return a[o] === 0xfe && (a[o + 1]! & 0xc0) === 0x80; }
export function isLoopback6(a: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 15; i++) if (a[o + i] !== 0) return false;
  return a[o + 15] === 1;
}
