/**
 * Forwarding: ip_forward() (net/ipv4/ip_forward.c) and ip6_forward()
 * (net/ipv6/ip6_output.c) — the link-layer and xfrm checks, hop limit expiry
 * and the path MTU before FORWARD (each answered with its ICMP error), the
 * TTL decrement, FORWARD, then POSTROUTING and the wire (output.ts).
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { RouteResult } from '../fib.js';
import { formatAddr } from '../inet.js';
import { be16 } from './build.js';
import { IP_DF, isLinkLocal6, isLoopback6 } from './headers.js';
import {
  ICMP_DEST_UNREACH, ICMP_EXC_TTL, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED, ICMPV6_DEST_UNREACH, ICMPV6_EXC_HOPLIMIT, ICMPV6_NOT_NEIGHBOUR, ICMPV6_PKT_TOOBIG, ICMPV6_TIME_EXCEED,
} from './icmp-error.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import { xfrmForwardCheck, xfrmForwardInClear } from './xfrm-input.js';
import type { Xfrm } from '../../xfrm/index.js';
import { xfrmRouteOutput } from './xfrm-output.js';
import { postAndTransmit } from './output.js';
import { PACKET_HOST } from './receive.js';
import type { HostPath } from './walk.js';

/** NFPROTO_* */
const PF_INET = 2, PF_INET6 = 10;
/** NF_INET_FORWARD */
const FWD = 2;

/** The xfrm state when IPsec may act on the forwarded packet (its policy check or output lookup), else undefined. */
function xfrmFor(p: HostPath, pkt: Packet): Xfrm | undefined {
  const x = p.xfrm;
  return x !== undefined && !xfrmForwardInClear(x, pkt) ? x : undefined;
}

/** ip_forward() (net/ipv4/ip_forward.c). */
export function forward4(p: HostPath, pkt: Packet, link: Link, rt: RouteResult): void {
  const b = pkt.buffer, n = pkt.head;
  if (pkt.meta.pktType !== PACKET_HOST) { p.drop('OTHERHOST', 'not addressed to this host at the link layer'); return; }
  const x = xfrmFor(p, pkt);
  if (x && !xfrmForwardCheck(p, x, pkt)) return;
  const ttl = b[n + 8]!;
  if (ttl <= 1) {
    p.drop('IP_INHDR', `TTL ${ttl} expires here (ip_forward: time exceeded, before FORWARD)`);
    icmpSend4(p, pkt, link, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, false);
    return;
  }
  if (x && !xfrmRouteOutput(p, x, pkt, 'forward')) return;
  const dev = rt.dev!;
  const mtu = rt.mtu || dev.mtu;
  const total = pkt.length;
  const df = (be16(b, n + 6) & IP_DF) !== 0;
  if (total > mtu && df) {
    p.drop('PKT_TOO_BIG', `${total} bytes with DF over the path MTU ${mtu} of ${dev.name}`);
    icmpSend4(p, pkt, link, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu, false);
    return;
  }
  // ip_decrease_ttl(): RFC 1624 incremental update of the header checksum.
  let check = be16(b, n + 10) + 0x0100;
  check = (check + (check >= 0xffff ? 1 : 0)) & 0xffff;
  b[n + 10] = check >> 8; b[n + 11] = check & 0xff;
  b[n + 8] = ttl - 1;
  if (p.detail) p.step('forward', `forwarded: TTL ${ttl} → ${ttl - 1} (decremented before FORWARD), out ${dev.name}`);
  pkt.meta.oif = dev.index;
  if (!p.runHook(pkt, PF_INET, FWD)) return;
  if (postAndTransmit(p, pkt, PF_INET, rt)) p.decideForwarded();
}

/** ip6_forward() (net/ipv6/ip6_output.c). */
export function forward6(p: HostPath, pkt: Packet, link: Link, rt: RouteResult): void {
  const b = pkt.buffer, n = pkt.head;
  if (p.linkConf(link).forwarding6 === 0) {
    p.drop('NOT_SPECIFIED', 'IPv6 forwarding is disabled (net.ipv6.conf.all.forwarding=0)');
    return;
  }
  if (pkt.meta.pktType !== PACKET_HOST) { p.drop('OTHERHOST', 'not addressed to this host at the link layer'); return; }
  if (isLinkLocal6(b, n + 8) || isLoopback6(b, n + 8)) {
    p.drop('NOT_SPECIFIED', `link-local source ${formatAddr(b.subarray(n + 8, n + 24))} is not forwarded`);
    icmpSend6(p, pkt, link, ICMPV6_DEST_UNREACH, ICMPV6_NOT_NEIGHBOUR, 0);
    return;
  }
  const x = xfrmFor(p, pkt);
  if (x && !xfrmForwardCheck(p, x, pkt)) return;
  const hlim = b[n + 7]!;
  if (hlim <= 1) {
    p.drop('IP_INHDR', `hop limit ${hlim} expires here (ip6_forward: time exceeded, before FORWARD)`);
    icmpSend6(p, pkt, link, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
    return;
  }
  if (x && !xfrmRouteOutput(p, x, pkt, 'forward')) return;
  const dev = rt.dev!;
  const mtu = Math.max(rt.mtu || dev.mtu, 1280);
  if (pkt.length > mtu) {
    p.drop('PKT_TOO_BIG', `${pkt.length} bytes over the path MTU ${mtu} of ${dev.name}`);
    icmpSend6(p, pkt, link, ICMPV6_PKT_TOOBIG, 0, mtu);
    return;
  }
  b[n + 7] = hlim - 1;
  if (p.detail) p.step('forward', `forwarded: hop limit ${hlim} → ${hlim - 1} (decremented before FORWARD), out ${dev.name}`);
  pkt.meta.oif = dev.index;
  if (!p.runHook(pkt, PF_INET6, FWD)) return;
  if (postAndTransmit(p, pkt, PF_INET6, rt)) p.decideForwarded();
}
