/**
 * When the host may send an ICMP or ICMPv6 error: never about an ICMP error,
 * a non-first fragment, or a packet to or from a broadcast or multicast
 * address (RFC 1122 §3.2.2, RFC 4443 §2.4 (e)); and, per destination, at most
 * as often as `net.ipv4.icmp_ratelimit` / `net.ipv6.icmp.ratelimit` allow for
 * the types in the rate mask — the token bucket of inet_peer_xrlim_allow()
 * (net/ipv4/inetpeer.c), which starts with a burst of XRLIM_BURST_FACTOR (6).
 */

/** include/net/inetpeer.h */
const XRLIM_BURST_FACTOR = 6;

interface Bucket { tokens: number; last: number }

export class IcmpRateLimiter {
  private readonly peers = new Map<string, Bucket>();

  /** Whether one more message to `peer` may go at `nowMs`, `timeoutMs` apart on average (0 = no limit). */
  allow(peer: string, nowMs: number, timeoutMs: number): boolean {
    if (timeoutMs <= 0) return true;
    let b = this.peers.get(peer);
    // inet_getpeer() sets rate_last 60 s in the past: a new peer starts with a full bucket.
    if (!b) { b = { tokens: 0, last: nowMs - 60_000 }; this.peers.set(peer, b); }
    b.tokens += nowMs - b.last;
    if (b.tokens > XRLIM_BURST_FACTOR * timeoutMs) b.tokens = XRLIM_BURST_FACTOR * timeoutMs;
    b.last = nowMs;
    if (b.tokens >= timeoutMs) { b.tokens -= timeoutMs; return true; }
    return false;
  }
}

/** icmp_ratemask (a bit per ICMP type); the default 6168 covers unreachable, source quench, time exceeded, parameter problem. */
export function icmp4RateLimited(type: number, mask: number): boolean {
  return type <= 31 && ((mask >>> type) & 1) === 1;
}

/** net.ipv6.icmp.ratemask as a list of ranges ("0-1,3-127"). */
export function icmp6RateLimited(type: number, mask: string): boolean {
  // The mask is parsed once per distinct text: ICMPv6 errors ask for every error sent.
  if (mask !== lastMask6) { lastRanges6 = parseRanges(mask); lastMask6 = mask; }
  const r = lastRanges6;
  for (let i = 0; i < r.length; i += 2) if (type >= r[i]! && type <= r[i + 1]!) return true;
  return false;
}

let lastMask6: string | undefined;
let lastRanges6: number[] = [];

function parseRanges(mask: string): number[] {
  const out: number[] = [];
  for (const part of mask.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    out.push(a, b ?? a);
  }
  return out;
}

/** ICMP error types (RFC 792): an error is never sent about one of these. */
export function isIcmp4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** ICMPv4 types and codes the path sends (uapi/linux/icmp.h). */
export const ICMP_DEST_UNREACH = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_PKT_FILTERED = 13;
export const ICMP_EXC_TTL = 0;

/** ICMPv6 (uapi/linux/icmpv6.h). */
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_NOROUTE = 0;
export const ICMPV6_ADM_PROHIBITED = 1;
export const ICMPV6_NOT_NEIGHBOUR = 2;
export const ICMPV6_ADDR_UNREACH = 3;
export const ICMPV6_PORT_UNREACH = 4;
export const ICMPV6_EXC_HOPLIMIT = 0;
