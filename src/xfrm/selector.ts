/**
 * Selectors (struct xfrm_selector) and flows (the parts of struct flowi xfrm
 * looks at), with matching exactly as include/net/xfrm.h's
 * __xfrm4_selector_match / __xfrm6_selector_match.
 */
import { AF_INET, AF_INET6, AF_UNSPEC, type Family } from './constants.js';
import { addrFromJson, addrToJson, anyAddress, prefixMatch, type XfrmAddress } from './addr.js';

export interface XfrmSelector {
  /** AF_UNSPEC (0) for "any family" on states with flag af-unspec. */
  family: number;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  prefixlenD: number;
  prefixlenS: number;
  /** Ports in host order; for ICMP/ICMPv6 sport holds the type and dport the code. */
  dport: number;
  dportMask: number;
  sport: number;
  sportMask: number;
  /** 0 = any protocol. */
  proto: number;
  /** 0 = any interface; else the output interface (flowi_oif). */
  ifindex: number;
  user: number;
}

/**
 * What a packet looks like to xfrm (struct flowi). Ports in host order; for
 * ICMP/ICMPv6 put the type in `sport` and the code in `dport` — that is how
 * xfrm_flowi_sport/dport present them, so selectors written with `type`/`code`
 * match. For GRE put the key's high 16 bits in sport and the low in dport.
 */
export interface XfrmFlow {
  family: Family;
  saddr: XfrmAddress;
  daddr: XfrmAddress;
  proto: number;
  sport: number;
  dport: number;
  /** Output interface index (0 = unknown), matched against the selector's `dev`. */
  oif?: number;
  iif?: number;
  /** skb->mark, matched against policy and state marks. */
  mark?: number;
  /** xfrm interface id (if_id) the lookup is for; 0 = none. */
  ifId?: number;
}

export function emptySelector(family: number = AF_UNSPEC): XfrmSelector {
  return {
    family,
    daddr: anyAddress(),
    saddr: anyAddress(),
    prefixlenD: 0,
    prefixlenS: 0,
    dport: 0,
    dportMask: 0,
    sport: 0,
    sportMask: 0,
    proto: 0,
    ifindex: 0,
    user: 0,
  };
}

/** xfrm_selector_match for a flow of `family` (the caller checks sel.family where Linux does). */
export function selectorMatch(sel: XfrmSelector, fl: XfrmFlow, family: number = fl.family): boolean {
  if (family !== AF_INET && family !== AF_INET6) return false;
  return (
    prefixMatch(fl.daddr, sel.daddr, sel.prefixlenD) &&
    prefixMatch(fl.saddr, sel.saddr, sel.prefixlenS) &&
    ((fl.dport ^ sel.dport) & sel.dportMask) === 0 &&
    ((fl.sport ^ sel.sport) & sel.sportMask) === 0 &&
    (fl.proto === sel.proto || sel.proto === 0) &&
    ((fl.oif ?? 0) === sel.ifindex || sel.ifindex === 0)
  );
}

/**
 * __xfrm4_init_tempsel / __xfrm6_init_tempsel: the selector of a larval
 * (acquire) state is the exact flow: full-length prefixes, both ports, the
 * protocol and the output interface.
 */
export function selectorFromFlow(fl: XfrmFlow): XfrmSelector {
  const full = fl.family === AF_INET6 ? 128 : 32;
  return {
    family: fl.family,
    daddr: fl.daddr.slice(),
    saddr: fl.saddr.slice(),
    prefixlenD: full,
    prefixlenS: full,
    dport: fl.dport,
    dportMask: 0xffff,
    sport: fl.sport,
    sportMask: 0xffff,
    proto: fl.proto,
    ifindex: fl.oif ?? 0,
    user: 0,
  };
}

/** selector_cmp (memcmp of the whole struct) as the kernel uses to find "the same" policy. */
export function selectorEqual(a: XfrmSelector, b: XfrmSelector): boolean {
  for (let i = 0; i < 16; i++) if (a.daddr[i] !== b.daddr[i] || a.saddr[i] !== b.saddr[i]) return false;
  return (
    a.family === b.family &&
    a.prefixlenD === b.prefixlenD &&
    a.prefixlenS === b.prefixlenS &&
    a.dport === b.dport &&
    a.dportMask === b.dportMask &&
    a.sport === b.sport &&
    a.sportMask === b.sportMask &&
    a.proto === b.proto &&
    a.ifindex === b.ifindex &&
    a.user === b.user
  );
}

/** xfrm_selector_iszero in iproute2: an all-zero selector is not printed. */
export function selectorIsZero(s: XfrmSelector): boolean {
  return selectorEqual(s, emptySelector(0));
}

export function cloneSelector(s: XfrmSelector): XfrmSelector {
  return { ...s, daddr: s.daddr.slice(), saddr: s.saddr.slice() };
}

export interface SelectorJson extends Omit<XfrmSelector, 'daddr' | 'saddr'> {
  daddr: string;
  saddr: string;
}
export function selectorToJson(s: XfrmSelector): SelectorJson {
  return { ...s, daddr: addrToJson(s.daddr), saddr: addrToJson(s.saddr) };
}
export function selectorFromJson(j: SelectorJson): XfrmSelector {
  return { ...j, daddr: addrFromJson(j.daddr), saddr: addrFromJson(j.saddr) };
}
