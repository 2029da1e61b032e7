/**
 * ICMPv6 (RFC 4443): echo and errors; neighbour discovery (RFC 4861 §4:
 * RS, RA, NS, NA, redirect, with options §4.6); MLD (RFC 2710, RFC 3810).
 */
import { PacketParseError } from '../errors.js';
import { formatIPv6, formatMac, need, setU16, u16, u32 } from './bytes.js';

export const ICMPV6_HLEN = 8;

/** ICMPv6 types (include/uapi/linux/icmpv6.h, include/net/ndisc.h). */
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_PARAMPROB = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MGM_QUERY = 130;
export const ICMPV6_MGM_REPORT = 131;
export const ICMPV6_MGM_REDUCTION = 132;
export const NDISC_ROUTER_SOLICITATION = 133;
export const NDISC_ROUTER_ADVERTISEMENT = 134;
export const NDISC_NEIGHBOUR_SOLICITATION = 135;
export const NDISC_NEIGHBOUR_ADVERTISEMENT = 136;
export const NDISC_REDIRECT = 137;
export const ICMPV6_MLD2_REPORT = 143;

/** ND option types (RFC 4861 §4.6, include/net/ndisc.h ND_OPT_*). */
export const ND_OPT_SOURCE_LL_ADDR = 1;
export const ND_OPT_TARGET_LL_ADDR = 2;
export const ND_OPT_PREFIX_INFO = 3;
export const ND_OPT_REDIRECT_HDR = 4;
export const ND_OPT_MTU = 5;

/** Error messages have types below 128 (RFC 4443 §2.1). */
export function icmpv6IsError(type: number): boolean {
  return type < 128;
}

/** Fixed part of each ND message before its options (RFC 4861 §4.1–4.5). */
function ndFixedLength(type: number): number {
  switch (type) {
    case NDISC_ROUTER_SOLICITATION: return 8;
    case NDISC_ROUTER_ADVERTISEMENT: return 16;
    case NDISC_NEIGHBOUR_SOLICITATION:
    case NDISC_NEIGHBOUR_ADVERTISEMENT: return 24;
    case NDISC_REDIRECT: return 40;
    default: return -1;
  }
}

export class Icmpv6View {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    // RFC 4443 §2.1 fixes only type, code and checksum; every message we read has 8 bytes.
    need(buf, off, ICMPV6_HLEN, 'icmpv6');
  }
  get type(): number {
    return this.buf[this.off]!;
  }
  get code(): number {
    return this.buf[this.off + 1]!;
  }
  get checksum(): number {
    return u16(this.buf, this.off + 2);
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + 2, v);
  }
  get identifier(): number {
    return u16(this.buf, this.off + 4);
  }
  get sequence(): number {
    return u16(this.buf, this.off + 6);
  }
  /** Packet too big: the MTU (RFC 4443 §3.2). */
  get mtu(): number {
    return u32(this.buf, this.off + 4);
  }
  /** Parameter problem: the pointer (RFC 4443 §3.4). */
  get pointer(): number {
    return u32(this.buf, this.off + 4);
  }
  get isError(): boolean {
    return icmpv6IsError(this.type);
  }
  /** The quoted packet of an error, the data of an echo, the body of ND/MLD. */
  get payloadOffset(): number {
    return this.off + ICMPV6_HLEN;
  }
}

