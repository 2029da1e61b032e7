/**
 * The output half of the walk: ip_local_out() for packets the host makes
 * (routing, OUTPUT, re-routing, POSTROUTING, or back in through `lo`), and
 * for every packet that leaves: ip_output → POSTROUTING → ip_finish_output
 * (fragmentation) → ip_finish_output2 (neighbour) → dev_queue_xmit (netdev
 * egress) → the wire.
 */
import { copyBytes, Packet } from '../../packet/packet.js';
import type { Host, Link, Neigh } from '../types.js';
import { route } from '../fib.js';
import type { RouteResult } from '../fib.js';
import { deriveMac } from '../links.js';
import { equalAddr, formatAddr, formatMac } from '../inet.js';
import { conntrackAttach, conntrackRelease } from '../../netfilter/conntrack/index.js';
import { be16 } from './build.js';
import { IP_DF, isLbcast4, isMulticast4, isMulticast6, setIpv4Headers, setIpv6Headers } from './headers.js';
import { addrs, describeL3, describeRoute } from './describe.js';
import { fragmentIpv4 } from './fragment.js';
import { hasBundle, xfrmOutput, xfrmRouteOutput } from './xfrm-output.js';
import { linkReceive } from './receive.js';
import type { HostPath } from './walk.js';
import { bridgeXmit } from './bridge.js';
import { xfrmiXmit } from './xfrmi.js';
import { takeIcmpRoute } from './xfrm-icmp.js';
import { setBundle } from './xfrm-flow.js';

/** NFPROTO_* */
const PF_INET = 2, PF_NETDEV = 5, PF_INET6 = 10;
/** NF_INET_* */
const OUT = 3, POST = 4;

/**
 * A locally generated packet: OUTPUT → routing → POSTROUTING. `cause` is the packet it
 * answers (a reject's reset or ICMP error): its conntrack entry is attached to the reply
 * (nf_ct_attach), so NAT translates the reply and the packet it quotes back.
 */
export function localOut(p: HostPath, l3: Uint8Array, why: string, cause?: Packet): void {
  p.depth++;
  let own: Packet | undefined;
  try {
    const pkt = Packet.from(l3);
    if (cause && p.ct) conntrackAttach(p.ct, pkt, cause);
    // A reply attached to its cause's entry leaves that entry to the cause; an entry made for it is its own.
    if (pkt.meta.ctSlot < 0) own = pkt;
    p.stamp(pkt);
    const v = l3[0]! >> 4;
    if (v === 4) setIpv4Headers(pkt); else if (v === 6) setIpv6Headers(pkt);
    else { p.drop('UNHANDLED_PROTO', 'not an IP packet'); return; }
    const family: 4 | 6 = v === 4 ? 4 : 6;
    const pf = family === 4 ? PF_INET : PF_INET6;
    const { src, dst } = addrs(pkt, family);
    if (p.detail && p.depth > 0) p.step('generate', `${why}: ${describeL3(pkt, family)}`);
    let rt = route(p.host, { family, daddr: dst, saddr: src, mark: pkt.meta.mark });
    if (p.detail) p.step('route', `route lookup for ${formatAddr(dst)}: ${describeRoute(p.host, rt)}`);
    if (rt.errno !== undefined || (rt.type !== 'unicast' && rt.type !== 'local' && rt.type !== 'broadcast' && rt.type !== 'multicast')) {
      p.drop('IP_OUTNOROUTES', `no route to ${formatAddr(dst)} (${rt.errno ?? rt.type})`);
      return;
    }
    const lo = p.host.links.find((l) => l.kind === 'loopback');
    pkt.meta.oif = rt.type === 'local' ? lo?.index ?? 0 : rt.dev?.index ?? 0;
    // ip_route_output_flow() → xfrm_lookup_route(): the SPD decides before OUTPUT.
    const x = p.xfrm;
    // An ICMP error's route was already chosen by icmp_route_lookup (xfrm-icmp.ts).
    const pre = x ? takeIcmpRoute(l3) : undefined;
    if (pre && rt.type !== 'local') {
      if (pre.bundle) setBundle(pkt, pre.bundle);
      if (p.detail) p.step('route', `xfrm lookup (out) by icmp_route_lookup: ${pre.text}${pre.bundle ? `, ${pre.bundle.length} SA${pre.bundle.length > 1 ? 's' : ''}` : ', in clear'}`);
    } else if (x && rt.type !== 'local' && !xfrmRouteOutput(p, x, pkt, 'output')) return;
    if (!p.runHook(pkt, pf, OUT)) return;
    // ip_route_me_harder(): a rule that changed the destination or mark re-routes the packet.
    const after = addrs(pkt, family);
    if (!equalAddr(after.dst, dst)) {
      rt = route(p.host, { family, daddr: after.dst, saddr: after.src, mark: pkt.meta.mark });
      if (p.detail) p.step('route', `re-routed after OUTPUT: ${describeRoute(p.host, rt)}`);
      if (rt.errno !== undefined) { p.drop('IP_OUTNOROUTES', `no route to ${formatAddr(after.dst)}`); return; }
      pkt.meta.oif = rt.type === 'local' ? lo?.index ?? 0 : rt.dev?.index ?? 0;
    }
    if (rt.type === 'local' && lo) {
      if (!p.runHook(pkt, pf, POST)) return;
      p.step('transmit', 'looped back through lo');
      const copy = Packet.from(pkt.data);
      copy.meta.iif = lo.index;
      copy.meta.mark = pkt.meta.mark;
      // The looped packet keeps its route (skb_dst): ip_rcv_finish() does no input lookup for it.
      p.markLooped(copy);
      p.stamp(copy);
      linkReceive(p, copy, lo, true);
      if (p.ct) conntrackRelease(p.ct, copy);
      return;
    }
    postAndTransmit(p, pkt, pf, rt);
  } finally {
    // The packet's walk is over: an entry it holds unconfirmed dies with it (nf_conntrack_put).
    if (own && p.ct) conntrackRelease(p.ct, own);
    p.depth--;
  }
}

