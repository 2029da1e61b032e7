/**
 * The pseudo-header an upper-layer checksum uses, found by walking the layers
 * below as scapy does (in4_pseudoheader, in6_pseudoheader).
 */
import type { PseudoHeader } from '../build/fields.js';
import { ipv4Pseudo } from '../build/ipv4.js';
import { ipv6Pseudo } from '../build/ipv6.js';
import { addr, DEFAULT_IP6 } from './addresses.js';
import { get, isA, list, numOrNull, subs, type LayerInst } from './model.js';
import { ipv4Repr } from './layers-ip.js';

/** TCP/UDP/UDP-Lite/DCCP: an IPv4 layer directly below, or IPv6/extension headers; otherwise no checksum. */
export function transportPseudo(l: LayerInst): PseudoHeader | null {
  const u = l.under;
  if (u && isA(u, 'IP')) return ip4PseudoOf(u);
  if (u && (isA(u, 'IPv6') || isA(u, '_IPv6ExtHdr'))) return ip6PseudoFrom(u);
  return null;
}

function ip4PseudoOf(u: LayerInst): PseudoHeader {
  // RFC 791 source routing: the checksum uses the final destination, when
  // there is exactly one LSRR/SSRR option with addresses.
  const sr = subs(u, 'options').filter((o) => o.def.name === 'IPOption_LSRR' || o.def.name === 'IPOption_SSRR');
  const routers = sr.length === 1 ? list(sr[0]!, 'routers') : [];
  return ipv4Pseudo(ipv4Repr(u), routers.length ? routers[routers.length - 1] : undefined);
}

/**
 * RFC 8200 §8.1: walk down to the IPv6 header; a routing header with segments
 * left gives the final destination (type 0: last address; segment routing:
 * Segment List[0]); a destination options header holding only a home address
 * option gives the source (RFC 6275 §6.3).
 */
export function ip6PseudoFrom(start: LayerInst | null): PseudoHeader | null {
  let u = start;
  let finalDst: string | null = null;
  let home: string | null = null;
  while (u && !isA(u, 'IPv6')) {
    if (finalDst === null && (u.def.name === 'IPv6ExtHdrRouting' || u.def.name === 'IPv6ExtHdrSegmentRouting')) {
      const a = list(u, 'addresses');
      const segleft = numOrNull(u, 'segleft');
      // An unset segleft is None in scapy, which is "!= 0".
      if (segleft !== 0 && a.length) finalDst = u.def.name === 'IPv6ExtHdrRouting' ? a[a.length - 1]! : a[0]!;
    } else if (u.def.name === 'IPv6ExtHdrDestOpt') {
      const o = subs(u, 'options');
      if (o.length === 1 && o[0]!.def.name === 'HAO') home = get(o[0]!, 'hoa') as string;
    }
    u = u.under;
  }
  if (!u) return null;
  return ipv6Pseudo(home ?? addr(u, 'src', DEFAULT_IP6), finalDst ?? addr(u, 'dst', DEFAULT_IP6));
}
