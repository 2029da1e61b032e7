/**
 * Addresses scapy would fill in from the machine (routing table, ARP/ND
 * resolution, interface MACs) are fixed here instead, so a packet built by
 * nfx never depends on the host it runs on:
 *   Ether.dst ff:ff:ff:ff:ff:ff, Ether.src 00:00:00:00:00:00,
 *   IP.src/IP.dst 127.0.0.1 (scapy's dst default; src as if routed via lo),
 *   IPv6.src/IPv6.dst ::1, ARP.hwsrc 00:00:00:00:00:00, ARP.psrc 0.0.0.0.
 * Differential tests against scapy always set these fields.
 */
import { get, type LayerInst } from './model.js';

export const DEFAULT_ETHER_DST = 'ff:ff:ff:ff:ff:ff';
export const DEFAULT_ETHER_SRC = '00:00:00:00:00:00';
export const DEFAULT_IP = '127.0.0.1';
export const DEFAULT_IP6 = '::1';
export const DEFAULT_ARP_HWSRC = '00:00:00:00:00:00';
export const DEFAULT_ARP_PSRC = '0.0.0.0';

export function addr(l: LayerInst, field: string, fallback: string): string {
  const v = get(l, field);
  return typeof v === 'string' ? v : fallback;
}
