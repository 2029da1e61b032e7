/**
 * The xfrm flow of a packet (struct flowi as xfrm_decode_session() fills it
 * from the headers: addresses, protocol, ports or ICMP type/code) and the
 * per-packet IPsec state the path carries beside the sk_buff: the SAs of its
 * secpath (skb->sp->xvec) and, on output, the bundle chosen for it (the
 * xfrm_dst that xfrm_lookup() attached as skb_dst).
 */
import type { Packet } from '../../packet/packet.js';
import type { Xfrm, XfrmFlow, XfrmSA } from '../../xfrm/index.js';
import { AF_INET, AF_INET6, formatAddress } from '../../xfrm/index.js';

/** skb->sp->xvec: the SAs that decapsulated the packet, outermost first. */
const secpaths = new WeakMap<Packet, XfrmSA[]>();
/** skb_dst(skb)->xfrm chain: the output bundle, innermost first. */
const bundles = new WeakMap<Packet, XfrmSA[]>();

/** XFRM_MODE_* → the mode names of a packet's secpath entries. */
const MODE_NAMES: Record<number, 'transport' | 'tunnel' | 'beet' | 'iptfs'> = { 0: 'transport', 1: 'tunnel', 4: 'beet', 5: 'iptfs' };

/** The secpath of a packet that has none (shared: secpathOf's result is read-only). */
const NO_SECPATH: readonly XfrmSA[] = Object.freeze([]);

/**
 * Whether any packet ever got a secpath or a bundle: until then (a host
 * that routes no IPsec traffic) the per-packet lookups skip the WeakMaps.
 */
let anySecpath = false;
let anyBundle = false;

export function secpathOf(pkt: Packet): readonly XfrmSA[] {
  return (anySecpath && secpaths.get(pkt)) || NO_SECPATH;
}
export function secpathPush(pkt: Packet, sa: XfrmSA): void {
  anySecpath = true;
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
  return anyBundle ? bundles.get(pkt) : undefined;
}
export function setBundle(pkt: Packet, b: XfrmSA[] | undefined): void {
  if (b) {
    anyBundle = true;
    bundles.set(pkt, b);
  } else if (anyBundle) bundles.delete(pkt);
}

/** A 16-byte xfrm_address_t from 4 or 16 address bytes. */
export function xaddr(bytes: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a.set(bytes.subarray(0, Math.min(16, bytes.length)));
  return a;
}

/** An all-zero flow with every field the decoder sets, so flows share one shape. */
function emptyFlow(): XfrmFlow {
  return { family: AF_INET, saddr: new Uint8Array(16), daddr: new Uint8Array(16), proto: 0, sport: 0, dport: 0, mark: 0, iif: 0, oif: 0, ifId: 0 };
}

/**
 * Flows lent out by borrowFlow(), one per nesting level: a packet's walk can
 * re-enter the path while its flow is still in use (an ESP packet's inner
 * packet is checked inside xfrm_input), so one shared scratch would be
 * overwritten. After the first packets no level allocates any more.
 */
const lent: XfrmFlow[] = [];
let lentDepth = 0;
/** Whether each lent flow last held IPv6 addresses (bytes 4..15 to clear before an IPv4 one). */
const lentWasV6: boolean[] = [];

/**
 * xfrm_decode_session() into a reused flow, for a lookup that keeps nothing
 * of it: the flow (and its address arrays) is only valid until the matching
 * releaseFlow(). Everything in xfrm that outlives a lookup — acquire events,
 * larval SAs' selectors, bundles — copies what it needs from the flow.
 * Pair every call with releaseFlow() in a `finally`.
 */
export function borrowFlow(pkt: Packet): XfrmFlow {
  let fl = lent[lentDepth];
  if (!fl) {
    lent[lentDepth] = fl = emptyFlow();
    lentWasV6[lentDepth] = false;
  }
  decodeSession(pkt, fl, lentWasV6[lentDepth]!);
  lentWasV6[lentDepth] = fl.family === AF_INET6;
  lentDepth++;
  return fl;
}

/** Gives back the flow of the innermost borrowFlow() still out. */
export function releaseFlow(): void {
  if (lentDepth > 0) lentDepth--;
}

/** xfrm_decode_session() into a flow of its own, which the caller may keep. */
export function flowOf(pkt: Packet): XfrmFlow {
  const fl = emptyFlow();
  decodeSession(pkt, fl, false);
  return fl;
}

/**
 * xfrm_decode_session() for the IP packet at `pkt.head`: ports for TCP, UDP,
 * SCTP, DCCP, UDP-Lite; ICMP type and code in sport/dport, as flowi's
 * fl4_icmp_type/code share the port fields; the SPI halves for ESP/AH.
 * Overwrites every field of `fl` (an IPv4 address's bytes 4..15 only when
 * `dirty`: they are zero unless the flow last held IPv6 addresses); copies
 * the addresses byte by byte, as subarray() views would cost more than the
 * whole lookup.
 */
