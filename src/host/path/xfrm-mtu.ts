/**
 * Path MTU under IPsec, as Linux computes and enforces it:
 *  - xfrm_init_pmtu() gives each bundle (xfrm_dst) an MTU: starting from the
 *    MTU of the route below the outermost SA (the child dst: the route to
 *    the tunnel's far end), each SA from the outside in takes
 *    xfrm_state_mtu() — the largest inner packet whose ESP packet still
 *    fits — and the result is capped by the MTU of the packet's own route
 *    (route_mtu_cached);
 *  - ip_forward() / ip6_forward() check a forwarded packet against that MTU
 *    (skb_dst is the xfrm_dst once xfrm4_route_forward() ran): an IPv4 packet
 *    with DF over it, and any IPv6 packet over it, is dropped with ICMP
 *    "fragmentation needed" / "packet too big" carrying the bundle's MTU;
 *  - xfrm4_tunnel_check_size() / xfrm6_tunnel_check_size() repeat the check
 *    for tunnel and BEET SAs at output; for a locally generated packet
 *    (skb->sk set) the socket gets EMSGSIZE (xfrm_local_error) instead of an
 *    ICMP error;
 *  - an IPv4 packet without DF goes on, and the ESP packet, whose outer
 *    header copies DF from the inner one, is fragmented by ip_fragment()
 *    after POSTROUTING when it exceeds the device MTU.
 */
import type { Packet } from '../../packet/packet.js';
import type { XfrmSA } from '../../xfrm/index.js';
import { AF_INET6, XFRM_MODE_IPTFS, XFRM_MODE_TRANSPORT } from '../../xfrm/index.js';
import { route } from '../fib.js';
import { linkByIndex } from '../links.js';
import { be16 } from './build.js';
import { IP_DF } from './headers.js';
import { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMPV6_PKT_TOOBIG } from './icmp-error.js';
import { icmpSend4, icmpSend6 } from './icmp-send.js';
import type { HostPath } from './walk.js';
import { espSaOf } from './xfrm-state.js';

/** IPV6_MIN_MTU (RFC 8200 §5). */
const IPV6_MIN_MTU = 1280;

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

/** The MTU of the route to `daddr` (its `mtu` metric, else the device's); 0 when there is none. */
function routeMtu(p: HostPath, v6: boolean, daddr: Uint8Array, mark: number): number {
  const r = route(p.host, { family: v6 ? 6 : 4, daddr, mark });
  return r.errno === undefined ? r.mtu || r.dev?.mtu || 0 : 0;
}

/** An IPv4 header's addresses, for the path's IPv4 route cache (saddr at 12, daddr at 16). */
const scratch4 = new Uint8Array(20);

/**
 * The MTU of the route under a tunnel SA: the route to its far end from its
 * near end (xfrm_dst_lookup() with the SA's addresses), IPv4 through the
 * path's route cache.
 */
function childMtu(p: HostPath, sa: XfrmSA, mark: number): number {
  if (sa.family === AF_INET6) return routeMtu(p, true, sa.daddr, mark);
  scratch4.set(sa.saddr.subarray(0, 4), 12);
  scratch4.set(sa.daddr.subarray(0, 4), 16);
  const r = p.routes4.lookup(scratch4, 0, false, undefined, mark, 0);
  return r.errno === undefined ? r.mtu || r.dev?.mtu || 0 : 0;
}

/** The MTU of the packet's own route (route_mtu_cached), IPv4 through the path's route cache. */
function ownMtu(p: HostPath, pkt: Packet): number {
  const b = pkt.buffer, h = pkt.head;
  if (b[h]! >> 4 === 6) return routeMtu(p, true, b.subarray(h + 24, h + 40), pkt.meta.mark);
  const iif = pkt.meta.iif ? linkByIndex(p.host, pkt.meta.iif) : undefined;
  const r = p.routes4.lookup(b, h, false, iif?.name, pkt.meta.mark, iif ? b[h + 1]! & 0x1c : 0);
  return r.errno === undefined ? r.mtu || r.dev?.mtu || 0 : 0;
}

/** The bundle's MTU and the SA whose overhead it reflects, as xfrm_init_pmtu() sets it. */
export interface BundleMtu {
  mtu: number;
  /** The MTU of the route under the outermost SA, before any ESP overhead. */
  routeMtu: number;
}

