/**
 * The internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are kept as plain numbers and folded only at the end: a 32-bit
 * accumulator of 16-bit words cannot overflow for any packet below 128 KiB,
 * and callers chain partial sums (pseudo-header, header, payload) with
 * `onesSum(..., initial)`.
 */

/** One's-complement sum of `len` bytes at `off`, added to `initial`, not folded. */
export function onesSum(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  // RFC 1071 §4.1: an odd trailing byte is padded with a zero byte on the right.
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds a 32-bit (or wider, below 2^48) accumulator into 16 bits. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: the complement of the folded sum. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Internet checksum of a byte range (the value to store in the header). */
export function internetChecksum(bytes: Uint8Array, off = 0, len = bytes.length - off, initial = 0): number {
  return finish(onesSum(bytes, off, len, initial));
}

/** Pseudo-header sum for IPv4 (RFC 793 §3.1, RFC 768). */
export function pseudoSum4(bytes: Uint8Array, srcOff: number, dstOff: number, proto: number, l4len: number): number {
  return onesSum(bytes, srcOff, 4) + onesSum(bytes, dstOff, 4) + proto + l4len;
}

/** Pseudo-header sum for IPv6 (RFC 8200 §8.1): 32-bit length, next header. */
export function pseudoSum6(bytes: Uint8Array, srcOff: number, dstOff: number, nextHeader: number, l4len: number): number {
  return onesSum(bytes, srcOff, 16) + onesSum(bytes, dstOff, 16) + Math.floor(l4len / 0x10000) + (l4len & 0xffff) + nextHeader;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Updates checksum `check` after a
 * 16-bit word changed from `oldWord` to `newWord`, without touching the data.
 * This is the form the kernel's csum_replace2() uses; it never yields 0x0000
 * from a non-zero sum, so a valid checksum stays valid.
 */
export function checksumReplace16(check: number, oldWord: number, newWord: number): number {
  const sum = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (an IPv4 address), as csum_replace4(). */
export function checksumReplace32(check: number, oldValue: number, newValue: number): number {
  let c = checksumReplace16(check, oldValue >>> 16, newValue >>> 16);
  c = checksumReplace16(c, oldValue & 0xffff, newValue & 0xffff);
  return c;
}

/**
 * RFC 1624 update for an even-length byte range that changed from `oldBytes`
 * to `newBytes` (an IPv6 address, a port pair): HC' = ~(~HC + Σ~m + Σm').
 */
export function checksumReplaceBytes(check: number, oldBytes: Uint8Array, newBytes: Uint8Array): number {
  let sum = ~check & 0xffff;
  for (let i = 0; i + 1 < oldBytes.length; i += 2) sum += ~((oldBytes[i]! << 8) | oldBytes[i + 1]!) & 0xffff;
  sum += onesSum(newBytes, 0, newBytes.length);
  return ~fold(sum) & 0xffff;
}
