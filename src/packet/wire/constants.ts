/**
 * Protocol numbers shared by the views and the dissector, with the names the
 * kernel uses for them.
 */

/** Ethertypes, include/uapi/linux/if_ether.h. */
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;
/** The ethertype the kernel's 802.1Q code also accepts as a C-tag: 802.1Q-in-Q (pre-standard QinQ). */
export const ETH_P_QINQ1 = 0x9100;

/** IP protocol numbers, include/uapi/linux/in.h and in6.h (IANA "Assigned Internet Protocol Numbers"). */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;
export const IPPROTO_MH = 135;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_DCCP = 33;

/** pcap LINKTYPE_* values (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** RFC 3948 §2.2: UDP port for ESP in UDP and IKE with the non-ESP marker. */
export const UDP_ENCAP_PORT = 4500;
