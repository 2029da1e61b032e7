/**
 * Ethernet II (IEEE 802.3 §3.2.6) and VLAN tags (IEEE 802.1Q: C-tag 0x8100,
 * 802.1ad S-tag 0x88a8). Field names follow scapy's Ether/Dot1Q so a packet
 * expression maps onto these objects one to one.
 */
import { concat, mac, packBits, type Addr } from './fields.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_TEB = 0x6558; // transparent Ethernet bridging (GRE)

export interface EtherRepr {
  dst: Addr;
  src: Addr;
  /** EtherType of what follows. */
  type: number;
}

export function emitEther(r: EtherRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = new Uint8Array(14);
  h.set(mac(r.dst), 0);
  h.set(mac(r.src), 6);
  h[12] = (r.type >>> 8) & 0xff;
  h[13] = r.type & 0xff;
  return concat([h, payload]);
}

/** One VLAN tag: TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) and the inner EtherType. */
export interface VlanRepr {
  /** Priority code point. */
  prio: number;
  /** Drop eligible indicator (scapy calls it "id", the old CFI bit). */
  id: number;
  /** VLAN identifier. */
  vlan: number;
  type: number;
}

/** Emits the 4 bytes that follow the outer EtherType (0x8100 or 0x88a8). */
export function emitVlan(r: VlanRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat([packBits([[3, r.prio], [1, r.id], [12, r.vlan], [16, r.type]]), payload]);
}
