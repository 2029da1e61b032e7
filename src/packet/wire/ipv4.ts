/** IPv4 header (RFC 791 §3.1), its options, fragments and header checksum. */
import { PacketParseError } from '../errors.js';
import { checksumReplace16, checksumReplace32, internetChecksum } from '../checksum.js';
import { formatIPv4, need, setU16, setU32, u16, u32 } from './bytes.js';

export const IPV4_MIN_HLEN = 20;
/** Flag bits in the 16-bit flags/fragment-offset word (include/net/ip.h). */
export const IP_CE = 0x8000;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

/** IP option types (include/uapi/linux/ip.h IPOPT_*). */
export const IPOPT_END = 0;
export const IPOPT_NOOP = 1;
export const IPOPT_RR = 7;
export const IPOPT_TIMESTAMP = 68;
export const IPOPT_LSRR = 131;
export const IPOPT_SSRR = 137;
export const IPOPT_RA = 148;

export class IPv4View {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, IPV4_MIN_HLEN, 'ipv4');
    if (this.version !== 4) throw new PacketParseError(`ipv4: version ${this.version}`, off);
    if (this.ihl < 5) throw new PacketParseError(`ipv4: header length ${this.ihl * 4} below 20`, off);
    need(buf, off, this.headerLength, 'ipv4 options');
    // RFC 791: total length covers the header; a smaller value cannot be a datagram
    // (the kernel's ip_rcv_core() drops it as SKB_DROP_REASON_IP_INHDR).
    if (this.totalLength < this.headerLength) {
      throw new PacketParseError(`ipv4: total length ${this.totalLength} below header length ${this.headerLength}`, off + 2);
    }
  }
  get version(): number {
    return this.buf[this.off]! >> 4;
  }
  /** Internet header length in 32-bit words. */
  get ihl(): number {
    return this.buf[this.off]! & 0x0f;
  }
  get headerLength(): number {
    return this.ihl * 4;
  }
  get tos(): number {
    return this.buf[this.off + 1]!;
  }
  set tos(v: number) {
    this.buf[this.off + 1] = v;
  }
  /** RFC 2474: the upper six bits of the former TOS byte. */
  get dscp(): number {
    return this.tos >> 2;
  }
  set dscp(v: number) {
    this.setTosUpdatingChecksum((this.tos & 3) | ((v & 0x3f) << 2));
  }
  /** RFC 3168: the lower two bits. */
  get ecn(): number {
    return this.tos & 3;
  }
  set ecn(v: number) {
    this.setTosUpdatingChecksum((this.tos & 0xfc) | (v & 3));
  }
  get totalLength(): number {
    return u16(this.buf, this.off + 2);
  }
  set totalLength(v: number) {
    setU16(this.buf, this.off + 2, v);
  }
  get identification(): number {
    return u16(this.buf, this.off + 4);
  }
  set identification(v: number) {
    setU16(this.buf, this.off + 4, v);
  }
  /** The 16-bit word holding the flags and the fragment offset. */
  get fragmentWord(): number {
    return u16(this.buf, this.off + 6);
  }
  get flags(): number {
    return this.buf[this.off + 6]! >> 5;
  }
  get dontFragment(): boolean {
    return (this.fragmentWord & IP_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.fragmentWord & IP_MF) !== 0;
  }
  /** Fragment offset in 8-byte units, as on the wire. */
  get fragmentOffset(): number {
    return this.fragmentWord & IP_OFFSET;
  }
  /** True for any fragment, first or not (the kernel's ip_is_fragment()). */
  get isFragment(): boolean {
    return (this.fragmentWord & (IP_MF | IP_OFFSET)) !== 0;
  }
  get ttl(): number {
    return this.buf[this.off + 8]!;
  }
  set ttl(v: number) {
    this.buf[this.off + 8] = v;
  }
  get protocol(): number {
    return this.buf[this.off + 9]!;
  }
  set protocol(v: number) {
    this.buf[this.off + 9] = v;
  }
  get checksum(): number {
    return u16(this.buf, this.off + 10);
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + 10, v);
  }
  get source(): number {
    return u32(this.buf, this.off + 12);
  }
  set source(v: number) {
    setU32(this.buf, this.off + 12, v);
  }
  get destination(): number {
    return u32(this.buf, this.off + 16);
  }
  set destination(v: number) {
    setU32(this.buf, this.off + 16, v);
  }
  get sourceOffset(): number {
    return this.off + 12;
  }
  get destinationOffset(): number {
    return this.off + 16;
  }
  get sourceText(): string {
    return formatIPv4(this.buf, this.off + 12);
  }
  get destinationText(): string {
    return formatIPv4(this.buf, this.off + 16);
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** End of the datagram, clipped to the bytes present (a capture may be cut short). */
  get payloadEnd(): number {
    return Math.min(this.off + this.totalLength, this.buf.length);
  }
  /** True when the header checksum verifies (sums to zero, RFC 1071). */
  verifyChecksum(): boolean {
    return internetChecksum(this.buf, this.off, this.headerLength) === 0;
  }
  /** Recomputes the header checksum from scratch (ip_send_check()). */
  updateChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buf, this.off, this.headerLength);
  }
  /** ip_decrease_ttl(): one less hop, checksum patched incrementally (RFC 1624). */
  decrementTtl(): number {
    const old = u16(this.buf, this.off + 8);
    this.ttl = this.ttl - 1;
    this.checksum = checksumReplace16(this.checksum, old, u16(this.buf, this.off + 8));
    return this.ttl;
  }
  /** Rewrites the source address and patches the header checksum (NAT's csum_replace4()). */
  setSourceUpdatingChecksum(addr: number): void {
    this.checksum = checksumReplace32(this.checksum, this.source, addr >>> 0);
    this.source = addr;
  }
  setDestinationUpdatingChecksum(addr: number): void {
    this.checksum = checksumReplace32(this.checksum, this.destination, addr >>> 0);
    this.destination = addr;
  }
  private setTosUpdatingChecksum(tos: number): void {
    const old = u16(this.buf, this.off);
    this.tos = tos;
    this.checksum = checksumReplace16(this.checksum, old, u16(this.buf, this.off));
  }
  /** An option cursor over the options area (empty when IHL is 5). */
  options(): IPv4OptionCursor {
    return new IPv4OptionCursor(this.buf, this.off + IPV4_MIN_HLEN, this.off + this.headerLength);
  }
}

