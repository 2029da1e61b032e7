/** Upper-layer checksums over a pseudo-header (RFC 793 §3.1, RFC 768, RFC 8200 §8.1). */
import { finish, onesSum } from '../checksum.js';
import type { PseudoHeader } from './fields.js';

/**
 * The checksum of `data` (an upper-layer header and its payload, with its
 * checksum field zero) under `pseudo` for protocol `proto`. `coverage` limits
 * the bytes summed (UDP-Lite, DCCP); the length in the pseudo-header stays
 * the full one.
 */
export function pseudoChecksum(pseudo: PseudoHeader, proto: number, data: Uint8Array, coverage = data.length): number {
  const len = pseudo.length ?? data.length;
  let sum = onesSum(pseudo.src, 0, pseudo.src.length) + onesSum(pseudo.dst, 0, pseudo.dst.length) + proto;
  // IPv6 pseudo-header carries a 32-bit length; IPv4's is 16 bits.
  sum += pseudo.src.length === 16 ? Math.floor(len / 0x10000) + (len & 0xffff) : len & 0xffff;
  return finish(onesSum(data, 0, Math.min(coverage, data.length), sum));
}
