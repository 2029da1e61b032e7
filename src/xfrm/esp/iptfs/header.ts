/**
 * The AGGFRAG payload headers (RFC 9347 §2.2; struct ip_iptfs_hdr and
 * struct ip_iptfs_cc_hdr in the kernel). Read in place from a byte array.
 */

/** IPPROTO_AGGFRAG (include/uapi/linux/in.h; RFC 9347 §7): the ESP next header of an AGGFRAG payload. */
export const IPPROTO_AGGFRAG = 144;
/** IPTFS_SUBTYPE_BASIC / IPTFS_SUBTYPE_CC (net/xfrm/xfrm_iptfs.c; RFC 9347 §2.2.5, §2.2.6). */
export const IPTFS_SUBTYPE_BASIC = 0;
export const IPTFS_SUBTYPE_CC = 1;
/** sizeof(struct ip_iptfs_hdr): subtype, flags, 16-bit block offset. */
export const IPTFS_BASIC_HDR_LEN = 4;
/** sizeof(struct ip_iptfs_cc_hdr): the basic fields, loss rate, RTT/delays (64 bits), TVal, TEcho. */
export const IPTFS_CC_HDR_LEN = 24;

/**
 * The congestion-control header fields (RFC 9347 §2.2.6). The 64-bit word
 * after the loss event rate packs RTT (22 bits), Delay (21 bits) and Xmit
 * Delay (21 bits), most significant first, as the kernel's single __be64
 * rtt_adelay_xdelay. Flags are reported raw: Linux drops any non-zero flags.
 */
export interface IptfsCcHeader {
  flags: number;
  blockOffset: number;
  lossEventRate: number;
  rtt: number;
  delay: number;
  xmitDelay: number;
  tval: number;
  techo: number;
}

export function u16be(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32be(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes a basic header (subtype 0, flags 0) at `o`: iptfs_output_prepare_skb(). */
export function writeBasicHeader(b: Uint8Array, o: number, blockOffset: number): void {
  b[o] = IPTFS_SUBTYPE_BASIC;
  b[o + 1] = 0;
  b[o + 2] = blockOffset >>> 8;
  b[o + 3] = blockOffset & 0xff;
}

/** Reads a CC header at `o` (the caller checked 24 bytes are there). */
export function readCcHeader(b: Uint8Array, o: number): IptfsCcHeader {
  const hi = u32be(b, o + 8);
  const lo = u32be(b, o + 12);
  return {
    flags: b[o + 1]!,
    blockOffset: u16be(b, o + 2),
    lossEventRate: u32be(b, o + 4),
    rtt: hi >>> 10,
    delay: ((hi & 0x3ff) << 11) | (lo >>> 21),
    xmitDelay: lo & 0x1fffff,
    tval: u32be(b, o + 16),
    techo: u32be(b, o + 20),
  };
}

/** Writes a CC header at `o` (subtype 1). Field values are masked to their widths. */
export function writeCcHeader(b: Uint8Array, o: number, h: IptfsCcHeader): void {
  b[o] = IPTFS_SUBTYPE_CC;
  b[o + 1] = h.flags & 0xff;
  b[o + 2] = (h.blockOffset >>> 8) & 0xff;
  b[o + 3] = h.blockOffset & 0xff;
  put32(b, o + 4, h.lossEventRate >>> 0);
  const rtt = h.rtt & 0x3fffff;
  const delay = h.delay & 0x1fffff;
  const xd = h.xmitDelay & 0x1fffff;
  put32(b, o + 8, ((rtt << 10) | (delay >>> 11)) >>> 0);
  put32(b, o + 12, (((delay & 0x7ff) << 21) | xd) >>> 0);
  put32(b, o + 16, h.tval >>> 0);
  put32(b, o + 20, h.techo >>> 0);
}
