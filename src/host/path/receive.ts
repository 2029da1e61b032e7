/**
 * The receive half of the walk: the link layer (eth_type_trans), the netdev
 * ingress hook, ip_rcv_core()/ipv6_rcv() checks, PREROUTING, and local
 * delivery (ip_local_deliver: INPUT, then the small local stack). Input
 * routing between PREROUTING and INPUT/FORWARD is route-input.ts.
 *
 * These run once per received packet: texts for `why` are built only when
 * the path records detail (`p.detail`), so the fast mode pays one branch.
 */
import type { Packet } from '../../packet/packet.js';
import type { Link } from '../types.js';
import type { RouteResult } from '../fib.js';
import { formatAddr, formatMac } from '../inet.js';
import { be16 } from './build.js';
import { isLoopback6, isMulticast6, setIpv4Headers, setIpv6Headers } from './headers.js';
import { routeInput4, routeInput6 } from './route-input.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import { deliverLocal } from '../local-stack.js';
import type { Cast } from '../local-stack.js';
import { xfrmLocalIn } from './xfrm-input.js';
import type { HostPath } from './walk.js';
import { bridgeInput } from './bridge.js';
import { hasTag, tagTci, vlanUntagRx } from './bridge-vlan.js';

/** skb->pkt_type (uapi/linux/if_packet.h). */
export const PACKET_HOST = 0, PACKET_BROADCAST = 1, PACKET_MULTICAST = 2, PACKET_OTHERHOST = 3;
/** NFPROTO_* */
const PF_INET = 2, PF_NETDEV = 5, PF_INET6 = 10;
/** NF_INET_* */
const PRE = 0, IN = 1;

/** __netif_receive_skb_core(): link layer, netdev ingress, then the protocol handler. */
export function linkReceive(p: HostPath, pkt: Packet, link: Link, l3: boolean): void {
  if (!link.up) { p.drop('DEV_READY', `${link.name} is down`); return; }
  let proto: number;
  if (l3) {
    const v = pkt.length > 0 ? pkt.buffer[pkt.head]! >> 4 : 0;
    proto = v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
    pkt.meta.pktType = PACKET_HOST;
  } else {
    if (pkt.length < 14) { p.drop('PKT_TOO_SMALL', 'frame shorter than an Ethernet header'); return; }
    const b = pkt.buffer, m = pkt.head;
    pkt.macHeader = m;
    // eth_type_trans(): the destination MAC decides pkt_type.
    if (b[m]! & 1) {
      let all = true;
      for (let i = 0; i < 6; i++) if (b[m + i] !== 0xff) { all = false; break; }
      pkt.meta.pktType = all ? PACKET_BROADCAST : PACKET_MULTICAST;
    } else {
      let ours = true;
      for (let i = 0; i < 6; i++) if (b[m + i] !== link.mac[i]) { ours = false; break; }
      pkt.meta.pktType = ours ? PACKET_HOST : PACKET_OTHERHOST;
    }
    proto = be16(b, m + 12);
    pkt.pull(14);
    if (p.detail && pkt.meta.pktType === PACKET_OTHERHOST) p.step('link', `destination MAC ${formatMac(b.subarray(m, m + 6))} is not ${link.name}'s (${formatMac(link.mac)}): PACKET_OTHERHOST`);
  }
  pkt.protocol = proto;
  pkt.networkHeader = pkt.head;
  // skb_vlan_untag(): an 802.1Q/802.1ad frame's outer tag goes into the link header (where a
  // NIC's VLAN offload leaves it) before netdev ingress; `protocol` becomes the inner type.
  if (!l3) { vlanUntagRx(pkt); proto = pkt.protocol; }
  if (proto === 0x0800 && pkt.length >= 20) setIpv4Headers(pkt);
  else if (proto === 0x86dd && pkt.length >= 40) setIpv6Headers(pkt);
  // __netif_receive_skb_core(): the netdev ingress hook (and inet ingress) before the protocol handlers.
  // The flowtables hooked on this device sit among its netdev ingress chains, by priority: an
  // offloaded flow's packet leaves from there (flowtable.ts).
  const fts = p.flowtables.any ? p.flowtables.onDevice(p.ruleset, link.index) : undefined;
  if (fts === undefined) { if (!p.runHook(pkt, PF_NETDEV, 0)) return; }
  else if (!p.ingressAround(pkt, link, fts)) return;
  // br_handle_frame(), the rx_handler of a bridge port: the bridge takes the frame unless it passes it on.
  if (link.master !== undefined && bridgeInput(p, pkt, link)) return;
  // A tag the bridge did not take is for a VLAN device, and nfx models none (vlan_do_receive finds
  // nothing): a VID other than 0 makes the frame PACKET_OTHERHOST, which ip_rcv drops; a priority
  // tag (VID 0) is only cleared.
  if (hasTag(pkt) && (tagTci(pkt) & 0xfff) !== 0) {
    pkt.meta.pktType = PACKET_OTHERHOST;
    if (p.detail) p.step('link', `802.1Q VLAN ${tagTci(pkt) & 0xfff} and no VLAN device on ${link.name}: PACKET_OTHERHOST`);
  }
  if (proto === 0x0800) ipRcv4(p, pkt, link);
  else if (proto === 0x86dd) ipRcv6(p, pkt, link);
  else if (proto === 0x0806) { p.step('deliver', 'ARP: handled by the neighbour layer'); p.decideDelivered(); }
  else p.drop('UNHANDLED_PROTO', `no handler for ethertype 0x${proto.toString(16).padStart(4, '0')}`);
}

