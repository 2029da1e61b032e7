/**
 * `reject` in a bridge-family chain (net/bridge/netfilter/nft_reject_bridge.c).
 *
 * Unlike the inet reject, nothing here touches IP routing: the reply is built
 * by nf_reject_skb_v4_tcp_reset / _v4_unreach / _v6_tcp_reset / _v6_unreach
 * (net/ipv{4,6}/netfilter/nf_reject_ipv{4,6}.c), given an Ethernet header
 * with the frame's MACs swapped (nft_reject_br_push_etherhdr), and handed to
 * br_forward() towards the port the frame came in by — so it crosses bridge
 * OUTPUT and POSTROUTING as a frame the bridge originated. The chain only
 * exists at PREROUTING and INPUT (nft_reject_bridge_validate, expr/reject.ts),
 * where the input device is that port.
 *
 * The builders below see the frame as the kernel's skb does at those hooks:
 * from the network header to the end of the frame, so `skb->len` counts any
 * Ethernet padding (nothing trimmed it yet). nfx's ports do no receive
 * checksum offload: the frame arrives CHECKSUM_NONE and nf_ip_checksum /
 * nf_ip6_checksum verify it in software.
 */
import { Packet } from '../../packet/packet.js';
import { finish, onesSum } from '../../packet/checksum.js';
import { formatMac } from '../inet.js';
import { linkByIndex } from '../links.js';
import { sysctlInt } from '../sysctl.js';
import type { HostPath } from './walk.js';
import { be16, be32, put16, put32, writeIpv4Header, writeIpv6Header } from './build.js';
import { IP_OFFSET, setIpv4Headers, setIpv6Headers } from './headers.js';
import { bridgeForwardLocal } from './bridge.js';
import { hasTag } from './bridge-vlan.js';

/** enum nft_reject_types (uapi/linux/netfilter/nf_tables.h). */
const NFT_REJECT_ICMP_UNREACH = 0, NFT_REJECT_TCP_RST = 1, NFT_REJECT_ICMPX_UNREACH = 2;
/** IPPROTO_* and ICMP types. */
const IPPROTO_ICMP = 1, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_ICMPV6 = 58;
const ICMP_DEST_UNREACH = 3, ICMPV6_DEST_UNREACH = 1;
/** NFPROTO_NETDEV and its egress hook (NF_NETDEV_EGRESS). */
const NFPROTO_NETDEV = 5, NF_NETDEV_EGRESS = 1;
/** ETH_P_IP, ETH_P_IPV6. */
const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd;

/** nft_reject_icmp_code() / nft_reject_icmpv6_code(): NFT_REJECT_ICMPX_* → ICMP and ICMPv6 codes. */
const ICMPX_V4 = [0 /* NET_UNREACH */, 3 /* PORT_UNREACH */, 1 /* HOST_UNREACH */, 13 /* PKT_FILTERED */];
const ICMPX_V6 = [0 /* NOROUTE */, 4 /* PORT_UNREACH */, 3 /* ADDR_UNREACH */, 1 /* ADM_PROHIBITED */];

/** What nft_reject_bridge_eval made of a frame: a reply (IP header first), or why none. */
export type BridgeRejectReply = { l3: Uint8Array } | { none: string };

/**
 * nf_reject_verify_csum(): protocols whose checksum is not a full one's
 * complement sum (or is optional and absent) are not checked. UDP over IPv6
 * must carry one (RFC 8200 §8.1); over IPv4 a zero checksum means none.
 */
function verifyCsum(s: Uint8Array, dataoff: number, proto: number, v6: boolean): boolean {
  switch (proto) {
    case IPPROTO_UDP:
      if (v6) return true;
      if (dataoff + 8 > s.length) return true;
      return be16(s, dataoff + 6) !== 0;
    case 47 /* GRE */: case 51 /* AH */: case 50 /* ESP */: case 132 /* SCTP */: case 136 /* UDPLITE */: case 33 /* DCCP */:
      return false;
    default:
      return true;
  }
}

/**
 * nf_ip_checksum() on a CHECKSUM_NONE skb: the pseudo-header (TCP and UDP
 * only, with skb->len - dataoff as length) plus every byte from the network
 * header on — the IP header included, which a valid header checksum makes
 * add nothing. True when the sum checks out.
 */
