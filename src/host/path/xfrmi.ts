/**
 * xfrm interfaces (`ip link add ipsec0 type xfrm dev wan0 if_id 5`), as
 * net/xfrm/xfrm_interface_core.c builds them: a device with no link layer
 * whose transmit is an SPD lookup with the interface's if_id, and whose
 * receive side claims the packets an SA with that if_id decapsulated.
 *
 *  - output: a packet routed out of the interface crosses POSTROUTING and
 *    netdev egress with oif = the interface, then xfrmi_xmit() decodes its
 *    flow (flowi_oif = the IFLA_XFRM_LINK device) and calls
 *    xfrm_lookup_with_ifid(); no bundle, or a bundle whose first SA has
 *    another if_id, is a link failure (tx_carrier_errors, an ICMP host
 *    unreachable by dst_link_failure, tx_errors + tx_dropped). A bundle whose
 *    route leads back into the interface is a routing loop (collisions).
 *    Otherwise the packet is scrubbed (xfrmi_scrub_packet: conntrack reset),
 *    takes the bundle as its dst and dst_output() → xfrm4_output() runs
 *    POSTROUTING again (IPCB was cleared) before the SAs are applied.
 *  - input: xfrmi_rcv_cb() moves a packet an SA decapsulated to the UP
 *    interface with the SA's if_id (or the UP `external` one): skb->dev is
 *    the interface, so PREROUTING, FORWARD and INPUT see `iifname ipsec0`,
 *    and the policy check uses the interface's if_id (xfrmi_decode_session).
 */
import type { Packet } from '../../packet/packet.js';
import type { Host, Link } from '../types.js';
import type { OutputOptions, XfrmSA } from '../../xfrm/index.js';
import { AF_INET6, lookupOutput } from '../../xfrm/index.js';
import { route } from '../fib.js';
import { linkByIndex } from '../links.js';
import { formatAddr } from '../inet.js';
import type { HostPath } from './walk.js';
import { borrowFlow, releaseFlow, secpathOf, setBundle } from './xfrm-flow.js';
import { xfrmOutput } from './xfrm-output.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import { policyRef } from './xfrm-text.js';
import { bundleMtu } from './xfrm-mtu.js';

/** NFPROTO_IPV4/IPV6, NF_INET_POST_ROUTING */
const PF_INET = 2, PF_INET6 = 10, POST = 4;
/** ICMP_DEST_UNREACH/ICMP_HOST_UNREACH; ICMPV6_DEST_UNREACH/ICMPV6_ADDR_UNREACH (ipv4_link_failure, ip6_link_failure). */
const ICMP_DEST_UNREACH = 3, ICMP_HOST_UNREACH = 1, ICMPV6_DEST_UNREACH = 1, ICMPV6_ADDR_UNREACH = 3;
/** ICMP_FRAG_NEEDED, ICMPV6_PKT_TOOBIG, IPV6_MIN_MTU, the DF bit. */
const ICMP_FRAG_NEEDED = 4, ICMPV6_PKT_TOOBIG = 2, IPV6_MIN_MTU = 1280, IP_DF = 0x4000;

/** struct rtnl_link_stats64 fields an xfrm interface counts (dev->tstats and DEV_STATS_INC). */
export interface XfrmiStats {
  rxPackets: number; rxBytes: number; rxErrors: number; rxDropped: number;
  txPackets: number; txBytes: number; txErrors: number; txDropped: number;
  txCarrierErrors: number; txAbortedErrors: number; collisions: number;
}

/** Per-device counters; kept beside the link (the kernel does not persist them either). */
const stats = new WeakMap<Link, XfrmiStats>();

/** The counters of an xfrm interface (all zero before its first packet). */
export function xfrmiStats(dev: Link): XfrmiStats {
  let s = stats.get(dev);
  if (!s) {
    s = { rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0, txPackets: 0, txBytes: 0, txErrors: 0, txDropped: 0, txCarrierErrors: 0, txAbortedErrors: 0, collisions: 0 };
    stats.set(dev, s);
  }
  return s;
}

/**
 * xfrmi_lookup(): the UP interface whose if_id is the SA's, else the UP
 * `external` (collect_md) one, which takes every SA's packets.
 */
export function xfrmiLookup(host: Host, ifId: number): Link | undefined {
  let md: Link | undefined;
  for (const l of host.links) {
    if (l.kind !== 'xfrm' || !l.up || !l.xfrm) continue;
    if (l.xfrm.external) md = l;
    else if (l.xfrm.ifId === ifId) return l;
  }
  return md;
}

