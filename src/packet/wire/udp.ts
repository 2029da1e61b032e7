/** UDP (RFC 768), UDP-Lite (RFC 3828) and ESP-in-UDP classification (RFC 3948). */
import { PacketParseError } from '../errors.js';
import { need, setU16, u16, u32 } from './bytes.js';

export const UDP_HLEN = 8;

export class UdpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, UDP_HLEN, 'udp');
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
  /** Header plus data, as on the wire. */
  get length(): number {
    return u16(this.buf, this.off + 4);
  }
  set length(v: number) {
    setU16(this.buf, this.off + 4, v);
  }
  get checksum(): number {
    return u16(this.buf, this.off + 6);
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + 6, v);
  }
  get payloadOffset(): number {
    return this.off + UDP_HLEN;
  }
}

/**
 * UDP-Lite: the length field becomes the checksum coverage (RFC 3828 §3.1),
 * 0 meaning the whole datagram; the datagram's length comes from IP.
 */
export class UdpLiteView extends UdpView {
  constructor(buf: Uint8Array, off = 0, readonly datagramLength = buf.length - off) {
    super(buf, off);
    const cov = this.checksumCoverage;
    // RFC 3828 §3.1: a coverage of 1..7 or beyond the datagram is invalid.
    if ((cov !== 0 && cov < UDP_HLEN) || cov > datagramLength) {
      throw new PacketParseError(`udplite: checksum coverage ${cov} of a ${datagramLength}-byte datagram`, off + 4);
    }
  }
  get checksumCoverage(): number {
    return u16(this.buf, this.off + 4);
  }
  /** Bytes covered by the checksum. */
  get coveredLength(): number {
    return this.checksumCoverage === 0 ? this.datagramLength : this.checksumCoverage;
  }
}

/** What follows a UDP header on port 4500 (RFC 3948 §2). */
export const UDP_ENCAP_ESP = 0;
/** §2.2: four zero bytes (the non-ESP marker) precede an IKE message. */
export const UDP_ENCAP_IKE = 1;
/** §2.3: a single 0xFF byte keeps a NAT binding alive. */
export const UDP_ENCAP_KEEPALIVE = 2;
/** Too short to be anything (an ESP header needs 8 bytes). */
export const UDP_ENCAP_INVALID = 3;

/**
 * Classifies a UDP payload on port 4500 as the kernel's udp_esp_rcv()/
 * xfrm4_udp_encap_rcv() does: keepalive, IKE (non-ESP marker) or ESP.
 */
export function classifyUdpEncap(buf: Uint8Array, off: number, len: number): number {
  if (len === 1 && buf[off] === 0xff) return UDP_ENCAP_KEEPALIVE;
  if (len >= 4 && u32(buf, off) === 0) return UDP_ENCAP_IKE;
  if (len >= 8) return UDP_ENCAP_ESP;
  return UDP_ENCAP_INVALID;
}
