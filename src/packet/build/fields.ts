/**
 * Small helpers shared by the packet builders: address text to bytes, and a
 * big-endian bit packer for fixed header layouts (so each builder states its
 * layout as a list of (width, value) pairs in wire order, as the RFC figures do).
 */

/** Parses "aa:bb:cc:dd:ee:ff" (colons only, as scapy). Returns null when malformed. */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(":");
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const p = parts[i]!;
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) return null;
    out[i] = parseInt(p, 16);
  }
  return out;
}

/** Parses dotted-quad IPv4 text. Returns null when malformed. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses IPv6 text (RFC 4291 §2.2, incl. "::" and a trailing dotted quad). Null when malformed. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (!tail4) return null;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return null;
  const groups = (s: string): string[] | null => (s === '' ? [] : s.split(':'));
  let words: string[];
  if (dbl >= 0) {
    const l = groups(head.slice(0, dbl));
    const r = groups(head.slice(dbl + 2));
    if (!l || !r || l.length + r.length > 7) return null;
    words = [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r];
  } else {
    words = head.split(':');
    if (words.length !== 8) return null;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
    const v = parseInt(w, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

function must(v: Uint8Array | null, what: string, text: string): Uint8Array {
  if (!v) throw new TypeError(`invalid ${what} address: ${JSON.stringify(text)}`);
  return v;
}
export const mac = (t: string | Uint8Array): Uint8Array => (typeof t === 'string' ? must(parseMac(t), 'MAC', t) : t);
export const ip4 = (t: string | Uint8Array): Uint8Array => (typeof t === 'string' ? must(parseIPv4(t), 'IPv4', t) : t);
export const ip6 = (t: string | Uint8Array): Uint8Array => (typeof t === 'string' ? must(parseIPv6(t), 'IPv6', t) : t);

/** An address-typed value a builder accepts: text or the raw bytes. */
export type Addr = string | Uint8Array;

/**
 * Packs (bit width, value) pairs, most significant bit first, into bytes.
 * Values are reduced to their width (scapy's BitField masks the same way);
 * widths go from 1 to 48 and the total must be a whole number of bytes.
 */
export function packBits(fields: ReadonlyArray<readonly [number, number]>): Uint8Array {
  let bits = 0;
  for (const [w] of fields) bits += w;
  if (bits % 8 !== 0) throw new Error(`bit layout of ${bits} bits is not byte aligned`);
  const out = new Uint8Array(bits / 8);
  let pos = 0;
  for (const [w, raw] of fields) {
    // Reduce modulo 2^w with arithmetic, not bit operators: JS shifts are 32-bit.
    const m = 2 ** w;
    const v = ((raw % m) + m) % m;
    if ((pos & 7) === 0 && (w & 7) === 0) {
      // Byte-aligned whole bytes (most fields): write them directly.
      for (let b = w - 8; b >= 0; b -= 8) out[pos >> 3] = Math.floor(v / 2 ** b) & 0xff, pos += 8;
      continue;
    }
    for (let b = w - 1; b >= 0; b--) {
      if (Math.floor(v / 2 ** b) & 1) out[pos >> 3]! |= 0x80 >> (pos & 7);
      pos++;
    }
  }
  return out;
}

export function concat(parts: ReadonlyArray<Uint8Array>): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Bytes from text the way scapy's bytes_encode does: UTF-8. */
const UTF8 = new TextEncoder();
export function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? UTF8.encode(v) : v;
}

/**
 * The pseudo-header an upper-layer checksum covers (RFC 793 §3.1, RFC 8200
 * §8.1): 4- or 16-byte addresses; `length` overrides the upper-layer length
 * (scapy uses IP.len − 4·ihl when the IP length was given explicitly).
 */
export interface PseudoHeader {
  src: Uint8Array;
  dst: Uint8Array;
  length?: number;
}
