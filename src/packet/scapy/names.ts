/**
 * Symbolic values scapy accepts for enumerated fields (its enum tables, as
 * name → number). Only tables that do not depend on the machine are here:
 * scapy reads port names from /etc/services, so ports must be numbers, and
 * IP protocol names come from /etc/protocols — the usual Debian names are listed.
 */

/** scapy ETHER_TYPES (Ether.type, Dot1Q.type, GRE.proto). */
export const ETHER_TYPES: Readonly<Record<string, number>> = { "IPv4": 2048, "X25": 2053, "ARP": 2054, "FR_ARP": 2056, "BPQ": 2303, "TRILL": 8947, "L2_IS_IS": 8948, "TEB": 25944, "RAW_FR": 25945, "RARP": 32821, "ATALK": 32923, "AARP": 33011, "n_802_1Q": 33024, "IPX": 33079, "NetBEUI": 33169, "IPv6": 34525, "PPP": 34827, "MPLS": 34887, "MPLS_MULTI": 34888, "ATMMPOA": 34892, "PPP_DISC": 34915, "PPP_SES": 34916, "ATMFATE": 34948, "EAPOL": 34958, "802_AD": 34984, "EAP_PREAUTH": 35015, "LLDP": 35020, "802_1AE": 35045, "PBB": 35047, "MVRP": 35061, "PTP": 35063, "FCOE": 35078, "FIP": 35092, "ROCE": 35093, "LoWPAN": 41197 };

/** ARP.hwtype. */
export const ARP_HWTYPES: Readonly<Record<string, number>> = { "Ethernet (10Mb)": 1, "Ethernet (3Mb)": 2, "AX.25": 3, "Proteon ProNET Token Ring": 4, "Chaos": 5, "IEEE 802 Networks": 6, "ARCNET": 7, "Hyperchannel": 8, "Lanstar": 9, "Autonet Short Address": 10, "LocalTalk": 11, "LocalNet": 12, "Ultra link": 13, "SMDS": 14, "Frame relay": 15, "ATM": 21, "HDLC": 17, "Fibre Channel": 18, "Serial Line": 20 };

/** ARP.op. */
export const ARP_OPS: Readonly<Record<string, number>> = { "who-has": 1, "is-at": 2, "RARP-req": 3, "RARP-rep": 4, "Dyn-RARP-req": 5, "Dyn-RAR-rep": 6, "Dyn-RARP-err": 7, "InARP-req": 8, "InARP-rep": 9 };