/** An ND message (RS, RA, NS, NA, redirect): fixed fields and an option cursor. */
export class NdpView extends Icmpv6View {
  readonly fixedLength: number;
  constructor(buf: Uint8Array, off = 0) {
    super(buf, off);
    this.fixedLength = ndFixedLength(this.type);
    if (this.fixedLength < 0) throw new PacketParseError(`ndp: type ${this.type} is not neighbour discovery`, off);
    need(buf, off, this.fixedLength, 'ndp');
  }
  /** RA: current hop limit. */
  get curHopLimit(): number {
    return this.buf[this.off + 4]!;
  }
  /** RA: M (managed) and O (other) flags and the rest of the flags byte. */
  get raFlags(): number {
    return this.buf[this.off + 5]!;
  }
  get routerLifetime(): number {
    return u16(this.buf, this.off + 6);
  }
  get reachableTime(): number {
    return u32(this.buf, this.off + 8);
  }
  get retransTimer(): number {
    return u32(this.buf, this.off + 12);
  }
  /** NA: R, S, O flags in the top bits of the word after the checksum. */
  get naFlags(): number {
    return this.buf[this.off + 4]! >> 5;
  }
  /** NS, NA, redirect: the target address. */
  get targetOffset(): number {
    return this.off + 8;
  }
  get targetText(): string {
    return formatIPv6(this.buf, this.off + 8);
  }
  /** Redirect: the destination address. */
  get destinationText(): string {
    return formatIPv6(this.buf, this.off + 24);
  }
  options(end = this.buf.length): NdOptionCursor {
    return new NdOptionCursor(this.buf, this.off + this.fixedLength, end);
  }
}

/**
 * Walks ND options (RFC 4861 §4.6): type, length in 8-octet units. A zero
 * length is invalid and must make the message be discarded, so `next()`
 * throws the parse error for it and for an option that runs past the end.
 */
export class NdOptionCursor {
  type = -1;
  offset = -1;
  /** Total length in bytes. */
  length = 0;
  private pos: number;
  constructor(private readonly buf: Uint8Array, start: number, private readonly end: number) {
    this.pos = start;
  }
  next(): boolean {
    if (this.pos >= this.end) return false;
    if (this.pos + 2 > this.end) throw new PacketParseError('nd option: truncated', this.pos);
    this.offset = this.pos;
    this.type = this.buf[this.pos]!;
    const units = this.buf[this.pos + 1]!;
    if (units === 0) throw new PacketParseError(`nd option ${this.type}: zero length`, this.pos + 1);
    this.length = units * 8;
    if (this.pos + this.length > this.end) throw new PacketParseError(`nd option ${this.type}: overruns the message`, this.pos + 1);
    this.pos += this.length;
    return true;
  }
  /** The link-layer address of a source/target link-layer address option (Ethernet: 6 bytes). */
  linkLayerText(): string {
    return formatMac(this.buf, this.offset + 2, Math.min(6, this.length - 2));
  }
}

/** MLDv1 (RFC 2710 §3) and the MLDv2 query (RFC 3810 §5.1): max response delay and group. */
export class MldView extends Icmpv6View {
  constructor(buf: Uint8Array, off = 0) {
    super(buf, off);
    if (this.type !== ICMPV6_MGM_QUERY && this.type !== ICMPV6_MGM_REPORT && this.type !== ICMPV6_MGM_REDUCTION) {
      throw new PacketParseError(`mld: type ${this.type}`, off);
    }
    need(buf, off, 24, 'mld');
  }
  get maxResponseDelay(): number {
    return u16(this.buf, this.off + 4);
  }
  get multicastAddressText(): string {
    return formatIPv6(this.buf, this.off + 8);
  }
  /** RFC 3810 §8.1: a query of 28 bytes or more is an MLDv2 query. */
  isVersion2Query(end = this.buf.length): boolean {
    return this.type === ICMPV6_MGM_QUERY && end - this.off >= 28;
  }
  /** MLDv2 query: number of sources. */
  get numberOfSources(): number {
    need(this.buf, this.off, 28, 'mldv2 query');
    return u16(this.buf, this.off + 26);
  }
}

/** MLDv2 report (RFC 3810 §5.2): number of multicast address records. */
export class Mld2ReportView extends Icmpv6View {
  constructor(buf: Uint8Array, off = 0) {
    super(buf, off);
    if (this.type !== ICMPV6_MLD2_REPORT) throw new PacketParseError(`mld2 report: type ${this.type}`, off);
  }
  get numberOfRecords(): number {
    return u16(this.buf, this.off + 6);
  }
}
