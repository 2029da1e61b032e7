/**
 * ICMPv6 (RFC 4443): echo and errors (the quoted packet is the payload),
 * neighbour discovery (RFC 4861 §4) with its options (§4.6) and MLD (RFC 2710,
 * RFC 3810). Each message body is a plain object; emitIcmpv6 adds the common
 * type/code/checksum header. Field names as scapy's ICMPv6 layers.
 */
import { concat, ip6, mac, packBits, put16, toBytes, type Addr, type PseudoHeader } from './fields.js';
import { pseudoChecksum } from './pseudo.js';

import { IPPROTO_ICMPV6 } from './ipv6.js';

export { IPPROTO_ICMPV6 };

export interface Icmpv6Head {
  type: number;
  code: number;
  /** null = computed over the pseudo-header, message and payload (RFC 4443 §2.3). */
  cksum: number | null;
}

export function emitIcmpv6(head: Icmpv6Head, body: Uint8Array, payload: Uint8Array = new Uint8Array(0), pseudo: PseudoHeader | null = null): Uint8Array {
  const msg = concat([packBits([[8, head.type], [8, head.code], [16, head.cksum ?? 0]]), body, payload]);
  if (head.cksum === null && pseudo) put16(msg, 2, pseudoChecksum(pseudo, IPPROTO_ICMPV6, msg));
  return msg;
}

/** Echo request/reply body (RFC 4443 §4). */
export const echoBody = (r: { id: number; seq: number; data: string | Uint8Array }): Uint8Array =>
  concat([packBits([[16, r.id], [16, r.seq]]), toBytes(r.data)]);

/** Destination unreachable / time exceeded body: RFC 4884 length, then 24 unused bits. */
export const errorBody = (r: { length: number; unused: number }): Uint8Array => packBits([[8, r.length], [24, r.unused]]);
/** Packet too big (§3.2). */
export const mtuBody = (r: { mtu: number }): Uint8Array => packBits([[32, r.mtu]]);
/** Parameter problem (§3.4). */
export const pointerBody = (r: { ptr: number }): Uint8Array => packBits([[32, r.ptr]]);

/** Router solicitation (RFC 4861 §4.1). */
export const rsBody = (r: { res: number }): Uint8Array => packBits([[32, r.res]]);
/** Router advertisement (RFC 4861 §4.2, RFC 3775 H, RFC 4191 prf, RFC 4389 P). */
export const raBody = (r: { chlim: number; M: number; O: number; H: number; prf: number; P: number; res: number; routerlifetime: number; reachabletime: number; retranstimer: number }): Uint8Array =>
  packBits([[8, r.chlim], [1, r.M], [1, r.O], [1, r.H], [2, r.prf], [1, r.P], [2, r.res], [16, r.routerlifetime], [32, r.reachabletime], [32, r.retranstimer]]);
/** Neighbour solicitation (§4.3). */
export const nsBody = (r: { res: number; tgt: Addr }): Uint8Array => concat([packBits([[32, r.res]]), ip6(r.tgt)]);
/** Neighbour advertisement (§4.4): router, solicited, override flags. */
export const naBody = (r: { R: number; S: number; O: number; res: number; tgt: Addr }): Uint8Array =>
  concat([packBits([[1, r.R], [1, r.S], [1, r.O], [29, r.res]]), ip6(r.tgt)]);
/** Redirect (§4.5). */
export const redirectBody = (r: { res: number; tgt: Addr; dst: Addr }): Uint8Array =>
  concat([packBits([[32, r.res]]), ip6(r.tgt), ip6(r.dst)]);

/** Source/target link-layer address option (RFC 4861 §4.6.1); len in 8-octet units. */
export const llAddrOption = (r: { type: number; len: number; lladdr: Addr }): Uint8Array =>
  concat([Uint8Array.of(r.type, r.len), mac(r.lladdr)]);
/** Prefix information option (§4.6.2). */
export const prefixInfoOption = (r: { type: number; len: number; prefixlen: number; L: number; A: number; R: number; res1: number; validlifetime: number; preferredlifetime: number; res2: number; prefix: Addr }): Uint8Array =>
  concat([packBits([[8, r.type], [8, r.len], [8, r.prefixlen], [1, r.L], [1, r.A], [1, r.R], [5, r.res1], [32, r.validlifetime], [32, r.preferredlifetime], [32, r.res2]]), ip6(r.prefix)]);
/** MTU option (§4.6.4). */
export const mtuOption = (r: { type: number; len: number; res: number; mtu: number }): Uint8Array =>
  packBits([[8, r.type], [8, r.len], [16, r.res], [32, r.mtu]]);

/** MLDv1 query/report/done (RFC 2710 §3). */
export const mldBody = (r: { mrd: number; reserved: number; mladdr: Addr }): Uint8Array =>
  concat([packBits([[16, r.mrd], [16, r.reserved]]), ip6(r.mladdr)]);

/** MLDv2 query (RFC 3810 §5.1); sources_number null = count of sources. */
export const mld2QueryBody = (r: { mrd: number; reserved: number; mladdr: Addr; Resv: number; S: number; QRV: number; QQIC: number; sources_number: number | null; sources: ReadonlyArray<Addr> }): Uint8Array =>
  concat([packBits([[16, r.mrd], [16, r.reserved]]), ip6(r.mladdr), packBits([[4, r.Resv], [1, r.S], [3, r.QRV], [8, r.QQIC], [16, r.sources_number ?? r.sources.length]]), ...r.sources.map(ip6)]);

/** MLDv2 multicast address record (RFC 3810 §5.2.4). */
export interface Mld2RecordRepr {
  rtype: number;
  auxdata_len: number | null;
  sources_number: number | null;
  dst: Addr;
  sources: ReadonlyArray<Addr>;
  auxdata: string | Uint8Array;
}
export const mld2Record = (r: Mld2RecordRepr): Uint8Array => {
  const aux = toBytes(r.auxdata);
  return concat([packBits([[8, r.rtype], [8, r.auxdata_len ?? aux.length], [16, r.sources_number ?? r.sources.length]]), ip6(r.dst), ...r.sources.map(ip6), aux]);
};
/** MLDv2 report body after type/res/checksum (RFC 3810 §5.2). */
export const mld2ReportBody = (r: { reserved: number; records_number: number | null; records: ReadonlyArray<Uint8Array>; recordCount: number }): Uint8Array =>
  concat([packBits([[16, r.reserved], [16, r.records_number ?? r.recordCount]]), ...r.records]);
