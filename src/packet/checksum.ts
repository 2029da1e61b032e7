/**
 * The internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are kept as plain numbers (doubles, exact below 2^53) and folded
 * only at the end, and callers chain partial sums (pseudo-header, header,
 * payload) with `onesSum(..., initial)`.
 */

/**
 * Ranges at least this long are summed a 32-bit word at a time; shorter ones
 * (pseudo-headers, a bare TCP ACK) byte pair by byte pair, which is faster
 * for them than setting up the word loop.
 */
const WORD_MIN = 64;

/** Whether this machine stores a Uint32Array word little-end first (x86, arm64). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * One Uint32Array view over the ArrayBuffer summed last: packet buffers are
 * cut from shared 64 KiB slabs (packet.ts), so consecutive packets almost
 * always hit it, and making a view per call would cost more than it saves.
 */
let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * One's-complement sum of `len` bytes at `off`, added to `initial`, not folded.
 *
 * The result is the sum of the range's big-endian 16-bit words plus
 * `initial` up to a multiple of 0xffff — the same value once folded, and 0
 * only when the range and `initial` are all zero — so callers may chain and
 * fold it but must not compare it unfolded. Ranges of WORD_MIN bytes or
 * more are summed in native 32-bit words, as the kernel's csum_partial()
 * does: RFC 1071 §2 (A) and (C) let the words be added in any grouping and
 * 32 bits at a time, and §2 (B) makes the sum independent of byte order, so
 * a little-endian word sum is the big-endian one with its folded bytes
 * swapped. Below WORD_MIN the sum is exact.
 */
export function onesSum(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  // Out-of-view ranges keep pairSum's reading (missing bytes count as zero); offsets
  // past 2^31 would overflow the int32 alignment arithmetic below.
  if (len < WORD_MIN || off < 0 || off + len > bytes.length) return pairSum(bytes, off, len, initial);
  // byteOffset and buffer are runtime calls, not field loads, in Node 20's V8 (~15 ns each): read each once.
  const base = bytes.byteOffset;
  if (base + off + len > 0x7ffffff0) return pairSum(bytes, off, len, initial);
  const ab = bytes.buffer;
  if (ab !== wordsOf) {
    wordsOf = ab;
    words = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  }
  const s = base + off, e = s + len;
  // Whole aligned words in [ws, we); up to 3 loose bytes before and after them.
  const ws = (s + 3) & ~3, we = e & ~3;
  let sum = initial;
  // A loose byte at an even distance from the start is the high byte of its 16-bit word.
  for (let i = s; i < ws; i++) sum += (i - s) & 1 ? bytes[i - base]! : bytes[i - base]! << 8;
  for (let i = we; i < e; i++) sum += (i - s) & 1 ? bytes[i - base]! : bytes[i - base]! << 8;
  const w = words;
  let ws32 = 0;
  let k = ws >>> 2;
  const ke = we >>> 2;
  for (; k + 7 < ke; k += 8) ws32 += w[k]! + w[k + 1]! + w[k + 2]! + w[k + 3]! + w[k + 4]! + w[k + 5]! + w[k + 6]! + w[k + 7]!;
  for (; k < ke; k++) ws32 += w[k]!;
  ws32 = fold(ws32);
  // The words' native 16-bit halves line up with the range's big-endian words
  // when they start an even distance in; little-endian halves then read them
  // byte-swapped. At an odd distance the halves straddle two words and the
  // swap cancels out.
  if ((((ws - s) & 1) === 0) === LITTLE_ENDIAN) ws32 = ((ws32 & 0xff) << 8) | (ws32 >>> 8);
  return sum + ws32;
}

/** The exact sum of big-endian 16-bit words; an odd last byte is padded on the right. */
function pairSum(bytes: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial;
  const end = off + len;
  let i = off;
  for (; i + 3 < end; i += 4) sum += ((bytes[i]! << 8) | bytes[i + 1]!) + ((bytes[i + 2]! << 8) | bytes[i + 3]!);
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
  // Read directly: every TCP/UDP checksum conntrack verifies starts here.
  return (
    ((bytes[srcOff]! << 8) | bytes[srcOff + 1]!) + ((bytes[srcOff + 2]! << 8) | bytes[srcOff + 3]!) +
    ((bytes[dstOff]! << 8) | bytes[dstOff + 1]!) + ((bytes[dstOff + 2]! << 8) | bytes[dstOff + 3]!) +
    proto + l4len
  );
}

/** Pseudo-header sum for IPv6 (RFC 8200 §8.1): 32-bit length, next header. */
export function pseudoSum6(bytes: Uint8Array, srcOff: number, dstOff: number, nextHeader: number, l4len: number): number {
  return pairSum(bytes, srcOff, 16, 0) + pairSum(bytes, dstOff, 16, 0) + Math.floor(l4len / 0x10000) + (l4len & 0xffff) + nextHeader;
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
