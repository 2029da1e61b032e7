/**
 * IPv6 header (RFC 8200 §3), its extension headers (§4: hop-by-hop, routing
 * including the segment routing header of RFC 8754, fragment, destination
 * options) and the kernel's walkers that find the upper-layer header.
 */
import { PacketParseError } from '../errors.js';
import { formatIPv6, need, setU16, setU32, u16, u32 } from './bytes.js';
import {
  IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_NONE, IPPROTO_ROUTING,
} from './constants.js';

export const IPV6_HLEN = 40;

export class IPv6View {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, IPV6_HLEN, 'ipv6');
    if (this.version !== 6) throw new PacketParseError(`ipv6: version ${this.version}`, off);
  }
  get version(): number {
    return this.buf[this.off]! >> 4;
  }
  get trafficClass(): number {
    return (u16(this.buf, this.off) >> 4) & 0xff;
  }
  set trafficClass(v: number) {
    const w = u16(this.buf, this.off);
    setU16(this.buf, this.off, (w & 0xf00f) | ((v & 0xff) << 4));
  }
  get dscp(): number {
    return this.trafficClass >> 2;
  }
  set dscp(v: number) {
    this.trafficClass = (this.trafficClass & 3) | ((v & 0x3f) << 2);
  }
  get ecn(): number {
    return this.trafficClass & 3;
  }
  set ecn(v: number) {
    this.trafficClass = (this.trafficClass & 0xfc) | (v & 3);
  }
  get flowLabel(): number {
    return u32(this.buf, this.off) & 0xfffff;
  }
  set flowLabel(v: number) {
    setU32(this.buf, this.off, ((u32(this.buf, this.off) & 0xfff00000) | (v & 0xfffff)) >>> 0);
  }
  get payloadLength(): number {
    return u16(this.buf, this.off + 4);
  }
  set payloadLength(v: number) {
    setU16(this.buf, this.off + 4, v);
  }
  get nextHeader(): number {
    return this.buf[this.off + 6]!;
  }
  set nextHeader(v: number) {
    this.buf[this.off + 6] = v;
  }
  get hopLimit(): number {
    return this.buf[this.off + 7]!;
  }
  set hopLimit(v: number) {
    this.buf[this.off + 7] = v;
  }
  get sourceOffset(): number {
    return this.off + 8;
  }
  get destinationOffset(): number {
    return this.off + 24;
  }
  get source(): Uint8Array {
    return this.buf.subarray(this.off + 8, this.off + 24);
  }
  get destination(): Uint8Array {
    return this.buf.subarray(this.off + 24, this.off + 40);
  }
  setSource(addr: Uint8Array): void {
    this.buf.set(addr.subarray(0, 16), this.off + 8);
  }
  setDestination(addr: Uint8Array): void {
    this.buf.set(addr.subarray(0, 16), this.off + 24);
  }
  get sourceText(): string {
    return formatIPv6(this.buf, this.off + 8);
  }
  get destinationText(): string {
    return formatIPv6(this.buf, this.off + 24);
  }
  get payloadOffset(): number {
    return this.off + IPV6_HLEN;
  }
  /** End of the payload, clipped to the bytes present. A jumbogram (length 0) runs to the end. */
  get payloadEnd(): number {
    const len = this.payloadLength;
    if (len === 0) return this.buf.length;
    return Math.min(this.off + IPV6_HLEN + len, this.buf.length);
  }
}

/** True for the next-header values the kernel's ipv6_ext_hdr() treats as extension headers. */
export function isIPv6ExtensionHeader(nexthdr: number): boolean {
  return nexthdr === IPPROTO_HOPOPTS || nexthdr === IPPROTO_ROUTING || nexthdr === IPPROTO_FRAGMENT ||
    nexthdr === IPPROTO_AH || nexthdr === IPPROTO_NONE || nexthdr === IPPROTO_DSTOPTS;
}

/**
 * The common shape of hop-by-hop, routing and destination-options headers:
 * next header, length in 8-octet units not counting the first 8 (RFC 8200 §4.3).
 */
