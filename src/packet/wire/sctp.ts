/** SCTP common header (RFC 9260 §3.1) and the first chunk's header (§3.2). */
import { PacketParseError } from '../errors.js';
import { need, setU16, setU32, u16, u32 } from './bytes.js';

export const SCTP_HLEN = 12;

export class SctpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, SCTP_HLEN, 'sctp');
  }
  get sourcePort(): number {
    return u16(this.buf, this.off);
  }
  set sourcePort(v: number) {
    setU16(this.buf, this.off, v);
  }
  get destinationPort(): number {
    return u16(this.buf, this.off + 2);
  }
  set destinationPort(v: number) {
    setU16(this.buf, this.off + 2, v);
  }
  get verificationTag(): number {
    return u32(this.buf, this.off + 4);
  }
  /** CRC32c (RFC 9260 Appendix A), stored as is. */
  get checksum(): number {
    return u32(this.buf, this.off + 8);
  }
  set checksum(v: number) {
    setU32(this.buf, this.off + 8, v);
  }
  get chunksOffset(): number {
    return this.off + SCTP_HLEN;
  }
  /** The first chunk's type, or -1 when there is no chunk. */
  firstChunkType(end = this.buf.length): number {
    return this.off + SCTP_HLEN + 4 <= end ? this.buf[this.off + SCTP_HLEN]! : -1;
  }
  /** The first chunk's length field; throws when the chunk header is impossible. */
  firstChunkLength(end = this.buf.length): number {
    const at = this.off + SCTP_HLEN;
    need(this.buf.subarray(0, end), at, 4, 'sctp chunk');
    const len = u16(this.buf, at + 2);
    if (len < 4) throw new PacketParseError(`sctp chunk: length ${len} below 4`, at + 2);
    return len;
  }
  /** RFC 9260 Appendix A: CRC32c over the packet with the checksum field zeroed. */
  computeChecksum(end = this.buf.length): number {
    let crc = 0xffffffff;
    for (let i = this.off; i < end; i++) {
      const byte = i >= this.off + 8 && i < this.off + 12 ? 0 : this.buf[i]!;
      crc = CRC32C[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
    }
    crc = ~crc >>> 0;
    // The CRC is transmitted least significant byte first, read back here as a big-endian word.
    return (((crc & 0xff) << 24) | ((crc & 0xff00) << 8) | ((crc >>> 8) & 0xff00) | (crc >>> 24)) >>> 0;
  }
  verifyChecksum(end = this.buf.length): boolean {
    return this.computeChecksum(end) === this.checksum;
  }
}

/** Castagnoli polynomial 0x1EDC6F41, reflected (0x82F63B78). */
const CRC32C = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