/** ip_rcv_core() then PREROUTING then ip_rcv_finish(). */
export function ipRcv4(p: HostPath, pkt: Packet, link: Link): void {
  if (pkt.meta.pktType === PACKET_OTHERHOST) { p.drop('OTHERHOST', 'frame addressed to another host\'s MAC'); return; }
  const b = pkt.buffer, n = pkt.head;
  if (pkt.length < 20) { p.drop('IP_INHDR', 'shorter than an IPv4 header'); return; }
  const ihl = (b[n]! & 0x0f) * 4;
  if (b[n]! >> 4 !== 4 || ihl < 20) { p.drop('IP_INHDR', 'bad IPv4 version or header length'); return; }
  if (pkt.length < ihl) { p.drop('IP_INHDR', 'IPv4 header truncated'); return; }
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += (b[n + i]! << 8) | b[n + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  if (sum !== 0xffff) { p.drop('IP_CSUM', 'bad IPv4 header checksum (ip_rcv_core, before PREROUTING)'); return; }
  const total = be16(b, n + 2);
  if (pkt.length < total) { p.drop('PKT_TOO_SMALL', `IPv4 total length ${total} longer than the ${pkt.length} bytes received`); return; }
  if (total < ihl) { p.drop('IP_INHDR', 'IPv4 total length shorter than its header'); return; }
  if (pkt.length > total) pkt.trim(total);
  setIpv4Headers(pkt);
  if (p.detail) p.step('check', `IPv4 ${formatAddr(b.subarray(n + 12, n + 16))} > ${formatAddr(b.subarray(n + 16, n + 20))} ttl ${b[n + 8]}: header valid`);
  if (!p.runHook(pkt, PF_INET, PRE)) return;
  if (p.isLooped(pkt)) { localDeliver(p, pkt, 4, 'unicast', link, undefined); return; }
  routeInput4(p, pkt, link);
}

/** ipv6_rcv() then PREROUTING then ip6_rcv_finish(). */
export function ipRcv6(p: HostPath, pkt: Packet, link: Link): void {
  if (pkt.meta.pktType === PACKET_OTHERHOST) { p.drop('OTHERHOST', 'frame addressed to another host\'s MAC'); return; }
  const b = pkt.buffer, n = pkt.head;
  if (p.linkConf(link).disableIpv6) { p.drop('IPV6DISABLED', `IPv6 is disabled on ${link.name}`); return; }
  if (pkt.length < 40 || b[n]! >> 4 !== 6) { p.drop('IP_INHDR', 'bad IPv6 header'); return; }
  // ipv6_rcv(): multicast sources, and loopback addresses from outside lo, are header errors (RFC 4291 §2.5.3, §2.7).
  if (isMulticast6(b, n + 8)) { p.drop('IP_INHDR', 'multicast source address'); return; }
  if (link.kind !== 'loopback' && (isLoopback6(b, n + 8) || isLoopback6(b, n + 24))) { p.drop('IP_INHDR', 'loopback address from a wire'); return; }
  const total = 40 + be16(b, n + 4);
  if (pkt.length < total) { p.drop('PKT_TOO_SMALL', `IPv6 payload length says ${total} bytes, ${pkt.length} received`); return; }
  if (pkt.length > total) pkt.trim(total);
  setIpv6Headers(pkt);
  if (p.detail) p.step('check', `IPv6 ${formatAddr(b.subarray(n + 8, n + 24))} > ${formatAddr(b.subarray(n + 24, n + 40))} hlim ${b[n + 7]}: header valid`);
  if (!p.runHook(pkt, PF_INET6, PRE)) return;
  if (p.isLooped(pkt)) { localDeliver(p, pkt, 6, 'unicast', link, undefined); return; }
  routeInput6(p, pkt, link);
}

/** ip_local_deliver(): INPUT, the xfrm input policy check, then the local stack. */
export function localDeliver(p: HostPath, pkt: Packet, family: 4 | 6, cast: Cast, link: Link, _rt: RouteResult | undefined): void {
  pkt.meta.oif = 0;
  if (!p.runHook(pkt, family === 4 ? PF_INET : PF_INET6, IN)) return;
  const x = p.xfrm;
  if (x && !xfrmLocalIn(p, x, pkt, link)) return;
  const ans = deliverLocal(pkt, family, cast, p.listeners, {
    ttl4: p.sysInt('net.ipv4.ip_default_ttl') || 64,
    hlim6: p.linkConf(link).hopLimit || 64,
    echoIgnoreAll4: p.sysInt('net.ipv4.icmp_echo_ignore_all') !== 0,
    echoIgnoreBroadcasts4: p.sysInt('net.ipv4.icmp_echo_ignore_broadcasts') !== 0,
    echoIgnoreAll6: p.sysInt('net.ipv6.icmp.echo_ignore_all') !== 0,
    echoIgnoreMulticast6: p.sysInt('net.ipv6.icmp.echo_ignore_multicast') !== 0,
    nextId: () => p.random() & 0xffff,
  });
  if (p.detail) p.step('deliver', `local stack: ${ans.text}`);
  if (ans.fate === 'delivered') p.decideDelivered();
  else p.decideDropped(ans.reason ?? 'NOT_SPECIFIED', { kind: 'check', check: ans.text });
  if (ans.reply) p.localOut(ans.reply, 'the local stack\'s reply');
  if (ans.icmpError) {
    if (family === 4) icmpSend4(p, pkt, link, ans.icmpError.type, ans.icmpError.code, 0, true);
    else icmpSend6(p, pkt, link, ans.icmpError.type, ans.icmpError.code, ans.icmpError.type === 4 ? 6 : 0);
  }
}