function decodeSession(pkt: Packet, fl: XfrmFlow, dirty: boolean): void {
  const b = pkt.buffer, h = pkt.head;
  const v6 = b[h]! >> 4 === 6;
  const sa = fl.saddr, da = fl.daddr;
  const meta = pkt.meta;
  fl.family = v6 ? AF_INET6 : AF_INET;
  fl.proto = 0;
  fl.sport = 0;
  fl.dport = 0;
  fl.mark = meta.mark;
  fl.iif = meta.iif;
  fl.oif = meta.oif;
  // No xfrm interface unless the caller sets one (xfrmi_decode_session).
  fl.ifId = 0;
  let proto: number, off: number;
  if (v6) {
    for (let i = 0; i < 16; i++) { sa[i] = b[h + 8 + i]!; da[i] = b[h + 24 + i]!; }
    proto = b[h + 6]!;
    off = h + 40;
    for (let i = 0; i < 8 && isIpv6Ext(proto) && off + 8 <= pkt.tail; i++) {
      const next = b[off]!;
      if (proto === 44) {
        // A non-first fragment: no transport header to read (decode_session6 stops at it).
        if (((b[off + 2]! << 8) | b[off + 3]!) & 0xfff8) { fl.proto = 44; return; }
        off += 8;
      } else off += (b[off + 1]! + 1) * 8;
      proto = next;
    }
  } else {
    sa[0] = b[h + 12]!; sa[1] = b[h + 13]!; sa[2] = b[h + 14]!; sa[3] = b[h + 15]!;
    da[0] = b[h + 16]!; da[1] = b[h + 17]!; da[2] = b[h + 18]!; da[3] = b[h + 19]!;
    if (dirty) for (let i = 4; i < 16; i++) { sa[i] = 0; da[i] = 0; }
    proto = b[h + 9]!;
    off = h + (b[h]! & 0x0f) * 4;
    // A non-first fragment has no ports (decode_session4 looks only at the first).
    if (((b[h + 6]! << 8) | b[h + 7]!) & 0x1fff) { fl.proto = proto; return; }
  }
  fl.proto = proto;
  if (off + 4 > pkt.tail) return;
  if (proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136) {
    fl.sport = (b[off]! << 8) | b[off + 1]!;
    fl.dport = (b[off + 2]! << 8) | b[off + 3]!;
  } else if (proto === 1 || proto === 58) {
    fl.sport = b[off]!;
    fl.dport = b[off + 1]!;
  }
}

/** IPv6 extension headers xfrm's decode_session6 walks past: hop-by-hop, routing, fragment, destination options. */
function isIpv6Ext(proto: number): boolean {
  return proto === 0 || proto === 43 || proto === 44 || proto === 60;
}

/**
 * Whether no SPD policy of `dir` (nor of `dir2`, when given) can match the flow of the IP
 * packet at `pkt.head`, told from its addresses alone (Spd.mayMatch4: every selector compares
 * the family and both address prefixes first), so the flow need not be decoded. Exact: true
 * only when lookup() would find nothing. Never true for a packet that may be an ICMP error —
 * its quoted packet's flow may be looked up as well (xfrm_in_fwd_icmp, xfrm_out_fwd_icmp) —
 * nor for IPv6 when some policy is not IPv4. Socket policies and the default action are the
 * caller's to check.
 */
export function noPolicyMatches(x: Xfrm, pkt: Packet, dir: number, dir2 = -1): boolean {
  const b = pkt.buffer, h = pkt.head;
  if (h + 20 > pkt.tail) return false;
  const v = b[h]! >> 4;
  const spd = x.spd;
  if (v === 4) {
    // ICMP destination unreachable or time exceeded (icmp_err_packet), or too short to tell.
    if (b[h + 9] === 1) {
      const t = h + (b[h]! & 0x0f) * 4;
      if (t >= pkt.tail || b[t] === 3 || b[t] === 11) return false;
    }
    const s = (b[h + 12]! << 24) | (b[h + 13]! << 16) | (b[h + 14]! << 8) | b[h + 15]!;
    const d = (b[h + 16]! << 24) | (b[h + 17]! << 16) | (b[h + 18]! << 8) | b[h + 19]!;
    return !spd.mayMatch4(dir, s, d) && (dir2 < 0 || !spd.mayMatch4(dir2, s, d));
  }
  if (v !== 6 || h + 40 > pkt.tail) return false;
  // ICMPv6, or an extension header that may lead to it: an error's quoted packet may be IPv4.
  const nh = b[h + 6]!;
  if (nh === 58 || isIpv6Ext(nh)) return false;
  return !spd.mayMatchNonV4(dir) && (dir2 < 0 || !spd.mayMatchNonV4(dir2));
}
