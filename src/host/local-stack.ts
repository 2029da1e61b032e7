/**
 * The host's own small stack: what happens to a packet that routing delivered
 * locally and INPUT accepted. Echo requests are answered (icmp_echo,
 * icmpv6_echo_reply); TCP to a port nobody listens on gets a reset
 * (tcp_v4_send_reset / tcp_v6_send_reset); UDP to a closed port gets port
 * unreachable (__udp4_lib_rcv); a protocol nobody handles gets protocol
 * unreachable (ip_protocol_deliver_rcu). Listeners are declared by the caller.
 */
import type { Packet } from '../packet/packet.js';
import type { DropReason } from './path/types.js';
import { be16, icmp4EchoReply, icmp6EchoReply, tcp4Reset, tcp6Reset } from './path/build.js';
import { ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ICMP_PROT_UNREACH, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH } from './path/icmp-error.js';
import { equalAddr } from './inet.js';

/** A local socket: `proto` and `port`, optionally bound to one address. */
export interface Listener {
  proto: 'tcp' | 'udp';
  port: number;
  family?: 4 | 6;
  addr?: Uint8Array;
  /**
   * The socket's name for its per-socket IPsec policies (Xfrm.setSocketPolicy,
   * as setsockopt(IP_XFRM_POLICY) sets sk->sk_policy): packets delivered to it
   * pass __xfrm_policy_check with the socket, which consults its `in` policy
   * before the SPD; what it sends (outputFromSocket) consults its `out` policy.
   */
  sockId?: string;
}

/** skb->pkt_type PACKET_HOST (uapi/linux/if_packet.h). */
const PACKET_HOST = 0;

export type Cast = 'unicast' | 'broadcast' | 'multicast';

export interface StackAnswer {
  fate: 'delivered' | 'dropped';
  reason?: DropReason;
  /** What the stack did, for a person. */
  text: string;
  /** A reply to send as it is (echo reply, reset), layer 3. */
  reply?: Uint8Array;
  /** An ICMP/ICMPv6 error to send about the packet (goes through icmp_send's checks and rate limit). */
  icmpError?: { type: number; code: number };
}

export interface StackSettings {
  ttl4: number;
  hlim6: number;
  echoIgnoreAll4: boolean;
  echoIgnoreBroadcasts4: boolean;
  echoIgnoreAll6: boolean;
  echoIgnoreMulticast6: boolean;
  /** The IPv4 ID for a non-DF packet the stack makes (the kernel draws it at random). */
  nextId: () => number;
}

/** The socket that receives a segment for (proto, family, port, daddr), as the socket lookup finds it. */
export function findListener(ls: readonly Listener[], proto: 'tcp' | 'udp', family: 4 | 6, port: number, daddr: Uint8Array): Listener | undefined {
  return ls.find((l) => l.proto === proto && l.port === port && (l.family === undefined || l.family === family) &&
    (l.addr === undefined || (l.addr.length === daddr.length && equalAddr(l.addr, daddr))));
}

function listening(ls: readonly Listener[], proto: 'tcp' | 'udp', family: 4 | 6, port: number, daddr: Uint8Array): boolean {
  return findListener(ls, proto, family, port, daddr) !== undefined;
}

