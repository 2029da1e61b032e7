/**
 * Numbers shared with Linux: include/uapi/linux/xfrm.h, include/uapi/linux/in.h,
 * include/uapi/linux/udp.h. Names kept as in the headers.
 */

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export type Family = typeof AF_INET | typeof AF_INET6;

// IP protocol numbers (uapi/linux/in.h, in6.h)
export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_DCCP = 33;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_COMP = 108;
export const IPPROTO_SCTP = 132;
export const IPPROTO_MH = 135;
/** xfrm.h: "any of ESP, AH, IPComp" in flush and templates. */
export const IPSEC_PROTO_ANY = 255;

// enum { XFRM_MODE_* } (xfrm.h)
export const XFRM_MODE_TRANSPORT = 0;
export const XFRM_MODE_TUNNEL = 1;
export const XFRM_MODE_ROUTEOPTIMIZATION = 2;
export const XFRM_MODE_IN_TRIGGER = 3;
export const XFRM_MODE_BEET = 4;
export const XFRM_MODE_IPTFS = 5;
export const XFRM_MODE_MAX = 6;

// struct xfrm_usersa_info.flags (xfrm.h)
export const XFRM_STATE_NOECN = 1;
export const XFRM_STATE_DECAP_DSCP = 2;
export const XFRM_STATE_NOPMTUDISC = 4;
export const XFRM_STATE_WILDRECV = 8;
export const XFRM_STATE_ICMP = 16;
export const XFRM_STATE_AF_UNSPEC = 32;
export const XFRM_STATE_ALIGN4 = 64;
export const XFRM_STATE_ESN = 128;

// XFRMA_SA_EXTRA_FLAGS (xfrm.h)
export const XFRM_SA_XFLAG_DONT_ENCAP_DSCP = 1;
export const XFRM_SA_XFLAG_OSEQ_MAY_WRAP = 2;

// XFRMA_SA_DIR values (xfrm.h)
export const XFRM_SA_DIR_IN = 1;
export const XFRM_SA_DIR_OUT = 2;

// Policy directions (xfrm.h enum): socket policies use dir + XFRM_POLICY_MAX.
export const XFRM_POLICY_IN = 0;
export const XFRM_POLICY_OUT = 1;
export const XFRM_POLICY_FWD = 2;
export const XFRM_POLICY_MAX = 3;

export const XFRM_POLICY_ALLOW = 0;
export const XFRM_POLICY_BLOCK = 1;

export const XFRM_POLICY_LOCALOK = 1;
export const XFRM_POLICY_ICMP = 2;

export const XFRM_POLICY_TYPE_MAIN = 0;
export const XFRM_POLICY_TYPE_SUB = 1;

export const XFRM_SHARE_ANY = 0;

/** xfrm.h: XFRM_MAX_DEPTH, the most templates a policy may have. */
export const XFRM_MAX_DEPTH = 6;
/** xfrm.h: XFRMA_REPLAY_ESN_MAX, the largest replay window. */
export const XFRMA_REPLAY_ESN_MAX = 4096;

/** xfrm.h: XFRM_INF = ~(__u64)0. We hold u64 limits as JS numbers; INF is Infinity. */
export const XFRM_INF = Number.POSITIVE_INFINITY;

// uapi/linux/udp.h encapsulation types
export const UDP_ENCAP_ESPINUDP_NON_IKE = 1;
export const UDP_ENCAP_ESPINUDP = 2;
export const TCP_ENCAP_ESPINTCP = 7;

/** net/xfrm/xfrm_state.c: sysctl_acq_expires default (net.core.xfrm_acq_expires = 30 s). */
export const XFRM_ACQ_EXPIRES_DEFAULT = 30;