/**
 * xfrmi_rcv_cb() after a successful xfrm_input(): the device the inner packet
 * re-enters on — the interface claiming the SA, or `link` when none does.
 * Counts the packet on the interface (dev_sw_netstats_rx_add).
 */
export function xfrmiReceive(p: HostPath, sa: XfrmSA, pkt: Packet, link: Link): Link {
  if (!p.host.links.some(isXfrmi)) return link;
  const xi = xfrmiLookup(p.host, sa.ifId);
  if (!xi) return link;
  // xfrmi_scrub_packet(): PACKET_HOST, no conntrack entry (the caller already reset ctSlot).
  pkt.meta.pktType = 0;
  pkt.meta.ctSlot = -1;
  const s = xfrmiStats(xi);
  s.rxPackets++;
  s.rxBytes += pkt.length;
  if (p.detail) p.step('link', `xfrmi: SA if_id ${sa.ifId} belongs to ${xi.name}${xi.xfrm?.external ? ' (external)' : ''}: the inner packet is received on ${xi.name} (xfrmi_rcv_cb)`);
  return xi;
}

function isXfrmi(l: Link): boolean { return l.kind === 'xfrm'; }

/**
 * xfrmi_decode_session() as __xfrm_policy_check() calls it: the if_id a
 * packet with a secpath, received on an UP xfrm interface, is checked with —
 * the interface's, or for an `external` one the last SA's. 0 otherwise.
 */
export function xfrmiPolicyIfId(host: Host, pkt: Packet): number {
  const sp = secpathOf(pkt);
  if (sp.length === 0 || pkt.meta.iif === 0) return 0;
  const dev = linkByIndex(host, pkt.meta.iif);
  if (!dev || dev.kind !== 'xfrm' || !dev.up || !dev.xfrm) return 0;
  return dev.xfrm.external ? sp[sp.length - 1]!.ifId : dev.xfrm.ifId;
}

/**
 * xfrmi_xmit() → xfrmi_xmit2() for the IP packet at `pkt.head`, after the
 * netdev egress hook of `dev`. True when the ESP packet left.
 */
