/** TCP header (RFC 9293 §3.1) and its options (MSS, window scale, SACK, timestamps). */
import { PacketParseError } from '../errors.js';
import { checksumReplace16 } from '../checksum.js';
import { need, setU16, setU32, u16, u32 } from './bytes.js';

export const TCP_MIN_HLEN = 20;

/** Flag bits of the 12-bit flags field (byte 12 low nibble and byte 13), as Wireshark's tcp.flags. */
export const TCP_FLAG_FIN = 0x001;
export const TCP_FLAG_SYN = 0x002;
export const TCP_FLAG_RST = 0x004;
export const TCP_FLAG_PSH = 0x008;
export const TCP_FLAG_ACK = 0x010;
export const TCP_FLAG_URG = 0x020;
export const TCP_FLAG_ECE = 0x040;
export const TCP_FLAG_CWR = 0x080;
/** RFC 3540 NS, now AE (accurate ECN). */
export const TCP_FLAG_AE = 0x100;

/** Option kinds (include/net/tcp.h TCPOPT_*, IANA "TCP Option Kind Numbers"). */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export class TcpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, TCP_MIN_HLEN, 'tcp');
    if (this.dataOffset < 5) throw new PacketParseError(`tcp: header length ${this.headerLength} below 20`, off + 12);
    need(buf, off, this.headerLength, 'tcp options');
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
  get sequence(): number {
    return u32(this.buf, this.off + 4);
  }
  set sequence(v: number) {
    setU32(this.buf, this.off + 4, v);
  }
  get acknowledgment(): number {
    return u32(this.buf, this.off + 8);
  }
  set acknowledgment(v: number) {
    setU32(this.buf, this.off + 8, v);
  }
  /** Data offset in 32-bit words. */
  get dataOffset(): number {
    return this.buf[this.off + 12]! >> 4;
  }
  get headerLength(): number {
    return this.dataOffset * 4;
  }
  /** The 12 bits after the data offset: 3 reserved, AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN. */
  get flags(): number {
    return u16(this.buf, this.off + 12) & 0x0fff;
  }
  set flags(v: number) {
    setU16(this.buf, this.off + 12, (u16(this.buf, this.off + 12) & 0xf000) | (v & 0x0fff));
  }
  get window(): number {
    return u16(this.buf, this.off + 14);
  }
  set window(v: number) {
    setU16(this.buf, this.off + 14, v);
  }
  get checksum(): number {
    return u16(this.buf, this.off + 16);
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + 16, v);
  }
  get urgentPointer(): number {
    return u16(this.buf, this.off + 18);
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  options(): TcpOptionCursor {
    return new TcpOptionCursor(this.buf, this.off + TCP_MIN_HLEN, this.off + this.headerLength);
  }
  /** Offset of the first option of `kind` with the expected total length, or -1. */
  findOption(kind: number, length: number): number {
    try {
      for (const c = this.options(); c.next(); ) if (c.kind === kind && c.length === length) return c.offset;
    } catch (e) {
      if (!(e instanceof PacketParseError)) throw e;
    }
    return -1;
  }
  /** The MSS option's value, or -1 when there is none (RFC 9293 §3.7.1). */
  get mss(): number {
    const at = this.findOption(TCPOPT_MSS, 4);
    return at < 0 ? -1 : u16(this.buf, at + 2);
  }
  /**
   * Rewrites the MSS option in place and patches the checksum (what
   * `tcp option maxseg size set` and TCPMSS clamping do). Returns false when
   * the segment has no MSS option.
   */
  setMss(v: number): boolean {
    const at = this.findOption(TCPOPT_MSS, 4);
    if (at < 0) return false;
    const old = u16(this.buf, at + 2);
    setU16(this.buf, at + 2, v);
    // The option starts at an even offset from the header only if preceded by an even
    // number of bytes; RFC 1624 works on 16-bit words aligned to the header start.
    if ((at - this.off) % 2 === 0) {
      this.checksum = checksumReplace16(this.checksum, old, v & 0xffff);
    } else {
      const w0 = (this.buf[at + 1]! << 8) | (old >> 8);
      const w1 = ((old & 0xff) << 8) | this.buf[at + 4]!;
      let c = checksumReplace16(this.checksum, w0, u16(this.buf, at + 1));
      c = checksumReplace16(c, w1, u16(this.buf, at + 3));
      this.checksum = c;
    }
    return true;
  }
  /** The window scale shift, or -1. */
  get windowScale(): number {
    const at = this.findOption(TCPOPT_WINDOW, 3);
    return at < 0 ? -1 : this.buf[at + 2]!;
  }
}

/**
 * Walks TCP options in place (RFC 9293 §3.2): EOL ends the list, NOP is one
 * byte, the rest are kind/length/data with length counting both leading bytes.
 * `next()` throws the parse error on an option whose length is impossible.
 */
export class TcpOptionCursor {
  kind = -1;
  offset = -1;
  /** Total length of the option, kind and length bytes included. */
  length = 0;
  private pos: number;
  constructor(private readonly buf: Uint8Array, start: number, private readonly end: number) {
    this.pos = start;
  }
  next(): boolean {
    if (this.pos >= this.end) return false;
    this.offset = this.pos;
    this.kind = this.buf[this.pos]!;
    if (this.kind === TCPOPT_EOL) {
      this.length = 1;
      this.pos = this.end; // everything after EOL is padding
      return true;
    }
    if (this.kind === TCPOPT_NOP) {
      this.length = 1;
      this.pos++;
      return true;
    }
    if (this.pos + 2 > this.end) throw new PacketParseError(`tcp option ${this.kind}: no length byte`, this.pos);
    const len = this.buf[this.pos + 1]!;
    if (len < 2 || this.pos + len > this.end) throw new PacketParseError(`tcp option ${this.kind}: bad length ${len}`, this.pos + 1);
    this.length = len;
    this.pos += len;
    return true;
  }
  /** Offset of the option's data (after kind and length). */
  get dataOffset(): number {
    return this.offset + 2;
  }
}
