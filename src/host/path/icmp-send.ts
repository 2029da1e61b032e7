/**
 * Sending an ICMP/ICMPv6 error about a packet (__icmp_send in net/ipv4/icmp.c,
 * icmp6_send in net/ipv6/icmp.c): the checks that forbid one, the per-peer
 * rate limit, the source address, then the host's output path.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import { route } from '../fib.js';
import { equalAddr, formatAddr } from '../inet.js';
import { be16, icmp4Error, icmp6Error } from './build.js';
import { isLbcast4, isMulticast4, isMulticast6, isZeronet4 } from './headers.js';
import { icmp4RateLimited, icmp6RateLimited, isIcmp4Error, ICMPV6_PKT_TOOBIG } from './icmp-error.js';
import { rtIsBroadcast } from './describe.js';
import type { HostPath } from './walk.js';
import { icmpXfrmRoute, presetIcmpRoute } from './xfrm-icmp.js';

/** skb->pkt_type PACKET_HOST (uapi/linux/if_packet.h). */
const PACKET_HOST = 0;

/**
 * __icmp_send() (net/ipv4/icmp.c): the checks, the rate limit, the source
 * address (the packet's destination when it was ours, else the one routing
 * back to the sender picks — the inbound interface's), then ip_local_out.
 */
export function icmpSend4(p: HostPath, pkt: Packet, link: Link | undefined, type: number, code: number, info: number, toUs: boolean): void {
  const b = pkt.buffer, n = pkt.head;
  // The checks read the header in place: most errors about a flood end at the rate limit.
  const S = n + 12, D = n + 16;
  if (pkt.meta.pktType !== PACKET_HOST && !toUs) return refuse(p, 4, 'the packet was not unicast to this host');
  if (isLbcast4(b, D) || isMulticast4(b, D) || rtIsBroadcast(p.host, b, D)) return refuse(p, 4, 'the packet went to a broadcast or multicast address');
  if ((be16(b, n + 6) & 0x1fff) !== 0) return refuse(p, 4, 'a non-first fragment');
  if (isZeronet4(b, S) || isMulticast4(b, S) || isLbcast4(b, S)) return refuse(p, 4, 'the sender address cannot be answered');
  if (b[n + 9] === 1 && pkt.transportHeader >= 0 && isIcmp4Error(b[pkt.transportHeader]!)) return refuse(p, 4, 'never an error about an ICMP error');
  const ratelimit = p.sysInt('net.ipv4.icmp_ratelimit');
  const mask = p.sysInt('net.ipv4.icmp_ratemask');
  if (icmp4RateLimited(type, mask) && !p.limiter.allow(peerKey(b, S, 4), p.clock.nowMs(), ratelimit)) {
    if (p.detail) refuse(p, 4, `rate limited (net.ipv4.icmp_ratelimit=${ratelimit})`);
    return;
  }
  const orig = pkt.data;
  const saddr = b.slice(S, S + 4), daddr = b.slice(D, D + 4);
  let src: Uint8Array | undefined;
  if (toUs) src = daddr;
  else if (link && p.sysInt('net.ipv4.icmp_errors_use_inbound_ifaddr')) {
    src = p.host.addrs.find((a) => a.family === 4 && a.dev === link.index && !a.secondary)?.local;
  }
  src ??= route(p.host, { family: 4, daddr: saddr }).src;
  if (!src) return refuse(p, 4, 'no source address to send from');
  // icmp_route_lookup(): IPsec may route the error into the tunnel (xfrm-icmp.ts).
  const xr = p.xfrm ? icmpXfrmRoute(p, pkt, src, type, code) : undefined;
  if (xr === null) return refuse(p, 4, 'refused by IPsec policy (icmp_route_lookup)');
  const ttl = p.sysInt('net.ipv4.ip_default_ttl') || 64;
  const bytes = icmp4Error(orig, type, code, info, xr?.src ?? src, ttl, p.random() & 0xffff);
  if (xr) presetIcmpRoute(bytes, xr);
  // The text only names the error in `why`'s steps.
  p.localOut(bytes, p.detail ? `ICMP type ${type} code ${code} to ${formatAddr(saddr)}` : 'ICMP error', pkt);
}


/** icmp6_send() (net/ipv6/icmp.c). */
export function icmpSend6(p: HostPath, pkt: Packet, link: Link | undefined, type: number, code: number, info: number): void {
  const b = pkt.buffer, n = pkt.head;
  const S = n + 8, D = n + 24;
  if (isMulticast6(b, D) && type !== ICMPV6_PKT_TOOBIG && !(type === 4 && code === 2)) return refuse(p, 6, 'the packet went to a multicast address');
  if (isUnspecified6(b, S) || isMulticast6(b, S)) return refuse(p, 6, 'the sender address cannot be answered');
  if (pkt.l4proto === 58 && pkt.transportHeader >= 0 && b[pkt.transportHeader]! < 128) return refuse(p, 6, 'never an error about an ICMPv6 error');
  const ratelimit = p.sysInt('net.ipv6.icmp.ratelimit');
  const mask = p.sysText('net.ipv6.icmp.ratemask') ?? '0-1,3-127';
  if (icmp6RateLimited(type, mask) && !p.limiter.allow(peerKey(b, S, 16), p.clock.nowMs(), ratelimit)) {
    if (p.detail) refuse(p, 6, `rate limited (net.ipv6.icmp.ratelimit=${ratelimit})`);
    return;
  }
  const orig = pkt.data;
  const saddr = b.slice(S, S + 16), daddr = b.slice(D, D + 16);
  const ours = p.host.addrs.some((a) => a.family === 6 && equalAddr(a.local, daddr));
  const src = ours ? daddr : route(p.host, { family: 6, daddr: saddr }).src;
  if (!src) return refuse(p, 6, 'no source address to send from');
  // icmpv6_route_lookup(): as icmp_route_lookup (xfrm-icmp.ts).
  const xr = p.xfrm ? icmpXfrmRoute(p, pkt, src, type, code) : undefined;
  if (xr === null) return refuse(p, 6, 'refused by IPsec policy (icmpv6_route_lookup)');
  const hlim = link ? p.conf6(link.name, 'hop_limit') || 64 : 64;
  const bytes = icmp6Error(orig, type, code, info, xr?.src ?? src, hlim);
  if (xr) presetIcmpRoute(bytes, xr);
  p.localOut(bytes, p.detail ? `ICMPv6 type ${type} code ${code} to ${formatAddr(saddr)}` : 'ICMPv6 error', pkt);
}


/** Why no error goes (a step of `why`; nothing when the path records no detail). */
function refuse(p: HostPath, family: 4 | 6, text: string): void {
  if (p.detail) p.step('generate', `no ICMP${family === 6 ? 'v6' : ''} error: ${text}`, { depth: p.depth + 1 });
}

/** ipv6_addr_any() of the address at `b[o..]`. */
function isUnspecified6(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}

/**
 * The inet_peer the rate limit is kept for: the `len`-byte address at `b[o..]` as a short
 * string (one character per 16-bit word; the length tells the family) — cheaper than its
 * text, which only `why` needs.
 */
function peerKey(b: Uint8Array, o: number, len: number): string {
  let k = '';
  for (let i = 0; i + 1 < len; i += 2) k += String.fromCharCode((b[o + i]! << 8) | b[o + i + 1]!);
  return k;
}
