/**
 * IGMP v1/v2 (RFC 1112, RFC 2236) and v3 basics (RFC 3376 §4): query with
 * sources, report with group records. Field names as scapy's contrib IGMP/IGMPv3.
 */
import { internetChecksum } from '../checksum.js';
import { concat, ip4, packBits, put16, type Addr } from './fields.js';

export const IPPROTO_IGMP = 2;

/** Common header: type, max response code, checksum (over the whole message). */
export interface IgmpHead {
  type: number;
  mrcode: number;
  chksum: number | null;
}

/** v1/v2 message: the group address follows the header. */
export function emitIgmp(r: IgmpHead & { gaddr: Addr }, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return emitIgmpMessage(r, concat([ip4(r.gaddr), payload]));
}

/** Any IGMP message: the header, then `body` (the v3 query or report after the first word). */
export function emitIgmpMessage(head: IgmpHead, body: Uint8Array): Uint8Array {
  const msg = concat([packBits([[8, head.type], [8, head.mrcode], [16, head.chksum ?? 0]]), body]);
  if (head.chksum === null) put16(msg, 2, internetChecksum(msg));
  return msg;
}

/** IGMPv3 membership query body (RFC 3376 §4.1); numsrc null = count of sources. */
export const igmpv3QueryBody = (r: { gaddr: Addr; resv: number; s: number; qrv: number; qqic: number; numsrc: number | null; srcaddrs: ReadonlyArray<Addr> }): Uint8Array =>
  concat([ip4(r.gaddr), packBits([[4, r.resv], [1, r.s], [3, r.qrv], [8, r.qqic], [16, r.numsrc ?? r.srcaddrs.length]]), ...r.srcaddrs.map(ip4)]);

/** IGMPv3 group record (RFC 3376 §4.2.4); auxiliary data is not supported beyond its length octet. */
export const igmpv3GroupRecord = (r: { rtype: number; auxdlen: number; numsrc: number | null; maddr: Addr; srcaddrs: ReadonlyArray<Addr> }): Uint8Array =>
  concat([packBits([[8, r.rtype], [8, r.auxdlen], [16, r.numsrc ?? r.srcaddrs.length]]), ip4(r.maddr), ...r.srcaddrs.map(ip4)]);

/** IGMPv3 report body (RFC 3376 §4.2) after the type/reserved/checksum word. */
export const igmpv3ReportBody = (r: { res2: number; numgrp: number | null; records: ReadonlyArray<Uint8Array> }): Uint8Array =>
  concat([packBits([[16, r.res2], [16, r.numgrp ?? r.records.length]]), ...r.records]);

/**
 * RFC 3376 §4.1.1 Max Resp Code: values ≥ 128 use the floating-point form
 * 1|exp(3)|mant(4), value = (mant | 0x10) << (exp + 3).
 */
export function igmpv3EncodeTime(value: number): number {
  if (value < 128) return value;
  if (value > 31743) return 255;
  let exp = 0;
  let v = value >> 3;
  while (v > 31) {
    exp++;
    v >>= 1;
  }
  return 0x80 | (exp << 4) | (v & 0x0f);
}