function ipChecksumOk(s: Uint8Array, dataoff: number, proto: number): boolean {
  let sum = 0;
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) sum = onesSum(s, 12, 8) + proto + (s.length - dataoff);
  return finish(onesSum(s, 0, s.length, sum)) === 0;
}

/** nf_ip6_checksum() on a CHECKSUM_NONE skb: the pseudo-header and the bytes from `dataoff` on. */
function ip6ChecksumOk(s: Uint8Array, dataoff: number, proto: number): boolean {
  const len = s.length - dataoff;
  const sum = onesSum(s, 8, 32) + Math.floor(len / 0x10000) + (len & 0xffff) + proto;
  return finish(onesSum(s, dataoff, len, sum)) === 0;
}

/**
 * ipv6_skip_exthdr() from the end of the fixed header: the offset and
 * protocol of the first non-extension header, and the fragment offset field
 * of a fragment header met on the way (a non-first fragment stops the walk
 * with the protocol still NEXTHDR_FRAGMENT). Offset -1 when a header does not fit.
 */
function skipExthdr(s: Uint8Array): { off: number; proto: number; fragOff: number } {
  let proto = s[6]!, off = 40, fragOff = 0;
  for (let i = 0; i < 64 && (proto === 0 || proto === 43 || proto === 44 || proto === 51 || proto === 59 || proto === 60); i++) {
    if (proto === 59 || off + 2 > s.length) return { off: -1, proto, fragOff };
    let hdrlen: number;
    if (proto === 44) {
      if (off + 4 > s.length) return { off: -1, proto, fragOff };
      fragOff = be16(s, off + 2);
      if (fragOff & ~0x7) break;
      hdrlen = 8;
    } else if (proto === 51) hdrlen = (s[off + 1]! + 2) << 2;
    else hdrlen = (s[off + 1]! + 1) << 3;
    proto = s[off]!;
    off += hdrlen;
  }
  return { off, proto, fragOff };
}

/** nf_reject_ip_tcphdr_put() / nf_reject_ip6_tcphdr_put(): the 20-byte reset at `at` answering the segment at `th`. */
function writeReset(b: Uint8Array, at: number, s: Uint8Array, th: number, otcplen: number): void {
  put16(b, at, be16(s, th + 2));
  put16(b, at + 2, be16(s, th));
  const flags = s[th + 13]!;
  if (flags & 0x10) {
    put32(b, at + 4, be32(s, th + 8));
    b[at + 13] = 0x04;
  } else {
    const doff = (s[th + 12]! >> 4) << 2;
    put32(b, at + 8, (be32(s, th + 4) + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0) + otcplen - doff) >>> 0);
    b[at + 13] = 0x14;
  }
  b[at + 12] = 5 << 4;
}

/** nf_reject_iphdr_validate(). */
function ip4Valid(s: Uint8Array): string | undefined {
  if (s.length < 20) return 'shorter than an IPv4 header';
  const ihl = (s[0]! & 0x0f) * 4;
  if (ihl < 20 || s[0]! >> 4 !== 4) return 'not a valid IPv4 header';
  const tot = be16(s, 2);
  if (s.length < tot) return 'total length beyond the frame';
  if (tot < ihl) return 'total length under the header length';
  if (s.length < ihl) return 'header beyond the frame';
  return undefined;
}

/** nf_reject_skb_v4_tcp_reset(): `s` is the frame from its IPv4 header to its end. */
export function bridgeReset4(s: Uint8Array, ttl: number): BridgeRejectReply {
  const bad = ip4Valid(s);
  if (bad) return { none: bad };
  // nf_reject_ip_tcphdr_get()
  if (be16(s, 6) & IP_OFFSET) return { none: 'a non-first fragment' };
  if (s[9] !== IPPROTO_TCP) return { none: 'not TCP' };
  const ihl = (s[0]! & 0x0f) * 4;
  if (ihl + 20 > s.length) return { none: 'no whole TCP header' };
  if (s[ihl + 13]! & 0x04) return { none: 'no reset for a reset' };
  if (!ipChecksumOk(s, ihl, IPPROTO_TCP)) return { none: 'bad checksum (nf_ip_checksum)' };
  const b = new Uint8Array(40);
  // nf_reject_iphdr_put(): TOS 0, ID 0, DF, net.ipv4.ip_default_ttl.
  writeIpv4Header(b, 40, { tos: 0, id: 0, df: true, ttl, proto: IPPROTO_TCP, src: s.subarray(16, 20), dst: s.subarray(12, 16) });
  // The segment length is skb->len - ihl: padding after the datagram counts.
  writeReset(b, 20, s, ihl, s.length - ihl);
  // CHECKSUM_PARTIAL: the port's transmit (skb_checksum_help) completes the sum.
  put16(b, 36, finish(onesSum(b, 20, 20, onesSum(b, 12, 8) + IPPROTO_TCP + 20)));
  return { l3: b };
}

