/**
 * Input routing (ip_route_input_slow in net/ipv4/route.c, ip6_route_input in
 * net/ipv6/route.c): martian addresses, fib_validate_source (own source,
 * rp_filter), local and broadcast delivery, forwarding, and ip_error() for
 * routes that fail — each drop with the kernel's reason.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import { route } from '../fib.js';
import { equalAddr, formatAddr } from '../inet.js';
import type { DropReason } from './types.js';
import { isLbcast4, isLoopback4, isMulticast4, isMulticast6, isZeronet4 } from './headers.js';
import { ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_PKT_FILTERED, ICMPV6_ADM_PROHIBITED, ICMPV6_DEST_UNREACH, ICMPV6_NOROUTE } from './icmp-error.js';
import { describeRoute } from './describe.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import type { HostPath } from './walk.js';

/** ip_route_input_slow() (net/ipv4/route.c), with its drop reasons. */
export function routeInput4(p: HostPath, pkt: Packet, link: Link): void {
  const b = pkt.buffer, n = pkt.head;
  const saddr = b.slice(n + 12, n + 16), daddr = b.slice(n + 16, n + 20);
  const fwd = p.conf4(link.name, 'forwarding') !== 0;
  if (isMulticast4(saddr) || isLbcast4(saddr)) { p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(saddr)} (multicast or broadcast)`); return; }
  if (isLbcast4(daddr) || (isZeronet4(saddr) && isZeronet4(daddr))) { brdInput4(p, pkt, link, saddr); return; }
  if (isZeronet4(saddr)) { p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(saddr)}`); return; }
  if (isZeronet4(daddr)) { p.drop('IP_INVALID_DEST', `martian destination ${formatAddr(daddr)}`); return; }
  const localnet = p.conf4(link.name, 'route_localnet') !== 0;
  if (!localnet && (isLoopback4(daddr) || isLoopback4(saddr))) { p.drop('IP_LOCALNET', 'loopback address (127/8) from a wire'); return; }
  if (isMulticast4(daddr)) {
    // ip_check_mc_rcu(): every up interface joins 224.0.0.1; other groups need a member socket.
    if (daddr[0] === 224 && daddr[1] === 0 && daddr[2] === 0 && daddr[3] === 1) { p.localDeliver(pkt, 4, 'multicast', link, undefined); return; }
    p.drop('IP_INVALID_DEST', `multicast group ${formatAddr(daddr)} not joined on ${link.name}`);
    return;
  }
  const rt = route(p.host, { family: 4, daddr, saddr, iif: link.name, mark: pkt.meta.mark, tos: b[n + 1]! & 0x1c });
  if (p.detail) p.step('route', `route lookup for ${formatAddr(daddr)} from ${link.name}: ${describeRoute(p.host, rt, false)}`);
  if (rt.type === 'broadcast') { brdInput4(p, pkt, link, saddr); return; }
  if (rt.type === 'local') {
    if (!validateSource4(p, pkt, link, saddr, daddr)) return;
    p.localDeliver(pkt, 4, 'unicast', link, rt);
    return;
  }
  if (rt.errno !== undefined || rt.type !== 'unicast') {
    ipError4(p, pkt, link, fwd ? rt.errno ?? 'ENETUNREACH' : 'EHOSTUNREACH', fwd);
    return;
  }
  if (!fwd) { ipError4(p, pkt, link, 'EHOSTUNREACH', false, `forwarding is disabled on ${link.name} (net.ipv4.conf.${link.name}.forwarding=0)`); return; }
  if (!validateSource4(p, pkt, link, saddr, daddr)) return;
  p.forward4(pkt, link, rt);
}


/** brd_input: a broadcast is delivered locally once its source checks out. */
export function brdInput4(p: HostPath, pkt: Packet, link: Link, saddr: Uint8Array): void {
  const b = pkt.buffer, n = pkt.head;
  p.step('route', `${formatAddr(b.subarray(n + 16, n + 20))} is a broadcast on ${link.name}: delivered locally`);
  if (!isZeronet4(saddr) && !validateSource4(p, pkt, link, saddr, b.slice(n + 16, n + 20))) return;
  p.localDeliver(pkt, 4, 'broadcast', link, undefined);
}


/**
 * fib_validate_source() (net/ipv4/fib_frontend.c): our own address as source is
 * dropped; with rp_filter, the reverse route must lead back out of the input
 * interface (strict, 1) or exist at all (loose, 2).
 */
