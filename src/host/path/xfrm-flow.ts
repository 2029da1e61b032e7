/**
 * The xfrm flow of a packet (struct flowi as xfrm_decode_session() fills it
 * from the headers: addresses, protocol, ports or ICMP type/code) and the
 * per-packet IPsec state the path carries beside the sk_buff: the SAs of its
 * secpath (skb->sp->xvec) and, on output, the bundle chosen for it (the
 * xfrm_dst that xfrm_lookup() attached as skb_dst).
 */
import type { Packet } from '../../packet/packet.js';
import type { XfrmFlow, XfrmSA } from '../../xfrm/index.js';
import { AF_INET, AF_INET6, formatAddress } from '../../xfrm/index.js';

/** skb->sp->xvec: the SAs that decapsulated the packet, outermost first. */
const secpaths = new WeakMap<Packet, XfrmSA[]>();
/** skb_dst(skb)->xfrm chain: the output bundle, innermost first. */
const bundles = new WeakMap<Packet, XfrmSA[]>();

/** XFRM_MODE_* → the mode names of a packet's secpath entries. */
const MODE_NAMES: Record<number, 'transport' | 'tunnel' | 'beet' | 'iptfs'> = { 0: 'transport', 1: 'tunnel', 4: 'beet', 5: 'iptfs' };

export function secpathOf(pkt: Packet): readonly XfrmSA[] {
  return secpaths.get(pkt) ?? [];
}
export function secpathPush(pkt: Packet, sa: XfrmSA): void {
  let sp = secpaths.get(pkt);
  if (sp) sp.push(sa);
  else secpaths.set(pkt, (sp = [sa]));
  // skb->sp is one list: the packet's own metadata (what `meta secpath` reads) mirrors it,
  // whether the ESP engine already put its entry there or an IP-TFS inner packet is new.
  pkt.meta.secpath = sp.map((x) => ({
    spi: x.spi, reqid: x.reqid, saddr: formatAddress(x.family, x.saddr), daddr: formatAddress(x.family, x.daddr),
    family: x.family === AF_INET6 ? 10 : 2, mode: MODE_NAMES[x.mode] ?? 'tunnel',
  }));
}

export function bundleOf(pkt: Packet): XfrmSA[] | undefined {
  return bundles.get(pkt);
}
export function setBundle(pkt: Packet, b: XfrmSA[] | undefined): void {
  if (b) bundles.set(pkt, b);
  else bundles.delete(pkt);
}

/** A 16-byte xfrm_address_t from 4 or 16 address bytes. */
export function xaddr(bytes: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a.set(bytes.subarray(0, Math.min(16, bytes.length)));
  return a;
}

/** IPv6 extension headers xfrm's decode_session6 walks past (hop-by-hop, routing, fragment, destination options). */
const IPV6_EXT = new Set([0, 43, 44, 60]);

/**
 * xfrm_decode_session() for the IP packet at `pkt.head`: ports for TCP, UDP,
 * SCTP, DCCP, UDP-Lite; ICMP type and code in sport/dport, as flowi's
 * fl4_icmp_type/code share the port fields; the SPI halves for ESP/AH.
 */
export function flowOf(pkt: Packet): XfrmFlow {
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  let proto: number, off: number;
  const fl: XfrmFlow = { family: v6 ? AF_INET6 : AF_INET, saddr: new Uint8Array(16), daddr: new Uint8Array(16), proto: 0, sport: 0, dport: 0, mark: pkt.meta.mark, iif: pkt.meta.iif, oif: pkt.meta.oif };
  if (v6) {
    fl.saddr.set(b.subarray(h + 8, h + 24));
    fl.daddr.set(b.subarray(h + 24, h + 40));
    proto = b[h + 6]!;
    off = h + 40;
    for (let i = 0; i < 8 && IPV6_EXT.has(proto) && off + 8 <= pkt.tail; i++) {
      const next = b[off]!;
      if (proto === 44) { if (((b[off + 2]! << 8) | b[off + 3]!) & 0xfff8) return { ...fl, proto: 44 }; off += 8; }
      else off += (b[off + 1]! + 1) * 8;
      proto = next;
    }
  } else {
    fl.saddr.set(b.subarray(h + 12, h + 16));
    fl.daddr.set(b.subarray(h + 16, h + 20));
    proto = b[h + 9]!;
    off = h + (b[h]! & 0x0f) * 4;
    // A non-first fragment has no ports (decode_session4 looks only at the first).
    if (((b[h + 6]! << 8) | b[h + 7]!) & 0x1fff) { fl.proto = proto; return fl; }
  }
  fl.proto = proto;
  if (off + 4 > pkt.tail) return fl;
  if (proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136) {
    fl.sport = (b[off]! << 8) | b[off + 1]!;
    fl.dport = (b[off + 2]! << 8) | b[off + 3]!;
  } else if (proto === 1 || proto === 58) {
    fl.sport = b[off]!;
    fl.dport = b[off + 1]!;
  }
  return fl;
}
