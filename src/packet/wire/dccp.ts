/** DCCP generic header (RFC 4340 §5.1). */
import { PacketParseError } from '../errors.js';
import { need, setU16, u16, u32 } from './bytes.js';

export const DCCP_MIN_HLEN = 12;

export class DccpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, DCCP_MIN_HLEN, 'dccp');
    if (this.extendedSequence) need(buf, off, 16, 'dccp extended sequence');
    const hlen = this.headerLength;
    // §5.1: Data Offset counts 32-bit words from the start of the header.
    if (hlen < (this.extendedSequence ? 16 : 12)) throw new PacketParseError(`dccp: data offset ${this.dataOffset} too small`, off + 4);
    need(buf, off, hlen, 'dccp header');
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
  get dataOffset(): number {
    return this.buf[this.off + 4]!;
  }
  get headerLength(): number {
    return this.dataOffset * 4;
  }
  get ccval(): number {
    return this.buf[this.off + 5]! >> 4;
  }
  get checksumCoverage(): number {
    return this.buf[this.off + 5]! & 0x0f;
  }
  get checksum(): number {
    return u16(this.buf, this.off + 6);
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + 6, v);
  }
  /** Packet type (§5.1): 0 Request, 1 Response, 2 Data, 3 Ack, 4 DataAck, 5 CloseReq, 6 Close, 7 Reset, 8 Sync, 9 SyncAck. */
  get type(): number {
    return (this.buf[this.off + 8]! >> 1) & 0x0f;
  }
  /** X: extended (48-bit) sequence numbers. */
  get extendedSequence(): boolean {
    return (this.buf[this.off + 8]! & 1) !== 0;
  }
  /** The sequence number (48 or 24 bits), exact as a JS number. */
  get sequence(): number {
    if (this.extendedSequence) return u16(this.buf, this.off + 10) * 0x100000000 + u32(this.buf, this.off + 12);
    return (this.buf[this.off + 9]! << 16) | u16(this.buf, this.off + 10);
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
}
