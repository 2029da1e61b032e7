/** SCTP common header (RFC 9260 §3.1) with its CRC32c checksum (Appendix A). */
import { concat, packBits, type PseudoHeader } from './fields.js';

export const IPPROTO_SCTP = 132;

export interface SctpRepr {
  sport: number;
  dport: number;
  /** Verification tag. */
  tag: number;
  /** null = CRC32c over the whole packet with this field zero. */
  chksum: number | null;
}

// CRC32c (Castagnoli, reflected polynomial 0x82f63b78), RFC 9260 Appendix A.
const CRC32C = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = (crc >>> 8) ^ CRC32C[(crc ^ buf[i]!) & 0xff]!;
  return ~crc >>> 0;
}

/** Chunks are the payload; SCTP needs no pseudo-header (the argument is accepted for symmetry). */
export function emitSctp(r: SctpRepr, payload: Uint8Array = new Uint8Array(0), _pseudo: PseudoHeader | null = null): Uint8Array {
  const pkt = concat([packBits([[16, r.sport], [16, r.dport], [32, r.tag], [32, r.chksum ?? 0]]), payload]);
  if (r.chksum === null) {
    // RFC 9260 Appendix A: the CRC is stored least significant byte first.
    const c = crc32c(pkt);
    pkt[8] = c & 0xff;
    pkt[9] = (c >>> 8) & 0xff;
    pkt[10] = (c >>> 16) & 0xff;
    pkt[11] = (c >>> 24) & 0xff;
  }
  return pkt;
}