/**
 * Walks IPv4 options in place (RFC 791 §3.1 "Options"): single-byte END and
 * NOP, otherwise type, length (including both bytes), data. Usage:
 * `for (const c = ip.options(); c.next(); ) use(c.type, c.offset, c.length)`.
 * `next()` throws the parse error on an option whose length does not fit.
 */
export class IPv4OptionCursor {
  type = -1;
  offset = -1;
  length = 0;
  private pos: number;
  constructor(private readonly buf: Uint8Array, start: number, private readonly end: number) {
    this.pos = start;
  }
  next(): boolean {
    if (this.pos >= this.end) return false;
    const t = this.buf[this.pos]!;
    this.type = t;
    this.offset = this.pos;
    if (t === IPOPT_END) {
      this.length = this.end - this.pos; // the rest is padding
      this.pos = this.end;
      return true;
    }
    if (t === IPOPT_NOOP) {
      this.length = 1;
      this.pos++;
      return true;
    }
    if (this.pos + 2 > this.end) throw new PacketParseError(`ipv4 option ${t}: no length byte`, this.pos);
    const len = this.buf[this.pos + 1]!;
    if (len < 2 || this.pos + len > this.end) throw new PacketParseError(`ipv4 option ${t}: bad length ${len}`, this.pos + 1);
    this.length = len;
    this.pos += len;
    return true;
  }
}
