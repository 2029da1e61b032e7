/** ESP (RFC 4303 §2) and AH (RFC 4302 §2) headers. */
import { PacketParseError } from '../errors.js';
import { need, setU32, u32 } from './bytes.js';

export const ESP_HLEN = 8;

export class EspView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, ESP_HLEN, 'esp');
  }
  get spi(): number {
    return u32(this.buf, this.off);
  }
  set spi(v: number) {
    setU32(this.buf, this.off, v);
  }
  /** The low 32 bits of the sequence number (the high half of an ESN is never sent). */
  get sequence(): number {
    return u32(this.buf, this.off + 4);
  }
  set sequence(v: number) {
    setU32(this.buf, this.off + 4, v);
  }
  /** Where the IV / encrypted payload starts. */
  get payloadOffset(): number {
    return this.off + ESP_HLEN;
  }
}

export const AH_MIN_HLEN = 12;

export class AhView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, AH_MIN_HLEN, 'ah');
    // RFC 4302 §2.2: Payload Len is the header length in 32-bit words minus 2; it
    // must cover the 12 fixed bytes.
    if (this.headerLength < AH_MIN_HLEN) throw new PacketParseError(`ah: length ${this.headerLength} below 12`, off + 1);
    need(buf, off, this.headerLength, 'ah icv');
  }
  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  get payloadLength(): number {
    return this.buf[this.off + 1]!;
  }
  get headerLength(): number {
    return (this.payloadLength + 2) * 4;
  }
  get spi(): number {
    return u32(this.buf, this.off + 4);
  }
  get sequence(): number {
    return u32(this.buf, this.off + 8);
  }
  get icvOffset(): number {
    return this.off + AH_MIN_HLEN;
  }
  get icvLength(): number {
    return this.headerLength - AH_MIN_HLEN;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
}
