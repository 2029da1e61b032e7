/**
 * Packet builders: one plain object per header (field names follow scapy's,
 * so a packet expression maps onto them one to one) and an emit function that
 * writes it over its already-built payload, filling unset (null) lengths and
 * checksums the way scapy does.
 */
export * from './fields.js';
export * from './pseudo.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './tcp.js';
export * from './udp.js';
export * from './sctp.js';
export * from './dccp.js';
export * from './icmp.js';
export * from './icmpv6.js';
export * from './igmp.js';
export * from './esp.js';
export * from './ah.js';
export * from './gre.js';
export * from './espinudp.js';
