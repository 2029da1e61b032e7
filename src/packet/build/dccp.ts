/**
 * DCCP generic header (RFC 4340 §5.1). Only the common header is built;
 * type-specific fields (service code, acknowledgement subheader) and options
 * are the payload. Field names follow scapy style (nfx's own `DCCP` layer).
 */
import { concat, packBits, put16, type PseudoHeader } from './fields.js';
import { pseudoChecksum } from './pseudo.js';

export const IPPROTO_DCCP = 33;

export interface DccpRepr {
  sport: number;
  dport: number;
  /** Data offset in 32-bit words; null = the generic header's length. */
  dataofs: number | null;
  ccval: number;
  /** Checksum coverage (RFC 4340 §9.2): 0 = all, n = header + (n−1)·4 data octets. */
  cscov: number;
  chksum: number | null;
  res: number;
  type: number;
  /** Extended sequence numbers: 1 = 48-bit sequence number, 0 = 24-bit. */
  x: number;
  reserved: number;
  seq: number;
}

export function emitDccp(r: DccpRepr, payload: Uint8Array = new Uint8Array(0), pseudo: PseudoHeader | null = null): Uint8Array {
  const hlen = r.x ? 16 : 12;
  const seqPart: Array<readonly [number, number]> = r.x
    ? [[8, r.reserved], [16, Math.floor(r.seq / 2 ** 32)], [32, r.seq % 2 ** 32]]
    : [[24, r.seq]];
  const head = packBits([
    [16, r.sport], [16, r.dport], [8, r.dataofs ?? hlen / 4], [4, r.ccval], [4, r.cscov],
    [16, r.chksum ?? 0], [3, r.res], [4, r.type], [1, r.x], ...seqPart,
  ]);
  const pkt = concat([head, payload]);
  if (r.chksum === null && pseudo) {
    // RFC 4340 §9.1: the checksum covers the header (data offset) plus, with
    // CsCov > 0, (CsCov − 1) × 4 octets of application data.
    const doff = 4 * (r.dataofs ?? hlen / 4);
    const cover = r.cscov === 0 ? pkt.length : Math.min(pkt.length, doff + (r.cscov - 1) * 4);
    put16(pkt, 6, pseudoChecksum(pseudo, IPPROTO_DCCP, pkt, cover));
  }
  return pkt;
}