/** nf_reject_skb_v4_unreach(). */
export function bridgeUnreach4(s: Uint8Array, code: number, ttl: number): BridgeRejectReply {
  const bad = ip4Valid(s);
  if (bad) return { none: bad };
  if (be16(s, 6) & IP_OFFSET) return { none: 'a non-first fragment' };
  // nf_skb_is_icmp_unreach(): the type is read sizeof(struct iphdr) in, whatever the IHL.
  if (s[9] === IPPROTO_ICMP && s.length > 20 && s[20] === ICMP_DEST_UNREACH) return { none: 'no unreachable for an unreachable' };
  // As much as fits in 576 bytes, taken before pskb_trim_rcsum() drops the padding (the bytes stay in the buffer).
  const len = Math.min(536, s.length);
  const trimmed = s.subarray(0, be16(s, 2));
  const ihl = (s[0]! & 0x0f) * 4;
  const proto = s[9]!;
  if (verifyCsum(trimmed, ihl, proto, false) && !ipChecksumOk(trimmed, ihl, proto)) return { none: 'bad checksum (nf_ip_checksum)' };
  const b = new Uint8Array(28 + len);
  writeIpv4Header(b, 28 + len, { tos: 0, id: 0, df: true, ttl, proto: IPPROTO_ICMP, src: s.subarray(16, 20), dst: s.subarray(12, 16) });
  b[20] = ICMP_DEST_UNREACH; b[21] = code;
  b.set(s.subarray(0, len), 28);
  put16(b, 22, finish(onesSum(b, 20, 8 + len)));
  return { l3: b };
}

/** nf_reject_ip6hdr_validate(). */
function ip6Valid(s: Uint8Array): string | undefined {
  if (s.length < 40) return 'shorter than an IPv6 header';
  if (s[0]! >> 4 !== 6) return 'not IPv6';
  if (be16(s, 4) + 40 > s.length) return 'payload length beyond the frame';
  return undefined;
}

/** nf_reject_skb_v6_tcp_reset(). */
export function bridgeReset6(s: Uint8Array, hlim: number): BridgeRejectReply {
  const bad = ip6Valid(s);
  if (bad) return { none: bad };
  // nf_reject_ip6_tcphdr_get()
  const x = skipExthdr(s);
  if (x.off < 0 || x.off > s.length) return { none: 'no transport header' };
  const otcplen = s.length - x.off;
  if (x.proto !== IPPROTO_TCP) return { none: x.proto === 44 ? 'a non-first fragment' : 'not TCP' };
  if (otcplen < 20) return { none: 'no whole TCP header' };
  if (s[x.off + 13]! & 0x04) return { none: 'no reset for a reset' };
  if (!ip6ChecksumOk(s, x.off, IPPROTO_TCP)) return { none: 'bad checksum (nf_ip6_checksum)' };
  const b = new Uint8Array(60);
  // nf_reject_ip6hdr_put(): traffic class 0, flow label 0, net.ipv6.conf.all.hop_limit.
  writeIpv6Header(b, 20, 0, 0, IPPROTO_TCP, hlim, s.subarray(24, 40), s.subarray(8, 24));
  writeReset(b, 40, s, x.off, otcplen);
  put16(b, 56, finish(onesSum(b, 40, 20, onesSum(b, 8, 32) + IPPROTO_TCP + 20)));
  return { l3: b };
}