/**
 * xfrm_init_pmtu() for the bundle of `pkt` (an IP packet at pkt.head):
 * undefined when an SA of the bundle does not take the check (IP-TFS
 * fragments inner packets itself) or no route gives an MTU.
 */
export function bundleMtu(p: HostPath, pkt: Packet, bundle: readonly XfrmSA[]): BundleMtu | undefined {
  const own = ownMtu(p, pkt);
  if (own === 0) return undefined;
  // The child of the outermost xfrm_dst: the route to the last tunnel's far end.
  let child = own;
  for (let i = bundle.length - 1; i >= 0; i--) {
    const sa = bundle[i]!;
    if (sa.mode === XFRM_MODE_IPTFS) return undefined;
    if (sa.mode !== XFRM_MODE_TRANSPORT) {
      const m = childMtu(p, sa, pkt.meta.mark);
      if (m > 0) child = m;
      break;
    }
  }
  const under = child;
  let mtu = child;
  for (let i = bundle.length - 1; i >= 0; i--) mtu = espSaOf(bundle[i]!).mtu(mtu);
  // route_mtu_cached: never more than the packet's own route allows.
  if (mtu > own) mtu = own;
  return { mtu, routeMtu: under };
}

function overhead(bundle: readonly XfrmSA[], m: BundleMtu): string {
  const spis = bundle.map((sa) => hex(sa.spi)).join(', ');
  return `the IPsec path MTU ${m.mtu}: route MTU ${m.routeMtu} less the ESP overhead of SA ${spis} (xfrm_state_mtu)`;
}

/**
 * ip_forward()'s MTU check with the bundle's MTU (ip6_forward()'s for IPv6,
 * never below IPV6_MIN_MTU). False when the packet was dropped and the
 * ICMP error sent to its source.
 */
export function xfrmForwardMtuOk(p: HostPath, pkt: Packet, bundle: readonly XfrmSA[]): boolean {
  const m = bundleMtu(p, pkt, bundle);
  if (!m) return true;
  const b = pkt.buffer, h = pkt.head;
  const len = pkt.length;
  const link = linkByIndex(p.host, pkt.meta.iif);
  if (b[h]! >> 4 === 6) {
    const mtu = Math.max(m.mtu, IPV6_MIN_MTU);
    if (len <= mtu) return true;
    p.drop('PKT_TOO_BIG', `ip6_forward: ${len} bytes over ${overhead(bundle, { ...m, mtu })}`);
    icmpSend6(p, pkt, link, ICMPV6_PKT_TOOBIG, 0, mtu);
    return false;
  }
  // ip_exceeds_mtu(): only a packet with DF is refused; the others are fragmented after ESP.
  if (len <= m.mtu || !(be16(b, h + 6) & IP_DF)) return true;
  p.drop('PKT_TOO_BIG', `ip_forward: ${len} bytes with DF over ${overhead(bundle, m)}`);
  icmpSend4(p, pkt, link, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, m.mtu, false);
  return false;
}

/**
 * xfrm4_tunnel_check_size() / xfrm6_tunnel_check_size() for a locally
 * generated packet about to enter a tunnel or BEET SA: over the bundle's MTU
 * (with DF, for IPv4) the sending socket gets EMSGSIZE (xfrm_local_error)
 * and nothing is sent. Forwarded packets were checked by ip_forward() with
 * the same MTU (IPSKB_XFRM_TUNNEL_SIZE spares them the second check).
 */
export function xfrmLocalMtuOk(p: HostPath, pkt: Packet, bundle: readonly XfrmSA[]): boolean {
  const first = bundle[0];
  if (!first || first.mode === XFRM_MODE_TRANSPORT || first.mode === XFRM_MODE_IPTFS) return true;
  const m = bundleMtu(p, pkt, bundle);
  if (!m) return true;
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  const mtu = v6 ? Math.max(m.mtu, IPV6_MIN_MTU) : m.mtu;
  if (pkt.length <= mtu || (!v6 && !(be16(b, h + 6) & IP_DF))) return true;
  return p.drop('PKT_TOO_BIG', `${pkt.length} bytes${v6 ? '' : ' with DF'} over ${overhead(bundle, { ...m, mtu })}: ` +
    'the sending socket gets EMSGSIZE (xfrm_local_error)');
}
