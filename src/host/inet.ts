/**
 * IPv4/IPv6 addresses as iproute2 reads and prints them.
 *
 * An address is a `Uint8Array` of 4 or 16 bytes in network order, so the FIB can
 * compare it with a packet's header bytes in place. Parsing follows iproute2's
 * `get_addr_1()` (lib/utils.c): IPv4 accepts 1–4 dotted parts ("1.2.3" is
 * 1.2.3.0); printing IPv6 follows RFC 5952 (what `inet_ntop` prints).
 */

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  addr: Uint8Array;
  plen: number;
}

/** Parses IPv4 the way iproute2's get_addr_ipv4() does; null when it is not one. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses RFC 4291 §2.2 text (incl. a trailing dotted IPv4); null when invalid. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let head = text;
  let v4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const tail = text.slice(lastColon + 1);
    const t = tail.split('.');
    if (t.length !== 4) return null;
    v4 = parseIPv4(tail);
    if (!v4) return null;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return null;
  const groups: string[] = [];
  if (dbl >= 0) {
    const l = head.slice(0, dbl);
    const r = head.slice(dbl + 2);
    const lg = l === '' ? [] : l.split(':');
    const rg = r === '' ? [] : r.split(':');
    if (lg.length + rg.length > 7) return null;
    groups.push(...lg, ...new Array<string>(8 - lg.length - rg.length).fill('0'), ...rg);
  } else {
    groups.push(...head.split(':'));
    if (groups.length !== 8) return null;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

export function formatIPv4(a: Uint8Array, off = 0): string {
  return `${a[off]}.${a[off + 1]}.${a[off + 2]}.${a[off + 3]}`;
}

/** RFC 5952 §4: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as `::`. */
export function formatIPv6(a: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a[off + 2 * i]! << 8) | a[off + 2 * i + 1]!);
  // inet_ntop prints IPv4-mapped (::ffff:a.b.c.d) with a dotted tail.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(a, off + 12)}`;
  }
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

export function formatAddr(a: Uint8Array): string {
  return a.length === 4 ? formatIPv4(a) : formatIPv6(a);
}

export function parseAddr(text: string, family?: Family): Uint8Array | null {
  if (family === 4) return parseIPv4(text);
  if (family === 6) return parseIPv6(text);
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** `ADDR[/PLEN]`; a missing length is the full length (a host prefix). */
export function parsePrefix(text: string, family?: Family): Prefix | null {
  const slash = text.indexOf('/');
  const a = parseAddr(slash < 0 ? text : text.slice(0, slash), family);
  if (!a) return null;
  const max = a.length * 8;
  let plen = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    plen = Number(p);
    if (plen > max) return null;
  }
  return { family: a.length === 4 ? 4 : 6, addr: a, plen };
}

export function formatPrefix(p: Prefix): string {
  return p.plen === p.addr.length * 8 ? formatAddr(p.addr) : `${formatAddr(p.addr)}/${p.plen}`;
}

/** The address with every bit after `plen` cleared (a new array). */
export function maskAddr(a: Uint8Array, plen: number): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const bits = plen - i * 8;
    out[i] = bits >= 8 ? a[i]! : bits <= 0 ? 0 : a[i]! & (0xff << (8 - bits));
  }
  return out;
}

/** Whether the first `plen` bits of `a` (at offset `off`) equal those of `net`. Allocates nothing. */
export function prefixMatch(net: Uint8Array, plen: number, a: Uint8Array, off = 0): boolean {
  let i = 0;
  for (; plen >= 8; plen -= 8, i++) if (net[i] !== a[off + i]) return false;
  if (plen === 0) return true;
  const m = (0xff << (8 - plen)) & 0xff;
  return (net[i]! & m) === (a[off + i]! & m);
}

export function isHostPartZero(a: Uint8Array, plen: number): boolean {
  return equalAddr(maskAddr(a, plen), a);
}

export function equalAddr(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte order comparison (the order of keys in the kernel's fib_trie). */
export function compareAddr(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** The IPv4 subnet broadcast: host bits set. */
export function broadcast4(a: Uint8Array, plen: number): Uint8Array {
  const out = maskAddr(a, plen);
  for (let i = 0; i < 4; i++) {
    const bits = plen - i * 8;
    out[i] = bits >= 8 ? out[i]! : bits <= 0 ? 0xff : out[i]! | (0xff >> bits);
  }
  return out;
}

export function isZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(':');
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9A-Fa-f]{1,2}$/.test(parts[i]!)) return null;
    out[i] = parseInt(parts[i]!, 16);
  }
  return out;
}

/** Two lower-case hex digits per byte value (formatMac runs for every neighbour step of `why`). */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function formatMac(m: Uint8Array): string {
  let s = m.length > 0 ? HEX2[m[0]!]! : '';
  for (let i = 1; i < m.length; i++) s += ':' + HEX2[m[i]!]!;
  return s;
}
