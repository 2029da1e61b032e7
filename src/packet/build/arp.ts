/** ARP (RFC 826), field names as scapy's ARP layer. */
import { concat, ip4, ip6, mac, packBits, parseIPv4, parseIPv6, parseMac, type Addr } from './fields.js';

export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export interface ArpRepr {
  hwtype: number;
  ptype: number;
  /** Hardware address length; null = length of the addresses given. */
  hwlen: number | null;
  /** Protocol address length; null = length of the addresses given. */
  plen: number | null;
  op: number;
  hwsrc: Addr;
  psrc: Addr;
  hwdst: Addr;
  pdst: Addr;
}

function hwAddr(a: Addr): Uint8Array {
  return typeof a === 'string' && parseMac(a) ? mac(a) : typeof a === 'string' ? new TextEncoder().encode(a) : a;
}

function protoAddr(a: Addr, ptype: number): Uint8Array {
  if (typeof a !== 'string') return a;
  if (ptype === 0x86dd && parseIPv6(a)) return ip6(a);
  if (parseIPv4(a)) return ip4(a);
  return new TextEncoder().encode(a);
}

export function emitArp(r: ArpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hs = hwAddr(r.hwsrc), hd = hwAddr(r.hwdst);
  const ps = protoAddr(r.psrc, r.ptype), pd = protoAddr(r.pdst, r.ptype);
  const head = packBits([[16, r.hwtype], [16, r.ptype], [8, r.hwlen ?? hs.length], [8, r.plen ?? ps.length], [16, r.op]]);
  return concat([head, hs, ps, hd, pd, payload]);
}
