/** GRE (RFC 2784) with the key and sequence number extensions (RFC 2890). */
import { PacketParseError } from '../errors.js';
import { need, u16, u32 } from './bytes.js';

export const GRE_MIN_HLEN = 4;
/** Flag bits of the first word (include/uapi/linux/if_tunnel.h GRE_*). */
export const GRE_CSUM = 0x8000;
export const GRE_ROUTING = 0x4000;
export const GRE_KEY = 0x2000;
export const GRE_SEQ = 0x1000;
export const GRE_VERSION = 0x0007;

export class GreView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, GRE_MIN_HLEN, 'gre');
    // RFC 2784 §2.5: version 0; version 1 is PPTP's enhanced GRE (RFC 2637), also read here.
    if (this.version > 1) throw new PacketParseError(`gre: version ${this.version}`, off + 1);
    if (this.flagsAndVersion & GRE_ROUTING) throw new PacketParseError('gre: source routing (RFC 1701) is not supported', off);
    need(buf, off, this.headerLength, 'gre options');
  }
  get flagsAndVersion(): number {
    return u16(this.buf, this.off);
  }
  get hasChecksum(): boolean {
    return (this.flagsAndVersion & GRE_CSUM) !== 0;
  }
  get hasKey(): boolean {
    return (this.flagsAndVersion & GRE_KEY) !== 0;
  }
  get hasSequence(): boolean {
    return (this.flagsAndVersion & GRE_SEQ) !== 0;
  }
  get version(): number {
    return this.flagsAndVersion & GRE_VERSION;
  }
  /** The ethertype of the payload. */
  get protocol(): number {
    return u16(this.buf, this.off + 2);
  }
  get headerLength(): number {
    return 4 + (this.hasChecksum ? 4 : 0) + (this.hasKey ? 4 : 0) + (this.hasSequence ? 4 : 0);
  }
  get checksum(): number {
    return this.hasChecksum ? u16(this.buf, this.off + 4) : -1;
  }
  get key(): number {
    return this.hasKey ? u32(this.buf, this.off + 4 + (this.hasChecksum ? 4 : 0)) : -1;
  }
  get sequence(): number {
    return this.hasSequence ? u32(this.buf, this.off + 4 + (this.hasChecksum ? 4 : 0) + (this.hasKey ? 4 : 0)) : -1;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
}