/** nf_reject_skb_v6_unreach(). */
export function bridgeUnreach6(s: Uint8Array, code: number, hlim: number): BridgeRejectReply {
  const bad = ip6Valid(s);
  if (bad) return { none: bad };
  // "As much of invoking packet as possible without the ICMPv6 packet exceeding the minimum IPv6 MTU", before any trim.
  const len = Math.min(1220, s.length);
  // nf_skb_is_icmp6_unreach()
  const x0 = skipExthdr(s);
  if (x0.off >= 0 && x0.off < s.length && x0.fragOff === 0 && x0.proto === IPPROTO_ICMPV6 && s[x0.off] === ICMPV6_DEST_UNREACH) {
    return { none: 'no unreachable for an unreachable' };
  }
  // nf_reject_v6_csum_ok(): trimmed to the payload length first (a zero length, a jumbogram, is left alone).
  const plen = be16(s, 4);
  const t = plen ? s.subarray(0, plen + 40) : s;
  const x = skipExthdr(t);
  if (x.off < 0 || x.off >= t.length || (x.fragOff & ~0x7) !== 0) return { none: x.fragOff & ~0x7 ? 'a non-first fragment' : 'no transport header' };
  if (verifyCsum(t, x.off, x.proto, true) && !ip6ChecksumOk(t, x.off, x.proto)) return { none: 'bad checksum (nf_ip6_checksum)' };
  const b = new Uint8Array(48 + len);
  writeIpv6Header(b, 8 + len, 0, 0, IPPROTO_ICMPV6, hlim, s.subarray(24, 40), s.subarray(8, 24));
  b[40] = ICMPV6_DEST_UNREACH; b[41] = code;
  b.set(s.subarray(0, len), 48);
  put16(b, 42, finish(onesSum(b, 40, 8 + len, onesSum(b, 8, 32) + IPPROTO_ICMPV6 + 8 + len)));
  return { l3: b };
}

/** The reply for `pkt` (nf_reject_skb_v{4,6}_*), or undefined when the kernel's builders make none. */
function buildReply(path: HostPath, pkt: Packet, rejectType: number, icmpCode: number): { l3: Uint8Array; proto: number } | undefined {
  const m = pkt.macHeader;
  const fb = pkt.buffer;
  // eth_hdr(skb)->h_proto: skb_vlan_untag() moved the MACs over a tag, so it is the inner type.
  const proto = be16(fb, m + (hasTag(pkt) ? 16 : 12));
  const n = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
  const s = fb.subarray(n, pkt.tail);
  let r: BridgeRejectReply;
  if (proto === ETH_P_IP) {
    const ttl = sysctlInt(path.host, 'net.ipv4.ip_default_ttl') || 64;
    if (rejectType === NFT_REJECT_TCP_RST) r = bridgeReset4(s, ttl);
    else if (rejectType === NFT_REJECT_ICMP_UNREACH) r = bridgeUnreach4(s, icmpCode, ttl);
    else if (rejectType === NFT_REJECT_ICMPX_UNREACH) r = bridgeUnreach4(s, ICMPX_V4[icmpCode] ?? 0, ttl);
    else return undefined;
  } else if (proto === ETH_P_IPV6) {
    const hlim = sysctlInt(path.host, 'net.ipv6.conf.all.hop_limit') || 64;
    if (rejectType === NFT_REJECT_TCP_RST) r = bridgeReset6(s, hlim);
    else if (rejectType === NFT_REJECT_ICMP_UNREACH) r = bridgeUnreach6(s, icmpCode, hlim);
    else if (rejectType === NFT_REJECT_ICMPX_UNREACH) r = bridgeUnreach6(s, ICMPX_V6[icmpCode] ?? 0, hlim);
    else return undefined;
  } else {
    if (path.detail) path.step('generate', `reject: no way to reject ethertype 0x${proto.toString(16).padStart(4, '0')}: dropped`);
    return undefined;
  }
  if ('none' in r) {
    if (path.detail) path.step('generate', `reject: no reply (${r.none})`);
    return undefined;
  }
  return { l3: r.l3, proto };
}

