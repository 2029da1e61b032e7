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

/**
 * ip_route_input_slow() (net/ipv4/route.c), with its drop reasons. Addresses are
 * read in place (offsets into the header); the route answers come from the
 * path's cache (route-cache.ts) and views for texts are made only for drops.
 */
export function routeInput4(p: HostPath, pkt: Packet, link: Link): void {
  const b = pkt.buffer, n = pkt.head;
  const S = n + 12, D = n + 16;
  const conf = p.linkConf(link);
  const fwd = conf.forwarding !== 0;
  if (isMulticast4(b, S) || isLbcast4(b, S)) { p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(b.subarray(S, S + 4))} (multicast or broadcast)`); return; }
  if (isLbcast4(b, D) || (isZeronet4(b, S) && isZeronet4(b, D))) { brdInput4(p, pkt, link); return; }
  if (isZeronet4(b, S)) { p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(b.subarray(S, S + 4))}`); return; }
  if (isZeronet4(b, D)) { p.drop('IP_INVALID_DEST', `martian destination ${formatAddr(b.subarray(D, D + 4))}`); return; }
  const localnet = conf.routeLocalnet !== 0;
  if (!localnet && (isLoopback4(b, D) || isLoopback4(b, S))) { p.drop('IP_LOCALNET', 'loopback address (127/8) from a wire'); return; }
  if (isMulticast4(b, D)) {
    // ip_check_mc_rcu(): every up interface joins 224.0.0.1; other groups need a member socket.
    if (b[D] === 224 && b[D + 1] === 0 && b[D + 2] === 0 && b[D + 3] === 1) { p.localDeliver(pkt, 4, 'multicast', link, undefined); return; }
    p.drop('IP_INVALID_DEST', `multicast group ${formatAddr(b.subarray(D, D + 4))} not joined on ${link.name}`);
    return;
  }
  const rt = p.routes4.lookup(b, n, false, link.name, pkt.meta.mark, b[n + 1]! & 0x1c);
  if (p.detail) p.step('route', `route lookup for ${formatAddr(b.subarray(D, D + 4))} from ${link.name}: ${describeRoute(p.host, rt, false)}`);
  if (rt.type === 'broadcast') { brdInput4(p, pkt, link); return; }
  if (rt.type === 'local') {
    if (!validateSource4(p, pkt, link)) return;
    p.localDeliver(pkt, 4, 'unicast', link, rt);
    return;
  }
  if (rt.errno !== undefined || rt.type !== 'unicast') {
    ipError4(p, pkt, link, fwd ? rt.errno ?? 'ENETUNREACH' : 'EHOSTUNREACH', fwd);
    return;
  }
  if (!fwd) { ipError4(p, pkt, link, 'EHOSTUNREACH', false, `forwarding is disabled on ${link.name} (net.ipv4.conf.${link.name}.forwarding=0)`); return; }
  if (!validateSource4(p, pkt, link)) return;
  p.forward4(pkt, link, rt);
}


/** brd_input: a broadcast is delivered locally once its source checks out. */
export function brdInput4(p: HostPath, pkt: Packet, link: Link): void {
  const b = pkt.buffer, n = pkt.head;
  if (p.detail) p.step('route', `${formatAddr(b.subarray(n + 16, n + 20))} is a broadcast on ${link.name}: delivered locally`);
  if (!isZeronet4(b, n + 12) && !validateSource4(p, pkt, link)) return;
  p.localDeliver(pkt, 4, 'broadcast', link, undefined);
}


/**
 * fib_validate_source() (net/ipv4/fib_frontend.c) for the packet's source: our own
 * address as source is dropped; with rp_filter, the reverse route must lead back out
 * of the input interface (strict, 1) or exist at all (loose, 2).
 */
export function validateSource4(p: HostPath, pkt: Packet, link: Link): boolean {
  const conf = p.linkConf(link);
  const rpf = conf.rpFilter;
  const acceptLocal = conf.acceptLocal !== 0;
  const b = pkt.buffer, S = pkt.head + 12;
  // The reverse lookup: to the source, from the destination, no input interface (as from lo).
  const rev = p.routes4.lookup(b, pkt.head, true, undefined, pkt.meta.mark, 0);
  if (rev.type === 'local') {
    if (!acceptLocal) return p.drop('IP_LOCAL_SOURCE', `source ${formatAddr(b.subarray(S, S + 4))} is one of this host's addresses`);
  } else if (rev.type !== 'unicast' && rev.errno === undefined) {
    return p.drop('IP_INVALID_SOURCE', `martian source ${formatAddr(b.subarray(S, S + 4))} (a ${rev.type} address)`);
  }
  if (rpf === 0) return true;
  if (rev.errno !== undefined) return p.drop('IP_RPFILTER', `rp_filter=${rpf}: no route back to ${formatAddr(b.subarray(S, S + 4))}`);
  if (rpf === 1 && rev.dev && rev.dev.index !== link.index && rev.type !== 'local') {
    return p.drop('IP_RPFILTER', `rp_filter=1: the route back to ${formatAddr(b.subarray(S, S + 4))} leaves by ${rev.dev.name}, not ${link.name}`);
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
  const saddr = b.subarray(n + 8, n + 24), daddr = b.subarray(n + 24, n + 40);
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