export function validateSource4(p: HostPath, pkt: Packet, link: Link, saddr: Uint8Array, daddr: Uint8Array): boolean {
  const rpf = p.conf4(link.name, 'rp_filter');
  const acceptLocal = p.conf4(link.name, 'accept_local') !== 0;
  const rev = route(p.host, { family: 4, daddr: saddr, saddr: daddr, mark: pkt.meta.mark });
  if (rev.type === 'local') {
    if (!acceptLocal) return p.drop('IP_LOCAL_SOURCE', `source ${formatAddr(saddr)} is one of this host's addresses`);
  } else if (rev.type !== 'unicast' && rev.errno === undefined) {
    return p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(saddr)} (a ${rev.type} address)`);
  }
  if (rpf === 0) return true;
  if (rev.errno !== undefined) return p.drop('IP_RPFILTER', `rp_filter=${rpf}: no route back to ${formatAddr(saddr)}`);
  if (rpf === 1 && rev.dev && rev.dev.index !== link.index && rev.type !== 'local') {
    return p.drop('IP_RPFILTER', `rp_filter=1: the route back to ${formatAddr(saddr)} leaves by ${rev.dev.name}, not ${link.name}`);
  }
  return true;
}


/**
 * ip_error(): an input route that failed. With forwarding off the packet is
 * dropped quietly; with it on the sender hears why (ICMP unreachable).
 */
export function ipError4(p: HostPath, pkt: Packet, link: Link, errno: string, fwd: boolean, why?: string): void {
  const text = why ?? `no route (${errno})`;
  if (!fwd) { p.drop(errno === 'ENETUNREACH' ? 'IP_INNOROUTES' : 'IP_INADDRERRORS', text); return; }
  let code = -1;
  let reason: DropReason = 'NOT_SPECIFIED';
  if (errno === 'EHOSTUNREACH') { code = ICMP_HOST_UNREACH; reason = 'IP_INADDRERRORS'; }
  else if (errno === 'ENETUNREACH') { code = ICMP_NET_UNREACH; reason = 'IP_INNOROUTES'; }
  else if (errno === 'EACCES') code = ICMP_PKT_FILTERED;
  p.drop(reason, text);
  if (code >= 0) icmpSend4(p, pkt, link, ICMP_DEST_UNREACH, code, 0, false);
}


/** ip6_route_input(): local, forward (ip6_forward) or an error route (ip6_pkt_drop). */
export function routeInput6(p: HostPath, pkt: Packet, link: Link): void {
  const b = pkt.buffer, n = pkt.head;
  const saddr = b.slice(n + 8, n + 24), daddr = b.slice(n + 24, n + 40);
  if (isMulticast6(daddr)) {
    // Every interface is in ff02::1 and its solicited-node groups; others need a member socket.
    const allNodes = daddr[1]! <= 2 && daddr[15] === 1 && daddr.subarray(2, 15).every((x) => x === 0);
    const solicited = daddr[1] === 2 && daddr[11] === 1 && daddr[12] === 0xff &&
      p.host.addrs.some((a) => a.family === 6 && a.dev === link.index && equalAddr(a.local.subarray(13), daddr.subarray(13)));
    if (allNodes || solicited) { p.localDeliver(pkt, 6, 'multicast', link, undefined); return; }
    p.drop('IP_INVALID_DEST', `multicast group ${formatAddr(daddr)} not joined on ${link.name}`);
    return;
  }
  const rt = route(p.host, { family: 6, daddr, saddr, iif: link.name, mark: pkt.meta.mark });
  if (p.detail) p.step('route', `route lookup for ${formatAddr(daddr)} from ${link.name}: ${describeRoute(p.host, rt, false)}`);
  if (rt.type === 'local') { p.localDeliver(pkt, 6, 'unicast', link, rt); return; }
  if (rt.errno !== undefined || rt.type !== 'unicast') {
    // ip6_pkt_drop() / ip6_pkt_prohibit(); blackhole discards quietly.
    if (rt.type === 'blackhole') { p.drop('NOT_SPECIFIED', 'blackhole route'); return; }
    p.drop('IP_INNOROUTES', `no route (${rt.errno ?? rt.type})`);
    icmpSend6(p, pkt, link, ICMPV6_DEST_UNREACH, rt.type === 'prohibit' ? ICMPV6_ADM_PROHIBITED : ICMPV6_NOROUTE, 0);
    return;
  }
  p.forward6(pkt, link, rt);
}