/** ip_output → POSTROUTING → ip_finish_output2 (neighbour) → dev_queue_xmit (egress). */
export function postAndTransmit(p: HostPath, pkt: Packet, pf: number, rt: RouteResult): boolean {
  if (!p.runHook(pkt, pf, POST)) return false;
  // xfrm4_output(): after the inner packet's POSTROUTING the bundle transforms it.
  const x = p.xfrm;
  if (x && hasBundle(pkt)) return xfrmOutput(p, x, pkt);
  const dev = rt.dev;
  if (!dev) return p.drop('IP_OUTNOROUTES', 'route without an output device');
  let mtu = rt.mtu || dev.mtu;
  // ip_finish_output(): over the MTU, or reassembled by conntrack's defrag, the packet goes through
  // ip_fragment(), which uses the largest incoming fragment's size when that is smaller.
  const fms = p.fragMaxOf(pkt);
  if (fms > 0 && fms < mtu) mtu = fms;
  if (pf === PF_INET && (pkt.length > mtu) && dev.kind !== 'loopback') {
    if (fms > 0) return fragmentReassembled(p, pkt, dev, rt, mtu);
    return fragment4(p, pkt, dev, rt, mtu);
  }
  return xmit(p, pkt, dev, rt);
}

/** A datagram conntrack reassembled leaves as fragments again, DF or not (skb->ignore_df). */
function fragmentReassembled(p: HostPath, pkt: Packet, dev: Link, rt: RouteResult, mtu: number): boolean {
  if (p.detail) p.step('transmit', `reassembled ${pkt.length} bytes leave as fragments of at most ${mtu} (frag_max_size)`);
  let ok = true;
  for (const f of fragmentIpv4(pkt.data, mtu)) {
    const fp = Packet.from(f);
    fp.meta = { ...pkt.meta };
    setIpv4Headers(fp);
    ok = xmit(p, fp, dev, rt) && ok;
  }
  return ok;
}

/** ip_fragment(): a DF packet over the MTU cannot go; others leave as fragments (fragment.ts). */
function fragment4(p: HostPath, pkt: Packet, dev: Link, rt: RouteResult, mtu: number): boolean {
  if (be16(pkt.buffer, pkt.head + 6) & IP_DF) {
    // A locally generated DF packet over the MTU: the sender gets EMSGSIZE.
    return p.drop('PKT_TOO_BIG', `${pkt.length} bytes with DF over the MTU ${mtu} of ${dev.name}`);
  }
  if (p.detail) p.step('transmit', `${pkt.length} bytes over the MTU ${mtu} of ${dev.name}: fragmented (ip_fragment)`);
  let ok = true;
  for (const f of fragmentIpv4(pkt.data, mtu)) {
    const fp = Packet.from(f);
    fp.meta = { ...pkt.meta };
    setIpv4Headers(fp);
    ok = xmit(p, fp, dev, rt) && ok;
  }
  return ok;
}

