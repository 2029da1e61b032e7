/**
 * Where layer 3 starts in a captured frame, per link type, and views of the
 * two Linux "cooked" pseudo-headers that `tcpdump -i any` writes instead of a
 * link header. Layouts from pcap-linktype(7) (LINKTYPE_LINUX_SLL,
 * LINKTYPE_LINUX_SLL2) and libpcap's pcap/sll.h; every field is big-endian.
 *
 *   SLL (16 bytes):  pkttype:16 hatype:16 halen:16 addr[8] protocol:16
 *   SLL2 (20 bytes): protocol:16 reserved:16 ifindex:32 hatype:16 pkttype:8 halen:8 addr[8]
 */
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
  LINKTYPE_NULL, LINKTYPE_RAW,
} from './linktype.js';

export const SLL_HDR_LEN = 16;
export const SLL2_HDR_LEN = 20;
/** Ethernet header without VLAN tags (linux/if_ether.h ETH_HLEN). */
export const ETH_HLEN = 14;

/** Ethertypes (linux/if_ether.h). */
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/**
 * sll_pkttype values (linux/if_packet.h PACKET_*): which way the packet went
 * relative to the capturing host. The same numbers as Packet.meta.pktType.
 */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;

/** Zero-copy view of a LINUX_SLL header at `offset` of `bytes` (caller checks length ≥ 16). */
export class SllView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}
  get pktType(): number { return be16(this.bytes, this.offset); }
  /** ARPHRD_* of the interface (linux/if_arp.h): 1 Ethernet, 772 loopback, 65534 none (tun). */
  get haType(): number { return be16(this.bytes, this.offset + 2); }
  get haLen(): number { return be16(this.bytes, this.offset + 4); }
  /** The link-layer source address, `haLen` bytes (at most 8 are stored). */
  get address(): Uint8Array { return this.bytes.subarray(this.offset + 6, this.offset + 6 + Math.min(8, this.haLen)); }
  /** Ethertype of the payload (or, for some hatypes, a Linux pseudo-protocol such as ETH_P_802_2 = 4). */
  get protocol(): number { return be16(this.bytes, this.offset + 14); }
}

/** Zero-copy view of a LINUX_SLL2 header at `offset` of `bytes` (caller checks length ≥ 20). */
export class Sll2View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}
  get protocol(): number { return be16(this.bytes, this.offset); }
  /** The capturing host's interface index (what `ip link` numbers it). */
  get ifIndex(): number {
    const b = this.bytes, o = this.offset + 4;
    return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
  }
  get haType(): number { return be16(this.bytes, this.offset + 8); }
  get pktType(): number { return this.bytes[this.offset + 10]!; }
  get haLen(): number { return this.bytes[this.offset + 11]!; }
  get address(): Uint8Array { return this.bytes.subarray(this.offset + 12, this.offset + 12 + Math.min(8, this.haLen)); }
}

/** Where the network layer begins: its ethertype and its offset in the frame. */
export interface L3Start {
  protocol: number;
  offset: number;
}

/**
 * Finds the network layer of a captured frame: strips the link header of
 * `linkType` and names what follows by ethertype. For Ethernet a VLAN tag is
 * reported as such (protocol 0x8100 at offset 14) — peeling tags is the
 * dissector's job. Returns null when the frame is shorter than its link
 * header or the link type is not one nfx reads. Fills `out` when given, so
 * the per-packet path allocates nothing.
 */
export function linkL3(linkType: number, data: Uint8Array, out: L3Start = { protocol: 0, offset: 0 }): L3Start | null {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (data.length < ETH_HLEN) return null;
      out.protocol = be16(data, 12);
      out.offset = ETH_HLEN;
      return out;
    case LINKTYPE_LINUX_SLL:
      if (data.length < SLL_HDR_LEN) return null;
      out.protocol = be16(data, 14);
      out.offset = SLL_HDR_LEN;
      return out;
    case LINKTYPE_LINUX_SLL2:
      if (data.length < SLL2_HDR_LEN) return null;
      out.protocol = be16(data, 0);
      out.offset = SLL2_HDR_LEN;
      return out;
    case LINKTYPE_RAW: {
      if (data.length < 1) return null;
      const version = data[0]! >> 4;
      if (version !== 4 && version !== 6) return null;
      out.protocol = version === 4 ? ETH_P_IP : ETH_P_IPV6;
      out.offset = 0;
      return out;
    }
    case LINKTYPE_IPV4:
      out.protocol = ETH_P_IP;
      out.offset = 0;
      return out;
    case LINKTYPE_IPV6:
      out.protocol = ETH_P_IPV6;
      out.offset = 0;
      return out;
    case LINKTYPE_NULL: {
      // A 4-byte AF_* in the capturing host's byte order; IPv6 has three
      // values because the BSDs disagree (pcap-linktype(7): 24, 28, 30).
      if (data.length < 4) return null;
      let af = data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24);
      if (af > 0xffff || af < 0) af = be32(data, 0);
      if (af === 2) out.protocol = ETH_P_IP;
      else if (af === 24 || af === 28 || af === 30) out.protocol = ETH_P_IPV6;
      else return null;
      out.offset = 4;
      return out;
    }
    default:
      return null;
  }
}

/**
 * Strips a Linux cooked header: the payload's protocol and where it starts,
 * or null when `linkType` is not SLL/SLL2 or the frame is too short.
 */
export function stripCooked(linkType: number, data: Uint8Array, out?: L3Start): L3Start | null {
  if (linkType !== LINKTYPE_LINUX_SLL && linkType !== LINKTYPE_LINUX_SLL2) return null;
  return linkL3(linkType, data, out);
}

function be16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}
