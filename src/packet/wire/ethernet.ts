/**
 * Ethernet II and 802.1Q / 802.1ad tags (IEEE 802.3 §3.2, IEEE 802.1Q §9.6),
 * plus the Linux "cooked" capture headers that stand in for a link header.
 */
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_QINQ1 } from './constants.js';
import { formatMac, need, setU16, u16, u32 } from './bytes.js';

export const ETH_HLEN = 14;
export const VLAN_HLEN = 4;

export class EthernetView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, ETH_HLEN, 'ethernet');
  }
  get destination(): Uint8Array {
    return this.buf.subarray(this.off, this.off + 6);
  }
  get source(): Uint8Array {
    return this.buf.subarray(this.off + 6, this.off + 12);
  }
  get destinationText(): string {
    return formatMac(this.buf, this.off);
  }
  get sourceText(): string {
    return formatMac(this.buf, this.off + 6);
  }
  setDestination(mac: Uint8Array): void {
    this.buf.set(mac.subarray(0, 6), this.off);
  }
  setSource(mac: Uint8Array): void {
    this.buf.set(mac.subarray(0, 6), this.off + 6);
  }
  get etherType(): number {
    return u16(this.buf, this.off + 12);
  }
  set etherType(v: number) {
    setU16(this.buf, this.off + 12, v);
  }
  get headerLength(): number {
    return ETH_HLEN;
  }
  get payloadOffset(): number {
    return this.off + ETH_HLEN;
  }
}

/** True for the TPIDs that introduce a VLAN tag (the kernel's eth_type_vlan()). */
export function isVlanEtherType(t: number): boolean {
  return t === ETH_P_8021Q || t === ETH_P_8021AD || t === ETH_P_QINQ1;
}

/**
 * A VLAN tag's last four bytes: TCI and the encapsulated ethertype. `off`
 * points just after the TPID (which is the previous header's ethertype), so a
 * stack of tags is walked by constructing one view per tag.
 */
export class VlanTagView {
  constructor(readonly buf: Uint8Array, readonly off: number) {
    need(buf, off, VLAN_HLEN, 'vlan');
  }
  get tci(): number {
    return u16(this.buf, this.off);
  }
  /** Priority code point (802.1p), 3 bits. */
  get pcp(): number {
    return this.buf[this.off]! >> 5;
  }
  set pcp(v: number) {
    this.buf[this.off] = (this.buf[this.off]! & 0x1f) | ((v & 7) << 5);
  }
  /** Drop eligible indicator (formerly CFI). */
  get dei(): number {
    return (this.buf[this.off]! >> 4) & 1;
  }
  get vid(): number {
    return this.tci & 0x0fff;
  }
  set vid(v: number) {
    setU16(this.buf, this.off, (this.tci & 0xf000) | (v & 0x0fff));
  }
  get etherType(): number {
    return u16(this.buf, this.off + 2);
  }
  set etherType(v: number) {
    setU16(this.buf, this.off + 2, v);
  }
  get payloadOffset(): number {
    return this.off + VLAN_HLEN;
  }
}

/** LINKTYPE_LINUX_SLL (v1): 16-byte header, libpcap's pcap/sll.h. */
export const SLL_HLEN = 16;
/** LINKTYPE_LINUX_SLL2: 20-byte header. */
export const SLL2_HLEN = 20;

/** Linux cooked capture v1 header (what `tcpdump -i any` wrote before libpcap 1.10). */
export class SllView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, SLL_HLEN, 'sll');
  }
  /** PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4 (linux/if_packet.h). */
  get packetType(): number {
    return u16(this.buf, this.off);
  }
  /** ARPHRD_* of the interface (linux/if_arp.h), 1 for Ethernet. */
  get hatype(): number {
    return u16(this.buf, this.off + 2);
  }
  get addressLength(): number {
    return u16(this.buf, this.off + 4);
  }
  get addressOffset(): number {
    return this.off + 6;
  }
  get protocol(): number {
    return u16(this.buf, this.off + 14);
  }
  get payloadOffset(): number {
    return this.off + SLL_HLEN;
  }
}

/** Linux cooked capture v2 header (libpcap ≥ 1.10, `tcpdump -i any`). */
export class Sll2View {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, SLL2_HLEN, 'sll2');
  }
  get protocol(): number {
    return u16(this.buf, this.off);
  }
  get interfaceIndex(): number {
    return u32(this.buf, this.off + 4);
  }
  get hatype(): number {
    return u16(this.buf, this.off + 8);
  }
  get packetType(): number {
    return this.buf[this.off + 10]!;
  }
  get addressLength(): number {
    return this.buf[this.off + 11]!;
  }
  get addressOffset(): number {
    return this.off + 12;
  }
  get payloadOffset(): number {
    return this.off + SLL2_HLEN;
  }
}