/** Neighbour resolution, the Ethernet header, netdev egress, the wire. */
export function xmit(p: HostPath, pkt: Packet, dev: Link, rt: RouteResult | undefined): boolean {
  if (!dev.up) return p.drop('DEV_READY', `${dev.name} is down`);
  const family: 4 | 6 = pkt.protocol === 0x86dd ? 6 : 4;
  // An xfrm interface has no link layer (ARPHRD_NONE, IFF_NOARP): no neighbour, no header.
  if (dev.kind !== 'loopback' && dev.kind !== 'xfrm') {
    // The next hop: the route's gateway, else the destination itself, read in place.
    const gw = rt?.gateway;
    const mac = gw !== undefined ? resolve(p, dev, family, gw, 0, rt)
      : resolve(p, dev, family, pkt.buffer, pkt.networkHeader + (family === 4 ? 16 : 24), rt);
    if (!mac) return false;
    hardHeader(pkt, mac, 0, dev.mac, 0, family);
  }
  return devQueueXmit(p, pkt, dev);
}

/** dev_hard_header(): an Ethernet header in front of the packet, the MACs read at `dst[d..]` and `src[s..]`. */
export function hardHeader(pkt: Packet, dst: Uint8Array, d: number, src: Uint8Array, s: number, family: 4 | 6): void {
  pkt.push(14);
  const b = pkt.buffer, m = pkt.head;
  pkt.macHeader = m;
  // Byte copies: TypedArray.set() costs more than six stores.
  for (let i = 0; i < 6; i++) { b[m + i] = dst[d + i]!; b[m + 6 + i] = src[s + i]!; }
  b[m + 12] = family === 4 ? 0x08 : 0x86; b[m + 13] = family === 4 ? 0x00 : 0xdd;
  pkt.pull(14);
}

/**
 * neigh_hh_output(): a whole cached Ethernet header (destination, source, type) in front of
 * the packet, as a flowtable flow keeps it; fourteen stores, cheaper than set() for so few bytes.
 */
export function hhOutput(pkt: Packet, hh: Uint8Array): void {
  pkt.push(14);
  const b = pkt.buffer, m = pkt.head;
  for (let i = 0; i < 14; i++) b[m + i] = hh[i]!;
  pkt.macHeader = m;
  pkt.pull(14);
}

/** dev_queue_xmit(): the egress hook, then the device — a bridge's ports, an xfrm interface's SPD lookup, or the wire. */
export function devQueueXmit(p: HostPath, pkt: Packet, dev: Link): boolean {
  pkt.meta.oif = dev.index;
  if (!p.runHook(pkt, PF_NETDEV, 1)) return false;
  // br_dev_xmit(): a bridge sends through its ports (path/bridge.ts).
  if (dev.kind === 'bridge') return bridgeXmit(p, pkt, dev);
  // xfrmi_xmit(): the SPD lookup with the interface's if_id (path/xfrmi.ts).
  if (dev.kind === 'xfrm') return xfrmiXmit(p, pkt, dev);
  // The packet's walk ends here and its buffer is its own (Packet.from copied it in), so the
  // frame on the wire is a view of it; on lo the bytes are copied (the packet goes on to be received).
  const frame = dev.kind !== 'loopback' ? pkt.view(pkt.macHeader, pkt.tail) : copyBytes(pkt.data);
  p.emit(dev.name, frame, dev.kind !== 'loopback');
  if (p.detail) p.step('transmit', `sent on ${dev.name}: ${frame.length} bytes`);
  return true;
}

/**
 * The next hop's link-layer address: a neighbour entry, the broadcast or
 * multicast mapping, or — with no entry — the answer ARP/NDP would have given,
 * derived from the address, which the trace says.
 */