export function xfrmiXmit(p: HostPath, pkt: Packet, dev: Link): boolean {
  const s = xfrmiStats(dev);
  const parms = dev.xfrm;
  const v6 = pkt.buffer[pkt.head]! >> 4 === 6;
  const length = pkt.length;
  const x = p.xfrm;
  if (!parms) return txErr(p, dev, 'not an xfrm interface');
  if (parms.external) {
    // skb_xfrm_md_info(): an `external` interface needs the if_id from the route's
    // lwtunnel metadata (`encap xfrm if_id N`), which nfx routes do not carry: -EINVAL.
    return txErr(p, dev, 'external interface and the route carries no xfrm metadata (encap xfrm if_id): -EINVAL');
  }
  const ifId = parms.ifId;
  if (!x) return linkFailure(p, pkt, dev, `no IPsec policy with if_id ${ifId}`);
  const fl = borrowFlow(pkt);
  let d;
  try {
    // fl.flowi_oif = xi->p.link; xfrm_lookup_with_ifid(..., if_id).
    fl.ifId = ifId;
    fl.oif = parms.link;
    d = lookupOutput(x, fl, optionsOf(p));
  } finally {
    // The lent flow is reused by other lookups, which expect if_id 0.
    fl.ifId = 0;
    releaseFlow();
  }
  if (d.action === 'drop') {
    return linkFailure(p, pkt, dev, `xfrm lookup with if_id ${ifId}: ${d.counter ?? 'XfrmOutPolBlock'} ${d.why}${d.policy ? ` — ${policyRef(d.policy)}` : ''}`);
  }
  if (d.action === 'bypass') {
    return linkFailure(p, pkt, dev, d.policy ? `${policyRef(d.policy)} (if_id ${ifId}) has no template: no SA to carry the packet`
      : `no IPsec policy with if_id ${ifId} matches the packet`);
  }
  const bundle = d.bundle;
  // x = dst->xfrm: the first SA applied.
  if (bundle[0]!.ifId !== ifId) return linkFailure(p, pkt, dev, `the bundle's SA spi 0x${(bundle[0]!.spi >>> 0).toString(16).padStart(8, '0')} has if_id ${bundle[0]!.ifId}, not ${ifId}`);
  // tdev = dst->dev: the device of the route to the outermost SA's destination.
  const outer = bundle[bundle.length - 1]!;
  const ov6 = outer.family === AF_INET6;
  const ort = route(p.host, { family: ov6 ? 6 : 4, daddr: ov6 ? outer.daddr : outer.daddr.subarray(0, 4), mark: pkt.meta.mark });
  if (ort.dev?.index === dev.index) {
    s.collisions++;
    return txErr(p, dev, `local routing loop detected: the tunnel endpoint ${formatAddr(ov6 ? outer.daddr : outer.daddr.subarray(0, 4))} is routed through ${dev.name} (collisions)`);
  }
  // mtu = dst_mtu(dst): the bundle's MTU (xfrm_init_pmtu). Over it, a DF IPv4 packet or an
  // IPv6 one over 1280 gets its ICMP error (icmp_ndo_send) and -EMSGSIZE; others go on.
  const m = bundleMtu(p, pkt, bundle);
  if (m && length > m.mtu) {
    const b = pkt.buffer, h = pkt.head;
    if (v6 && length > IPV6_MIN_MTU) {
      const mtu = Math.max(m.mtu, IPV6_MIN_MTU);
      txErr(p, dev, `${length} bytes over the tunnel's path MTU ${mtu} (xfrmi_xmit2: -EMSGSIZE)`);
      icmpSend6(p, pkt, undefined, ICMPV6_PKT_TOOBIG, 0, mtu);
      return false;
    }
    if (!v6 && ((b[h + 6]! << 8) | b[h + 7]!) & IP_DF) {
      txErr(p, dev, `${length} bytes with DF over the tunnel's path MTU ${m.mtu} (xfrmi_xmit2: -EMSGSIZE)`);
      icmpSend4(p, pkt, undefined, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, m.mtu, false);
      return false;
    }
  }
  if (p.detail) p.step('route', `xfrmi ${dev.name}: xfrm lookup with if_id ${ifId}: policy index ${d.policy.index} → ${bundle.length} SA${bundle.length > 1 ? 's' : ''}, ESP leaves by ${ort.dev?.name ?? '?'}`);
  // xfrmi_scrub_packet(): PACKET_HOST, no skb_iif, no conntrack (nf_reset_ct).
  pkt.meta.pktType = 0;
  pkt.meta.ctSlot = -1;
  setBundle(pkt, bundle);
  if (ort.dev) pkt.meta.oif = ort.dev.index;
  // dst_output() → xfrm4_output()/xfrm6_output(): POSTROUTING once more, then the SAs.
  if (!p.runHook(pkt, v6 ? PF_INET6 : PF_INET, POST)) { setBundle(pkt, undefined); return false; }
  const ok = xfrmOutput(p, x, pkt);
  if (ok) { s.txPackets++; s.txBytes += length; }
  else { s.txErrors++; s.txAbortedErrors++; }
  return ok;
}

/** Each path's lookup options, made once (the transmit path allocates nothing per packet). */
const pathOptions = new WeakMap<HostPath, OutputOptions>();
function optionsOf(p: HostPath): OutputOptions {
  let o = pathOptions.get(p);
  if (!o) pathOptions.set(p, (o = { resolveSaddr: (daddr, family) => resolveSaddr(p, daddr, family) }));
  return o;
}

/** tx_err in xfrmi_xmit(): every failed transmit counts tx_errors and tx_dropped. */
function txErr(p: HostPath, dev: Link, why: string): false {
  const s = xfrmiStats(dev);
  s.txErrors++;
  s.txDropped++;
  return p.drop('NOT_SPECIFIED', `xfrmi ${dev.name}: ${why}`);
}

/** tx_err_link_failure: tx_carrier_errors, then dst_link_failure() → ICMP unreachable to the sender. */
function linkFailure(p: HostPath, pkt: Packet, dev: Link, why: string): false {
  xfrmiStats(dev).txCarrierErrors++;
  txErr(p, dev, `${why} (xfrmi_xmit2: tx_carrier_errors, dst_link_failure)`);
  if (pkt.buffer[pkt.head]! >> 4 === 6) icmpSend6(p, pkt, undefined, ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, 0);
  else icmpSend4(p, pkt, undefined, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, false);
  return false;
}

/** xfrm_get_saddr(): the source the route towards a tunnel endpoint would pick. */
function resolveSaddr(p: HostPath, daddr: Uint8Array, family: number): Uint8Array | null {
  const r = route(p.host, { family: family === AF_INET6 ? 6 : 4, daddr: family === AF_INET6 ? daddr : daddr.subarray(0, 4) });
  if (!r.src) return null;
  const a = new Uint8Array(16);
  a.set(r.src);
  return a;
}
