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
  const orig = pkt.data;
  const saddr = b.slice(n + 12, n + 16), daddr = b.slice(n + 16, n + 20);
  const why = (t: string): void => p.step('generate', `no ICMP error: ${t}`, { depth: p.depth + 1 });
  if (pkt.meta.pktType !== PACKET_HOST && !toUs) return why('the packet was not unicast to this host');
  if (isLbcast4(daddr) || isMulticast4(daddr) || rtIsBroadcast(p.host, daddr)) return why('the packet went to a broadcast or multicast address');
  if ((be16(b, n + 6) & 0x1fff) !== 0) return why('a non-first fragment');
  if (isZeronet4(saddr) || isMulticast4(saddr) || isLbcast4(saddr)) return why('the sender address cannot be answered');
  if (b[n + 9] === 1 && pkt.transportHeader >= 0 && isIcmp4Error(b[pkt.transportHeader]!)) return why('never an error about an ICMP error');
  const ratelimit = p.sysInt('net.ipv4.icmp_ratelimit');
  const mask = p.sysInt('net.ipv4.icmp_ratemask');
  if (icmp4RateLimited(type, mask) && !p.limiter.allow(peerKey(saddr), p.clock.nowMs(), ratelimit)) {
    return why(`rate limited (net.ipv4.icmp_ratelimit=${ratelimit})`);
  }
  let src: Uint8Array | undefined;
  if (toUs) src = daddr;
  else if (link && p.sysInt('net.ipv4.icmp_errors_use_inbound_ifaddr')) {
    src = p.host.addrs.find((a) => a.family === 4 && a.dev === link.index && !a.secondary)?.local;
  }
  src ??= route(p.host, { family: 4, daddr: saddr }).src;
  if (!src) return why('no source address to send from');
  // icmp_route_lookup(): IPsec may route the error into the tunnel (xfrm-icmp.ts).
  const xr = p.xfrm ? icmpXfrmRoute(p, pkt, src, type, code) : undefined;
  if (xr === null) return why('refused by IPsec policy (icmp_route_lookup)');
  const ttl = p.sysInt('net.ipv4.ip_default_ttl') || 64;
  const bytes = icmp4Error(orig, type, code, info, xr?.src ?? src, ttl, p.random() & 0xffff);
  if (xr) presetIcmpRoute(bytes, xr);
  p.localOut(bytes, `ICMP type ${type} code ${code} to ${formatAddr(saddr)}`, pkt);
}


/** icmp6_send() (net/ipv6/icmp.c). */
export function icmpSend6(p: HostPath, pkt: Packet, link: Link | undefined, type: number, code: number, info: number): void {
  const b = pkt.buffer, n = pkt.head;
  const orig = pkt.data;
  const saddr = b.slice(n + 8, n + 24), daddr = b.slice(n + 24, n + 40);
  const why = (t: string): void => p.step('generate', `no ICMPv6 error: ${t}`, { depth: p.depth + 1 });
  if (isMulticast6(daddr) && type !== ICMPV6_PKT_TOOBIG && !(type === 4 && code === 2)) return why('the packet went to a multicast address');
  if (saddr.every((x) => x === 0) || isMulticast6(saddr)) return why('the sender address cannot be answered');
  if (pkt.l4proto === 58 && pkt.transportHeader >= 0 && b[pkt.transportHeader]! < 128) return why('never an error about an ICMPv6 error');
  const ratelimit = p.sysInt('net.ipv6.icmp.ratelimit');
  const mask = p.sysText('net.ipv6.icmp.ratemask') ?? '0-1,3-127';
  if (icmp6RateLimited(type, mask) && !p.limiter.allow(peerKey(saddr), p.clock.nowMs(), ratelimit)) {
    return why(`rate limited (net.ipv6.icmp.ratelimit=${ratelimit})`);
  }
  const ours = p.host.addrs.some((a) => a.family === 6 && equalAddr(a.local, daddr));
  const src = ours ? daddr : route(p.host, { family: 6, daddr: saddr }).src;
  if (!src) return why('no source address to send from');
  // icmpv6_route_lookup(): as icmp_route_lookup (xfrm-icmp.ts).
  const xr = p.xfrm ? icmpXfrmRoute(p, pkt, src, type, code) : undefined;
  if (xr === null) return why('refused by IPsec policy (icmpv6_route_lookup)');
  const hlim = link ? p.conf6(link.name, 'hop_limit') || 64 : 64;
  const bytes = icmp6Error(orig, type, code, info, xr?.src ?? src, hlim);
  if (xr) presetIcmpRoute(bytes, xr);
  p.localOut(bytes, `ICMPv6 type ${type} code ${code} to ${formatAddr(saddr)}`, pkt);
}


/**
 * The inet_peer the rate limit is kept for: the address as a short string (one character
 * per 16-bit word; the length tells the family) — cheaper than its text, which only `why` needs.
 */
function peerKey(a: Uint8Array): string {
  let k = '';
  for (let i = 0; i + 1 < a.length; i += 2) k += String.fromCharCode((a[i]! << 8) | a[i + 1]!);
  return k;
}
