/** ICMP for IPv4 (RFC 792, RFC 1191 for the next-hop MTU): echo, errors, redirect. */
import { checksumReplace16, internetChecksum } from '../checksum.js';
import { formatIPv4, need, setU16, u16, u32 } from './bytes.js';

export const ICMP_HLEN = 8;

/** ICMP types (include/uapi/linux/icmp.h). */
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMPREPLY = 14;
/** Destination-unreachable code "fragmentation needed and DF set" (ICMP_FRAG_NEEDED). */
export const ICMP_FRAG_NEEDED = 4;

/** True for the types that quote the offending datagram (the kernel's icmp_is_err()). */
export function icmpIsError(type: number): boolean {
  return type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETERPROB;
}

export class IcmpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, ICMP_HLEN, 'icmp');
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
  /** Echo and timestamp identifier (the field NAT rewrites as a "port"). */
  get identifier(): number {
    return u16(this.buf, this.off + 4);
  }
  set identifier(v: number) {
    const old = this.identifier;
    setU16(this.buf, this.off + 4, v);
    this.checksum = checksumReplace16(this.checksum, old, v & 0xffff);
  }
  get sequence(): number {
    return u16(this.buf, this.off + 6);
  }
  /** Redirect: the gateway address (RFC 792 p.12). */
  get gateway(): number {
    return u32(this.buf, this.off + 4);
  }
  get gatewayText(): string {
    return formatIPv4(this.buf, this.off + 4);
  }
  /** Fragmentation needed: next-hop MTU (RFC 1191 §4), 0 from old routers. */
  get nextHopMtu(): number {
    return u16(this.buf, this.off + 6);
  }
  /** Parameter problem: pointer to the offending octet. */
  get pointer(): number {
    return this.buf[this.off + 4]!;
  }
  get isError(): boolean {
    return icmpIsError(this.type);
  }
  /** Where the quoted IP header of an error starts (and the data of an echo). */
  get payloadOffset(): number {
    return this.off + ICMP_HLEN;
  }
  /** The checksum covers the whole ICMP message, up to `end`. */
  verifyChecksum(end = this.buf.length): boolean {
    return internetChecksum(this.buf, this.off, end - this.off) === 0;
  }
  updateChecksum(end = this.buf.length): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buf, this.off, end - this.off);
  }
}
