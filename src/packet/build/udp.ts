/** UDP (RFC 768) and UDP-Lite (RFC 3828); field names as scapy's UDP layer. */
import { concat, packBits, put16, type PseudoHeader } from './fields.js';
import { pseudoChecksum } from './pseudo.js';

export const IPPROTO_UDP = 17;
export const IPPROTO_UDPLITE = 136;

export interface UdpRepr {
  sport: number;
  dport: number;
  /** null = header + payload. */
  len: number | null;
  /** null = computed when a pseudo-header is known, else 0. */
  chksum: number | null;
}

/** scapy's UDP() defaults: 53 → 53, length and checksum computed. */
export const UDP_DEFAULTS: UdpRepr = { sport: 53, dport: 53, len: null, chksum: null };

export function emitUdp(r: UdpRepr, payload: Uint8Array = new Uint8Array(0), pseudo: PseudoHeader | null = null): Uint8Array {
  const dgram = concat([packBits([[16, r.sport], [16, r.dport], [16, r.len ?? 8 + payload.length], [16, r.chksum ?? 0]]), payload]);
  if (r.chksum === null && pseudo) {
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum",
    // which RFC 8200 §8.1 forbids over IPv6).
    put16(dgram, 6, pseudoChecksum(pseudo, IPPROTO_UDP, dgram) || 0xffff);
  }
  return dgram;
}

export interface UdpLiteRepr {
  sport: number;
  dport: number;
  /**
   * Checksum coverage in octets from the header start (RFC 3828 §3.1);
   * 0 = the whole datagram; null = the whole datagram's length.
   */
  cscov: number | null;
  /** null = computed (mandatory in UDP-Lite); a computed 0 is sent as 0xffff. */
  chksum: number | null;
}

export function emitUdpLite(r: UdpLiteRepr, payload: Uint8Array = new Uint8Array(0), pseudo: PseudoHeader | null = null): Uint8Array {
  const total = 8 + payload.length;
  const cscov = r.cscov ?? total;
  const dgram = concat([packBits([[16, r.sport], [16, r.dport], [16, cscov], [16, r.chksum ?? 0]]), payload]);
  if (r.chksum === null && pseudo) {
    // RFC 3828 §3.1: coverage 0 covers everything; the pseudo-header length is
    // the datagram length (the IP payload length), not the coverage.
    const cover = cscov === 0 ? total : Math.min(cscov, total);
    put16(dgram, 6, pseudoChecksum({ ...pseudo, length: pseudo.length ?? total }, IPPROTO_UDPLITE, dgram, cover) || 0xffff);
  }
  return dgram;
}