export class IPv6ExtHeaderView {
  constructor(readonly buf: Uint8Array, readonly off: number) {
    need(buf, off, 8, 'ipv6 extension header');
    need(buf, off, this.headerLength, 'ipv6 extension header');
  }
  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  /** The raw Hdr Ext Len byte. */
  get lengthField(): number {
    return this.buf[this.off + 1]!;
  }
  get headerLength(): number {
    return (this.buf[this.off + 1]! + 1) * 8;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** Options of a hop-by-hop or destination options header (RFC 8200 §4.2). */
  options(): IPv6OptionCursor {
    return new IPv6OptionCursor(this.buf, this.off + 2, this.off + this.headerLength);
  }
}

/** IPv6 option types (RFC 8200 §4.2, include/uapi/linux/in6.h IPV6_TLV_*). */
export const IPV6_TLV_PAD1 = 0;
export const IPV6_TLV_PADN = 1;
export const IPV6_TLV_ROUTERALERT = 5;
export const IPV6_TLV_JUMBO = 0xc2;

/** Walks TLV options in place; `next()` throws the parse error on an option that overruns. */
export class IPv6OptionCursor {
  type = -1;
  offset = -1;
  /** Length of the option data (not counting type and length bytes); 0 for Pad1. */
  dataLength = 0;
  private pos: number;
  constructor(private readonly buf: Uint8Array, start: number, private readonly end: number) {
    this.pos = start;
  }
  next(): boolean {
    if (this.pos >= this.end) return false;
    this.offset = this.pos;
    this.type = this.buf[this.pos]!;
    if (this.type === IPV6_TLV_PAD1) {
      this.dataLength = 0;
      this.pos++;
      return true;
    }
    if (this.pos + 2 > this.end) throw new PacketParseError(`ipv6 option ${this.type}: no length byte`, this.pos);
    this.dataLength = this.buf[this.pos + 1]!;
    if (this.pos + 2 + this.dataLength > this.end) throw new PacketParseError(`ipv6 option ${this.type}: overruns its header`, this.pos + 1);
    this.pos += 2 + this.dataLength;
    return true;
  }
}

/** Routing header (RFC 8200 §4.4): type and segments left after the common part. */
export class IPv6RoutingView extends IPv6ExtHeaderView {
  get routingType(): number {
    return this.buf[this.off + 2]!;
  }
  get segmentsLeft(): number {
    return this.buf[this.off + 3]!;
  }
  set segmentsLeft(v: number) {
    this.buf[this.off + 3] = v;
  }
}

/** Routing type of the segment routing header (RFC 8754 §2). */
export const IPV6_SRCRT_TYPE_4 = 4;

/** Segment routing header (RFC 8754 §2): routing type 4 with a list of 128-bit segments. */
export class SegmentRoutingView extends IPv6RoutingView {
  constructor(buf: Uint8Array, off: number) {
    super(buf, off);
    need(buf, off, 8, 'srh');
    if (this.routingType !== IPV6_SRCRT_TYPE_4) throw new PacketParseError(`srh: routing type ${this.routingType}`, off + 2);
    // RFC 8754 §2: Last Entry indexes the segment list, which must fit in the header.
    if (8 + (this.lastEntry + 1) * 16 > this.headerLength) {
      throw new PacketParseError(`srh: last entry ${this.lastEntry} beyond a ${this.headerLength}-byte header`, off + 4);
    }
  }
  get lastEntry(): number {
    return this.buf[this.off + 4]!;
  }
  get flags(): number {
    return this.buf[this.off + 5]!;
  }
  get tag(): number {
    return u16(this.buf, this.off + 6);
  }
  /** Offset of Segment List[i]; segment 0 is the last one visited. */
  segmentOffset(i: number): number {
    if (i < 0 || i > this.lastEntry) throw new RangeError(`srh segment ${i} of ${this.lastEntry + 1}`);
    return this.off + 8 + 16 * i;
  }
  segmentText(i: number): string {
    return formatIPv6(this.buf, this.segmentOffset(i));
  }
}

/** Fragment header (RFC 8200 §4.5): always 8 bytes. */
export class IPv6FragmentView {
  constructor(readonly buf: Uint8Array, readonly off: number) {
    need(buf, off, 8, 'ipv6 fragment header');
  }
  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  get headerLength(): number {
    return 8;
  }
  /** Fragment offset in 8-octet units. */
  get fragmentOffset(): number {
    return u16(this.buf, this.off + 2) >> 3;
  }
  get moreFragments(): boolean {
    return (this.buf[this.off + 3]! & 1) !== 0;
  }
  get identification(): number {
    return u32(this.buf, this.off + 4);
  }
  get payloadOffset(): number {
    return this.off + 8;
  }
}

/**
 * Result of the walkers below, reused by the caller so the walk allocates
 * nothing: `nexthdr` is the upper-layer protocol found, `offset` where it
 * starts, `fragOffset` the fragment offset in bytes (with the M flag as bit 0,
 * as the kernel's frag_off), or 0 when there is no fragment header.
 */
export interface IPv6Walk {
  nexthdr: number;
  offset: number;
  fragOffset: number;
}

/**
 * The kernel's ipv6_skip_exthdr() (net/ipv6/exthdrs_core.c): skips extension
 * headers starting with `nexthdr` at `start`, stops at a non-first fragment
 * (there is no upper-layer header in it) and at NEXTHDR_NONE. Returns the
 * offset of the upper-layer header, or -1 when the chain is cut short;
 * `walk` receives the protocol and the fragment offset.
 */
export function ipv6SkipExtHeaders(buf: Uint8Array, start: number, nexthdr: number, walk: IPv6Walk, end = buf.length): number {
  let off = start;
  walk.fragOffset = 0;
  // Each extension header is at least 8 bytes, so this bounds the loop even for garbage.
  for (let guard = 0; guard < 256 && isIPv6ExtensionHeader(nexthdr); guard++) {
    if (nexthdr === IPPROTO_NONE) {
      walk.nexthdr = nexthdr;
      walk.offset = -1;
      return -1;
    }
    if (off + 8 > end) return -1;
    let hdrlen: number;
    if (nexthdr === IPPROTO_FRAGMENT) {
      const fragWord = u16(buf, off + 2);
      walk.fragOffset = fragWord & ~0x7;
      walk.fragOffset |= fragWord & 1;
      // A non-first fragment carries no upper-layer header: stop here, like the kernel.
      if ((fragWord & ~0x7) !== 0) break;
      hdrlen = 8;
    } else if (nexthdr === IPPROTO_AH) {
      hdrlen = (buf[off + 1]! + 2) << 2; // RFC 4302 §2.2: in 32-bit words, minus 2
    } else {
      hdrlen = (buf[off + 1]! + 1) << 3;
    }
    nexthdr = buf[off]!;
    off += hdrlen;
  }
  walk.nexthdr = nexthdr;
  walk.offset = off;
  return off > end ? -1 : off;
}

/**
 * The kernel's ipv6_find_hdr() for the common case: the offset of the first
 * header of type `target` after the IPv6 header at `ipOff` (an extension
 * header or the upper-layer header), or -1 when absent. With `target` < 0 it
 * returns the upper-layer header and its protocol in `walk`. A non-first
 * fragment ends the search (nothing after it can be read).
 */
export function ipv6FindHeader(buf: Uint8Array, ipOff: number, target: number, walk: IPv6Walk): number {
  need(buf, ipOff, IPV6_HLEN, 'ipv6');
  let nexthdr = buf[ipOff + 6]!;
  let off = ipOff + IPV6_HLEN;
  walk.fragOffset = 0;
  for (let guard = 0; guard < 256; guard++) {
    walk.nexthdr = nexthdr;
    walk.offset = off;
    if (nexthdr === target) return off;
    if (!isIPv6ExtensionHeader(nexthdr) || nexthdr === IPPROTO_NONE) return target < 0 && nexthdr !== IPPROTO_NONE ? off : -1;
    if (off + 8 > buf.length) return -1;
    let hdrlen: number;
    if (nexthdr === IPPROTO_FRAGMENT) {
      const fragWord = u16(buf, off + 2);
      walk.fragOffset = (fragWord & ~0x7) | (fragWord & 1);
      if ((fragWord & ~0x7) !== 0) return -1;
      hdrlen = 8;
    } else if (nexthdr === IPPROTO_AH) {
      hdrlen = (buf[off + 1]! + 2) << 2;
    } else {
      hdrlen = (buf[off + 1]! + 1) << 3;
    }
    nexthdr = buf[off]!;
    off += hdrlen;
  }
  return -1;
}