/** Delivers `pkt` (network header at pkt.head, transport header set) to the local stack. */
export function deliverLocal(pkt: Packet, family: 4 | 6, cast: Cast, listeners: readonly Listener[], s: StackSettings): StackAnswer {
  const l3 = pkt.data;
  const th = pkt.transportHeader - pkt.head;
  const proto = pkt.l4proto;
  const daddr = family === 4 ? l3.subarray(16, 20) : l3.subarray(24, 40);
  if (pkt.transportHeader < 0) return { fate: 'delivered', text: 'a fragment: held for reassembly (not modelled)' };
  if (family === 4 && proto === 1) {
    if (l3[th] !== 8) return { fate: 'delivered', text: `ICMP type ${l3[th]} consumed by the stack` };
    if (s.echoIgnoreAll4) return { fate: 'delivered', text: 'echo request ignored (net.ipv4.icmp_echo_ignore_all=1)' };
    if (cast !== 'unicast' && s.echoIgnoreBroadcasts4) return { fate: 'delivered', text: 'echo request to a broadcast/multicast address ignored (icmp_echo_ignore_broadcasts=1)' };
    return { fate: 'delivered', text: 'echo request answered with an echo reply', reply: icmp4EchoReply(l3, th, s.ttl4, s.nextId()) };
  }
  if (family === 6 && proto === 58) {
    const type = l3[th]!;
    if (type !== 128) return { fate: 'delivered', text: `ICMPv6 type ${type} consumed by the stack` };
    if (s.echoIgnoreAll6 || (cast === 'multicast' && s.echoIgnoreMulticast6)) return { fate: 'delivered', text: 'echo request ignored (net.ipv6.icmp.echo_ignore_*)' };
    return { fate: 'delivered', text: 'echo request answered with an echo reply', reply: icmp6EchoReply(l3, th, s.hlim6) };
  }
  if (proto === 6) {
    const dport = be16(l3, th + 2);
    if (cast !== 'unicast') return { fate: 'dropped', reason: 'NOT_SPECIFIED', text: 'TCP to a broadcast/multicast address' };
    // tcp_v4_rcv()/tcp_v6_rcv(): a segment that came in a link-layer broadcast or
    // multicast frame (skb->pkt_type != PACKET_HOST) is discarded before the socket
    // lookup, so it never draws a reset, even when addressed to one of our IPs.
    if (pkt.meta.pktType !== PACKET_HOST) return { fate: 'dropped', reason: 'NOT_SPECIFIED', text: 'TCP segment in a frame not addressed to this host (pkt_type not PACKET_HOST): discarded' };
    if (listening(listeners, 'tcp', family, dport, daddr)) return { fate: 'delivered', text: `delivered to the TCP listener on port ${dport}` };
    const flags = l3[th + 13]!;
    // tcp_v4_send_reset(): never answer a reset with a reset.
    if (flags & 0x04) return { fate: 'dropped', reason: 'NO_SOCKET', text: `TCP reset to closed port ${dport}: dropped without reply` };
    const reply = family === 4
      ? tcp4Reset(l3, th, { tos: l3[1]! & 0xfc, ttl: s.ttl4, id: 0, df: true })
      : tcp6Reset(l3, th, s.hlim6);
    return { fate: 'dropped', reason: 'NO_SOCKET', text: `no socket on TCP port ${dport}: answered with a reset`, reply };
  }
  if (proto === 17) {
    const dport = be16(l3, th + 2);
    if (listening(listeners, 'udp', family, dport, daddr)) return { fate: 'delivered', text: `delivered to the UDP socket on port ${dport}` };
    // __udp4_lib_mcast_deliver(): broadcast and multicast with no socket are consumed quietly.
    if (cast !== 'unicast') return { fate: 'delivered', text: `no UDP socket on port ${dport} for a ${cast}: consumed quietly` };
    return {
      fate: 'dropped', reason: 'NO_SOCKET', text: `no socket on UDP port ${dport}: port unreachable`,
      icmpError: family === 4 ? { type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH } : { type: ICMPV6_DEST_UNREACH, code: ICMPV6_PORT_UNREACH },
    };
  }
  if (family === 4 && proto === 2) return { fate: 'delivered', text: 'IGMP consumed by the stack' };
  // ip_protocol_deliver_rcu(): no handler and no raw socket.
  if (family === 4) return { fate: 'dropped', reason: 'IP_NOPROTO', text: `no handler for protocol ${proto}: protocol unreachable`, icmpError: { type: ICMP_DEST_UNREACH, code: ICMP_PROT_UNREACH } };
  // ip6_protocol_deliver_rcu(): ICMPv6 parameter problem, unrecognized next header (code 1).
  return { fate: 'dropped', reason: 'IP_NOPROTO', text: `no handler for next header ${proto}: parameter problem`, icmpError: { type: 4, code: 1 } };
}
