/** Zero-copy header views, one module per protocol (STYLE.md §5). */
export * from './bytes.js';
export * from './constants.js';
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
export * from './ipsec.js';
export * from './gre.js';
export * from './l4checksum.js';
