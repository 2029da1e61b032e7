/**
 * Addresses as Linux's xfrm_address_t holds them: 16 bytes, an IPv4 address in
 * the first 4. Parsing follows iproute2's get_addr_1 (strict dotted quad, or
 * inet_pton for anything with a colon); printing follows glibc's inet_ntop
 * (resolv/inet_ntop.c), which is what `ip xfrm` output is made of, incl. its
 * `::a.b.c.d` and `::ffff:a.b.c.d` forms.
 */
import { AF_INET, AF_INET6, type Family } from './constants.js';

export type XfrmAddress = Uint8Array; // always 16 bytes

export function anyAddress(): XfrmAddress {
  return new Uint8Array(16);
}

function parseIpv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return false;
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

function parseIpv6(text: string, out: Uint8Array): boolean {
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    if (text.indexOf('::', dbl + 1) >= 0) return false;
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const words: number[] = [];
  const parse = (s: string, into: number[], allowV4: boolean): boolean => {
    if (s === '') return true;
    const groups = s.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const b = new Uint8Array(4);
        if (!parseIpv4(g, b, 0)) return false;
        into.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      into.push(parseInt(g, 16));
    }
    return true;
  };
  const tailWords: number[] = [];
  if (!parse(head, words, dbl < 0)) return false;
  if (!parse(tail, tailWords, true)) return false;
  if (dbl < 0) {
    if (words.length !== 8) return false;
  } else {
    if (words.length + tailWords.length > 7) return false;
    while (words.length + tailWords.length < 8) words.push(0);
  }
  words.push(...tailWords);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return true;
}

/** Parses an address; null when it is not one (iproute2 then says "... is expected"). */
export function parseAddress(text: string, family = 0): { family: Family; addr: XfrmAddress } | null {
  const addr = new Uint8Array(16);
  if (text.includes(':')) {
    if (family !== 0 && family !== AF_INET6) return null;
    return parseIpv6(text, addr) ? { family: AF_INET6, addr } : null;
  }
  if (family !== 0 && family !== AF_INET) return null;
  return parseIpv4(text, addr, 0) ? { family: AF_INET, addr } : null;
}

/** inet_ntop as glibc prints it. */
export function formatAddress(family: number, a: XfrmAddress): string {
  if (family !== AF_INET6) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[2 * i]! << 8) | a[2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    // glibc prints an embedded IPv4 address for ::a.b.c.d and ::ffff:a.b.c.d
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      s += `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
      return s;
    }
    s += w[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) s += ':';
  return s;
}

export function addressBytes(family: number): number {
  return family === AF_INET6 ? 16 : 4;
}

export function addrEqual(a: XfrmAddress, b: XfrmAddress, family: number): boolean {
  const n = addressBytes(family);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function addrIsAny(a: XfrmAddress, family: number): boolean {
  const n = addressBytes(family);
  for (let i = 0; i < n; i++) if (a[i] !== 0) return false;
  return true;
}

/** addr_match() of include/net/xfrm.h: the first `plen` bits are equal. */
export function prefixMatch(a: XfrmAddress, b: XfrmAddress, plen: number): boolean {
  let i = 0;
  for (; plen >= 8; plen -= 8, i++) if (a[i] !== b[i]) return false;
  if (plen === 0) return true;
  const mask = (0xff << (8 - plen)) & 0xff;
  return ((a[i]! ^ b[i]!) & mask) === 0;
}

/** Text form used when state is saved as JSON. */
export function addrToJson(a: XfrmAddress): string {
  return Buffer.from(a).toString('hex');
}
export function addrFromJson(s: string): XfrmAddress {
  const out = new Uint8Array(16);
  out.set(Buffer.from(s, 'hex').subarray(0, 16));
  return out;
}
