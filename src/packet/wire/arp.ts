/** ARP (RFC 826), any hardware/protocol address sizes; the kernel's struct arphdr. */
import { PacketParseError } from '../errors.js';
import { formatIPv4, formatMac, need, setU16, u16 } from './bytes.js';

export const ARP_HLEN = 8;
/** ARPOP_* (include/uapi/linux/if_arp.h). */
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export class ArpView {
  constructor(readonly buf: Uint8Array, readonly off = 0) {
    need(buf, off, ARP_HLEN, 'arp');
    need(buf, off, this.length, 'arp addresses');
  }
  /** ARPHRD_* hardware type, 1 = Ethernet. */
  get hardwareType(): number {
    return u16(this.buf, this.off);
  }
  get protocolType(): number {
    return u16(this.buf, this.off + 2);
  }
  get hardwareSize(): number {
    return this.buf[this.off + 4]!;
  }
  get protocolSize(): number {
    return this.buf[this.off + 5]!;
  }
  get opcode(): number {
    return u16(this.buf, this.off + 6);
  }
  set opcode(v: number) {
    setU16(this.buf, this.off + 6, v);
  }
  /** Header plus the four addresses. */
  get length(): number {
    return ARP_HLEN + 2 * (this.hardwareSize + this.protocolSize);
  }
  get senderHardwareOffset(): number {
    return this.off + ARP_HLEN;
  }
  get senderProtocolOffset(): number {
    return this.senderHardwareOffset + this.hardwareSize;
  }
  get targetHardwareOffset(): number {
    return this.senderProtocolOffset + this.protocolSize;
  }
  get targetProtocolOffset(): number {
    return this.targetHardwareOffset + this.hardwareSize;
  }
  /** True for Ethernet/IPv4 ARP, the only kind whose addresses have a text form here. */
  get isEthernetIPv4(): boolean {
    return this.hardwareSize === 6 && this.protocolSize === 4 && this.protocolType === 0x0800;
  }
  senderHardwareText(): string {
    return formatMac(this.buf, this.senderHardwareOffset, this.hardwareSize);
  }
  targetHardwareText(): string {
    return formatMac(this.buf, this.targetHardwareOffset, this.hardwareSize);
  }
  senderProtocolText(): string {
    if (this.protocolSize !== 4) throw new PacketParseError('arp: protocol address is not IPv4', this.senderProtocolOffset);
    return formatIPv4(this.buf, this.senderProtocolOffset);
  }
  targetProtocolText(): string {
    if (this.protocolSize !== 4) throw new PacketParseError('arp: protocol address is not IPv4', this.targetProtocolOffset);
    return formatIPv4(this.buf, this.targetProtocolOffset);
  }
}