/** ICMP.type (scapy icmptypes). */
export const ICMP_TYPES: Readonly<Record<string, number>> = { "echo-reply": 0, "dest-unreach": 3, "source-quench": 4, "redirect": 5, "echo-request": 8, "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14, "information-request": 15, "information-response": 16, "address-mask-request": 17, "address-mask-reply": 18, "traceroute": 30, "datagram-conversion-error": 31, "mobile-host-redirect": 32, "ipv6-where-are-you": 33, "ipv6-i-am-here": 34, "mobile-registration-request": 35, "mobile-registration-reply": 36, "domain-name-request": 37, "domain-name-reply": 38, "skip": 39, "photuris": 40 };

/** ICMP.code names per type (scapy icmpcodes). */
export const ICMP_CODES: Readonly<Record<number, Readonly<Record<string, number>>>> = {
  3: { "network-unreachable": 0, "host-unreachable": 1, "protocol-unreachable": 2, "port-unreachable": 3, "fragmentation-needed": 4, "source-route-failed": 5, "network-unknown": 6, "host-unknown": 7, "network-prohibited": 9, "host-prohibited": 10, "TOS-network-unreachable": 11, "TOS-host-unreachable": 12, "communication-prohibited": 13, "host-precedence-violation": 14, "precedence-cutoff": 15 },
  5: { "network-redirect": 0, "host-redirect": 1, "TOS-network-redirect": 2, "TOS-host-redirect": 3 },
  11: { "ttl-zero-during-transit": 0, "ttl-zero-during-reassembly": 1 },
  12: { "ip-header-bad": 0, "required-option-missing": 1 },
  40: { "bad-spi": 0, "authentication-failed": 1, "decompression-failed": 2, "decryption-failed": 3, "need-authentification": 4, "need-authorization": 5 },
};

/** IP.proto: the /etc/protocols names scapy shows on Debian (a fixed subset). */
export const IP_PROTOS: Readonly<Record<string, number>> = { "hopopt": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "udp": 17, "dccp": 33, "ipv6": 41, "ipv6_route": 43, "ipv6_frag": 44, "gre": 47, "esp": 50, "ah": 51, "ipv6_icmp": 58, "ipv6_nonxt": 59, "ipv6_opts": 60, "sctp": 132, "udplite": 136 };

/** IPv6.nh and extension header nh (scapy ipv6nh). */
export const IPV6_NH: Readonly<Record<string, number>> = { "Hop-by-Hop Option Header": 0, "IP": 4, "TCP": 6, "UDP": 17, "IPv6": 41, "Routing Header": 43, "Fragment Header": 44, "GRE": 47, "ESP Header": 50, "AH Header": 51, "ICMPv6": 58, "No Next Header": 59, "Destination Option Header": 60, "VRRP": 112, "SCTP": 132, "Mobility Header": 135 };

/** ICMPv6 type (scapy icmp6types). */
export const ICMPV6_TYPES: Readonly<Record<string, number>> = { "Destination unreachable": 1, "Packet too big": 2, "Time exceeded": 3, "Parameter problem": 4, "Private Experimentation": 201, "Echo Request": 128, "Echo Reply": 129, "MLD Query": 130, "MLD Report": 131, "MLD Done": 132, "Router Solicitation": 133, "Router Advertisement": 134, "Neighbor Solicitation": 135, "Neighbor Advertisement": 136, "Redirect Message": 137, "Router Renumbering": 138, "ICMP Node Information Query": 139, "ICMP Node Information Response": 140, "Inverse Neighbor Discovery Solicitation Message": 141, "Inverse Neighbor Discovery Advertisement Message": 142, "MLD Report Version 2": 143, "Home Agent Address Discovery Request Message": 144, "Home Agent Address Discovery Reply Message": 145, "Mobile Prefix Solicitation": 146, "Mobile Prefix Advertisement": 147, "Certification Path Solicitation": 148, "Certification Path Advertisement": 149, "Multicast Router Advertisement": 151, "Multicast Router Solicitation": 152, "Multicast Router Termination": 153, "RPL Control Message": 155 };

/** ICMPv6DestUnreach.code. */
export const ICMPV6_UNREACH_CODES: Readonly<Record<string, number>> = { "No route to destination": 0, "Communication with destination administratively prohibited": 1, "Beyond scope of source address": 2, "Address unreachable": 3, "Port unreachable": 4 };

/** ICMPv6TimeExceeded.code. */
export const ICMPV6_TIMEEXCEED_CODES: Readonly<Record<string, number>> = { "hop limit exceeded in transit": 0, "fragment reassembly time exceeded": 1 };

/** ICMPv6ParamProblem.code. */
export const ICMPV6_PARAMPROB_CODES: Readonly<Record<string, number>> = { "erroneous header field encountered": 0, "unrecognized Next Header type encountered": 1, "unrecognized IPv6 option encountered": 2, "first fragment has incomplete header chain": 3 };

/** ICMPv6ND_RA.prf (RFC 4191 router preference). */
export const ND_RA_PRF: Readonly<Record<string, number>> = { "Medium (default)": 0, "High": 1, "Reserved": 2, "Low": 3 };

/** IGMP.type. */
export const IGMP_TYPES: Readonly<Record<string, number>> = { "Group Membership Query": 17, "Version 1 - Membership Report": 18, "Version 2 - Membership Report": 22, "Leave Group": 23 };

/** IGMPv3.type. */
export const IGMPV3_TYPES: Readonly<Record<string, number>> = { "Membership Query": 17, "Version 3 Membership Report": 34, "Multicast Router Advertisement": 48, "Multicast Router Solicitation": 49, "Multicast Router Termination": 50 };

/** IGMPv3gr.rtype. */
export const IGMPV3_RTYPES: Readonly<Record<string, number>> = { "Mode Is Include": 1, "Mode Is Exclude": 2, "Change To Include Mode": 3, "Change To Exclude Mode": 4, "Allow New Sources": 5, "Block Old Sources": 6 };

