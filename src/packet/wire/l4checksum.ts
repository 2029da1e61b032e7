/**
 * Transport checksums over the IPv4 and IPv6 pseudo-headers (RFC 9293 §3.1,
 * RFC 768, RFC 8200 §8.1, RFC 3828 §3.1 for UDP-Lite's partial coverage,
 * RFC 4443 §2.3 for ICMPv6), computed with `../checksum.ts`.
 */
import { finish, fold, onesSum, pseudoSum4, pseudoSum6 } from '../checksum.js';
import { IPPROTO_UDP } from './constants.js';

/**
 * The checksum value a transport header at `l4Off` of `l4Len` bytes should
 * carry, with its own checksum field (at `l4Off + csumAt`) counted as zero,
 * over `covered` bytes (all by default; fewer for UDP-Lite).
 */
export function l4Checksum4(buf: Uint8Array, ipOff: number, l4Off: number, l4Len: number, proto: number, csumAt: number, covered = l4Len): number {
  const sum = pseudoSum4(buf, ipOff + 12, ipOff + 16, proto, l4Len);
  return finishL4(buf, l4Off, covered, csumAt, sum, proto);
}

export function l4Checksum6(buf: Uint8Array, ipOff: number, l4Off: number, l4Len: number, nexthdr: number, csumAt: number, covered = l4Len): number {
  const sum = pseudoSum6(buf, ipOff + 8, ipOff + 24, nexthdr, l4Len);
  return finishL4(buf, l4Off, covered, csumAt, sum, nexthdr);
}

function finishL4(buf: Uint8Array, l4Off: number, covered: number, csumAt: number, pseudo: number, proto: number): number {
  let sum = onesSum(buf, l4Off, csumAt, pseudo);
  sum = onesSum(buf, l4Off + csumAt + 2, covered - csumAt - 2, sum);
  const c = finish(sum);
  // RFC 768: a computed zero is sent as all ones, zero meaning "no checksum" for UDP.
  return c === 0 && proto === IPPROTO_UDP ? 0xffff : c;
}

/** Offsets of the checksum field inside each transport header. */
export const CSUM_OFFSET_TCP = 16;
export const CSUM_OFFSET_UDP = 6;
export const CSUM_OFFSET_ICMPV6 = 2;
export const CSUM_OFFSET_DCCP = 6;

/**
 * True when the transport checksum verifies: the stored value equals the
 * computed one (0x0000 and 0xffff being the same one's-complement zero). For
 * IPv4 UDP a stored 0 means "not computed" and passes (RFC 768); over IPv6 it
 * fails (RFC 8200 §8.1).
 */
export function verifyL4Checksum4(buf: Uint8Array, ipOff: number, l4Off: number, l4Len: number, proto: number, csumAt: number, covered = l4Len): boolean {
  const stored = (buf[l4Off + csumAt]! << 8) | buf[l4Off + csumAt + 1]!;
  if (proto === IPPROTO_UDP && stored === 0) return true;
  if (covered < csumAt + 2) return sameOnes(stored, l4Checksum4(buf, ipOff, l4Off, l4Len, proto, csumAt, covered));
  return sumVerifies(buf, l4Off, covered, pseudoSum4(buf, ipOff + 12, ipOff + 16, proto, l4Len));
}

export function verifyL4Checksum6(buf: Uint8Array, ipOff: number, l4Off: number, l4Len: number, nexthdr: number, csumAt: number, covered = l4Len): boolean {
  const stored = (buf[l4Off + csumAt]! << 8) | buf[l4Off + csumAt + 1]!;
  if (nexthdr === IPPROTO_UDP && stored === 0) return false;
  if (covered < csumAt + 2) return sameOnes(stored, l4Checksum6(buf, ipOff, l4Off, l4Len, nexthdr, csumAt, covered));
  return sumVerifies(buf, l4Off, covered, pseudoSum6(buf, ipOff + 8, ipOff + 24, nexthdr, l4Len));
}

/**
 * The receiver's check (RFC 1071 §1, __skb_checksum_complete): the sum over
 * the pseudo-header and the covered bytes, the stored checksum included,
 * folds to all ones exactly when the stored value is the computed one up to
 * the two zeros. One pass over the data instead of two around the field.
 */
function sumVerifies(buf: Uint8Array, l4Off: number, covered: number, pseudo: number): boolean {
  return fold(onesSum(buf, l4Off, covered, pseudo)) === 0xffff;
}

function sameOnes(a: number, b: number): boolean {
  return a === b || (a % 0xffff) === (b % 0xffff);
}