/** The reply as a frame: source = the frame's destination, destination = its source (nft_reject_br_push_etherhdr, dev_hard_header). */
function replyFrame(path: HostPath, pkt: Packet, l3: Uint8Array, proto: number, keepTag: boolean): Packet {
  const fb = pkt.buffer, m = pkt.macHeader;
  const reply = Packet.from(l3);
  path.stamp(reply);
  // The bridge's reply carries the frame's VLAN tag (nft_reject_br_push_etherhdr: __vlan_hwaccel_put_tag
  // with the old skb's vlan_proto and TCI); netdev's does not (nft_reject_queue_xmit: dev_hard_header only).
  const tag = keepTag && hasTag(pkt) ? 4 : 0;
  reply.push(14 + tag);
  const b = reply.buffer, h = reply.head;
  for (let i = 0; i < 6; i++) { b[h + i] = fb[m + 6 + i]!; b[h + 6 + i] = fb[m + i]!; }
  if (tag) for (let i = 12; i < 16; i++) b[h + i] = fb[m + i]!;
  put16(b, h + 12 + tag, proto);
  reply.macHeader = h;
  reply.pull(14 + tag);
  if (proto === ETH_P_IP) setIpv4Headers(reply); else setIpv6Headers(reply);
  return reply;
}

function replyWhat(rejectType: number, proto: number): string {
  return rejectType === NFT_REJECT_TCP_RST ? 'a TCP reset' : proto === ETH_P_IP ? 'an ICMP unreachable' : 'an ICMPv6 unreachable';
}

/**
 * nft_reject_bridge_eval(): the reply for `pkt` (at a bridge PREROUTING or
 * INPUT hook), queued to leave once the hook returns. The rule drops the
 * frame whatever happens here.
 */
export function bridgeReject(path: HostPath, pkt: Packet, rejectType: number, icmpCode: number): void {
  const m = pkt.macHeader;
  if (m < 0) return;
  if (pkt.buffer[m]! & 1) {
    // is_broadcast_ether_addr() || is_multicast_ether_addr()
    path.step('generate', 'reject: no reply to a broadcast or multicast frame');
    return;
  }
  // br_port_get_rcu(nft_in(pkt)): the port the frame came in by.
  const port = pkt.meta.iif ? linkByIndex(path.host, pkt.meta.iif) : undefined;
  const r = buildReply(path, pkt, rejectType, icmpCode);
  if (!r || !port?.brport) return;
  path.queueAction(() => {
    path.depth++;
    try {
      const reply = replyFrame(path, pkt, r.l3, r.proto, true);
      const e = reply.buffer, h = reply.macHeader;
      if (path.detail) path.step('generate', `reject: ${replyWhat(rejectType, r.proto)} from ${formatMac(e.subarray(h + 6, h + 12))} to ${formatMac(e.subarray(h, h + 6))}, back out ${port.name} (br_forward)`);
      bridgeForwardLocal(path, reply, port);
    } finally { path.depth--; }
  });
}

/**
 * nft_reject_netdev_eval(): in a netdev ingress chain the same replies, with
 * the MACs swapped, go straight back out of the device the frame came in on
 * (nft_reject_queue_xmit → dev_queue_xmit: its netdev egress hook, then the
 * wire) — no routing, no IP hooks. Unlike the bridge, there is no check for a
 * broadcast or multicast destination here.
 */
export function netdevReject(path: HostPath, pkt: Packet, rejectType: number, icmpCode: number): void {
  if (pkt.macHeader < 0) return;
  const dev = pkt.meta.iif ? linkByIndex(path.host, pkt.meta.iif) : undefined;
  const r = buildReply(path, pkt, rejectType, icmpCode);
  if (!r || !dev) return;
  path.queueAction(() => {
    path.depth++;
    try {
      const reply = replyFrame(path, pkt, r.l3, r.proto, false);
      if (path.detail) path.step('generate', `reject: ${replyWhat(rejectType, r.proto)} back out ${dev.name} (dev_queue_xmit)`);
      reply.meta.oif = dev.index;
      if (!path.runHook(reply, NFPROTO_NETDEV, NF_NETDEV_EGRESS)) return;
      if (!dev.up) { path.drop('DEV_READY', `${dev.name} is down`); return; }
      path.emit(dev.name, reply.buffer.subarray(reply.macHeader, reply.tail), true);
      if (path.detail) path.step('transmit', `sent on ${dev.name}: ${reply.tail - reply.macHeader} bytes`);
    } finally { path.depth--; }
  });
}
