/**
 * ICMP (RFC 792, RFC 1191 next-hop MTU, RFC 4884 length): echo, unreachable,
 * time exceeded, redirect, parameter problem, timestamp, address mask. The
 * quoted packet of an error is the payload. Field names as scapy's ICMP.
 */
import { internetChecksum } from '../checksum.js';
import { concat, ip4, packBits, put16, type Addr } from './fields.js';

export const IPPROTO_ICMP = 1;
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;

/** Types whose second word is identifier + sequence number (RFC 792, RFC 950). */
const ID_SEQ_TYPES = new Set([0, 8, 13, 14, 15, 16, 17, 18, 37, 38]);

/** Types whose header has no trailing unused word (scapy's layout; others get 32 unused bits, 11/12 get 16). */
const NO_UNUSED_TYPES = new Set([0, 3, 5, 8, 13, 14, 15, 16, 17, 18]);

export interface IcmpRepr {
  type: number;
  code: number;
  /** null = computed over the message and its payload. */
  chksum: number | null;
  id: number;
  seq: number;
  /** Timestamp request/reply (types 13, 14), ms since midnight UT. */
  ts_ori: number;
  ts_rx: number;
  ts_tx: number;
  /** Redirect gateway (type 5). */
  gw: Addr;
  /** Parameter problem pointer (type 12). */
  ptr: number;
  reserved: number;
  /** RFC 4884 length of the original datagram in 32-bit words (types 3, 11, 12). */
  length: number;
  addr_mask: Addr;
  /** RFC 1191 next-hop MTU (type 3). */
  nexthopmtu: number;
  /** Unused trailing bits for types that have them (16 bits for 11/12, 32 for unknown types). */
  unused: number;
}

export const ICMP_DEFAULTS: IcmpRepr = {
  type: ICMP_ECHO, code: 0, chksum: null, id: 0, seq: 0, ts_ori: 0, ts_rx: 0, ts_tx: 0,
  gw: '0.0.0.0', ptr: 0, reserved: 0, length: 0, addr_mask: '0.0.0.0', nexthopmtu: 0, unused: 0,
};

/** The rest-of-header layout for `type`, in the order scapy writes it. */
function restOfHeader(r: IcmpRepr): Uint8Array {
  const t = r.type;
  const parts: Uint8Array[] = [];
  if (ID_SEQ_TYPES.has(t)) parts.push(packBits([[16, r.id], [16, r.seq]]));
  if (t === 13 || t === 14) parts.push(packBits([[32, r.ts_ori], [32, r.ts_rx], [32, r.ts_tx]]));
  if (t === 5) parts.push(ip4(r.gw));
  if (t === 12) parts.push(Uint8Array.of(r.ptr & 0xff));
  if (t === 3 || t === 11) parts.push(Uint8Array.of(r.reserved & 0xff));
  if (t === 3 || t === 11 || t === 12) parts.push(Uint8Array.of(r.length & 0xff));
  if (t === 17 || t === 18) parts.push(ip4(r.addr_mask));
  if (t === 3) parts.push(packBits([[16, r.nexthopmtu]]));
  if (t === 11 || t === 12) parts.push(packBits([[16, r.unused]]));
  else if (!NO_UNUSED_TYPES.has(t)) parts.push(packBits([[32, r.unused]]));
  return concat(parts);
}

export function emitIcmp(r: IcmpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const msg = concat([packBits([[8, r.type], [8, r.code], [16, r.chksum ?? 0]]), restOfHeader(r), payload]);
  if (r.chksum === null) put16(msg, 2, internetChecksum(msg));
  return msg;
}