function resolve(p: HostPath, dev: Link, family: 4 | 6, nb: Uint8Array, no: number, rt: RouteResult | undefined): Uint8Array | undefined {
  if (family === 4 && (isLbcast4(nb, no) || rt?.type === 'broadcast')) return new Uint8Array([255, 255, 255, 255, 255, 255]);
  if (family === 4 && isMulticast4(nb, no)) return new Uint8Array([1, 0, 0x5e, nb[no + 1]! & 0x7f, nb[no + 2]!, nb[no + 3]!]);
  if (family === 6 && isMulticast6(nb, no)) return new Uint8Array([0x33, 0x33, nb[no + 12]!, nb[no + 13]!, nb[no + 14]!, nb[no + 15]!]);
  const mac = unicastNextHopMac(p.host, family, dev.index, nb, no);
  if (mac === undefined) { p.drop('NEIGH_FAILED', `neighbour ${nextHopText(family, nb, no)} on ${dev.name} is FAILED`); return undefined; }
  if (p.detail) {
    const ne = neighbour(p.host, family, dev.index, nb, no);
    p.step('neigh', ne?.lladdr ? `neighbour ${nextHopText(family, nb, no)} dev ${dev.name} lladdr ${formatMac(ne.lladdr)} ${ne.state}`
      : `no neighbour entry for ${nextHopText(family, nb, no)} on ${dev.name}: resolved as if ${family === 4 ? 'ARP' : 'NDP'} answered ${formatMac(mac)}`);
  }
  return mac;
}

/**
 * A unicast next hop's link-layer address: its neighbour entry's, or — with no entry — the
 * answer ARP/NDP would have given, derived from the address; undefined for a FAILED entry.
 * (resolve() above and the flowtable's cached header, flowtable.ts.)
 */
export function unicastNextHopMac(host: Host, family: 4 | 6, dev: number, nb: Uint8Array, no: number): Uint8Array | undefined {
  const ne = neighbour(host, family, dev, nb, no);
  if (ne && ne.state === 'FAILED') return undefined;
  return ne?.lladdr ?? deriveMac('neighbour', nextHopText(family, nb, no));
}

/** The next hop's address as text (a plain function: a closure here was made for every packet). */
function nextHopText(family: 4 | 6, nb: Uint8Array, no: number): string {
  return formatAddr(nb.subarray(no, no + (family === 4 ? 4 : 16)));
}

/**
 * The neighbour table's IPv4 entries hashed by (device, address), rebuilt when
 * the list changes (every change replaces the array or changes its length;
 * entries changed in place are read live). IPv6 entries are few here and are
 * searched in order. The first entry for a key wins, as a search in order does.
 */
interface NeighIndex { list: Neigh[]; length: number; v4: Map<number, Map<number, Neigh>> }
const neighIndexes = new WeakMap<Host, NeighIndex>();
/** The last host's index, at hand: every transmitted packet asks. */
let lastNeighHost: Host | undefined;
let lastNeighIndex: NeighIndex | undefined;

/** The neighbour entry for next hop `a[o..]` on `dev`, if any. */
function neighbour(host: Host, family: 4 | 6, dev: number, a: Uint8Array, o: number): Neigh | undefined {
  if (family === 6) {
    for (const x of host.neighs) if (x.family === 6 && x.dev === dev && x.dst.length === 16 && sameBytes(x.dst, a, o)) return x;
    return undefined;
  }
  let ix = host === lastNeighHost ? lastNeighIndex : neighIndexes.get(host);
  if (ix === undefined || ix.list !== host.neighs || ix.length !== host.neighs.length) {
    ix = { list: host.neighs, length: host.neighs.length, v4: new Map() };
    for (const ne of host.neighs) {
      if (ne.family !== 4 || ne.dst.length !== 4) continue;
      let m = ix.v4.get(ne.dev);
      if (m === undefined) { m = new Map(); ix.v4.set(ne.dev, m); }
      const k = ((ne.dst[0]! << 24) | (ne.dst[1]! << 16) | (ne.dst[2]! << 8) | ne.dst[3]!) | 0;
      if (!m.has(k)) m.set(k, ne);
    }
    neighIndexes.set(host, ix);
  }
  lastNeighHost = host; lastNeighIndex = ix;
  return ix.v4.get(dev)?.get((a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!);
}

function sameBytes(x: Uint8Array, a: Uint8Array, o: number): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== a[o + i]) return false;
  return true;
}
