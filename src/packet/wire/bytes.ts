/**
 * Byte-level helpers shared by the header views: big-endian loads and stores
 * (network byte order, RFC 791 Appendix B) and the text forms of addresses
 * that Wireshark, tcpdump and `ip` print.
 */
import { PacketParseError } from '../errors.js';

/** Throws the typed parse error unless `len` bytes are available at `off`. */
export function need(buf: Uint8Array, off: number, len: number, what: string): void {
  if (off < 0 || len < 0 || off + len > buf.length) {
    throw new PacketParseError(`${what}: need ${len} bytes at offset ${off}, have ${Math.max(0, buf.length - off)}`, off);
  }
}

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u24(b: Uint8Array, o: number): number {
  return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `00:11:22:aa:bb:cc` — lower case with colons, as Wireshark's `eth.src` and `ip link` print. */
export function formatMac(b: Uint8Array, o: number, len = 6): string {
  if (len <= 0) return '';
  let s = HEX[b[o]!]!;
  for (let i = 1; i < len; i++) s += ':' + HEX[b[o + i]!]!;
  return s;
}

export function formatIPv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/**
 * RFC 5952 text form: lower-case hex, no leading zeros, the longest run of two
 * or more zero groups (the first one on a tie) replaced by `::` (§4.2), and an
 * IPv4-mapped address written with a dotted quad (§5), as inet_ntop() does.
 */
export function formatIPv6(b: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 1; // §4.2.2: a single zero group is never shortened
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (u16(b, o + 2 * i) === 0) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  // §5 and glibc's inet_ntop(): an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d)
  // address ends in a dotted quad; Wireshark prints through inet_ntop(), so we follow it.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && u16(b, o + 10) === 0xffff))) {
    return (bestLen === 5 ? '::ffff:' : '::') + formatIPv4(b, o + 12);
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += u16(b, o + 2 * i).toString(16);
  }
  return s;
}

/** `0x` followed by `digits` lower-case hex digits, as tcpdump prints SPIs. */
export function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}
