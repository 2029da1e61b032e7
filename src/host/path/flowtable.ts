/**
 * The flowtable fast path (net/netfilter/nf_flow_table_ip.c, nft_flow_offload.c).
 *
 * `flow add @ft` in a forward chain (nft_flow_offload_eval) offloads an
 * established TCP connection, or a confirmed UDP one (from its second packet),
 * to the flowtable: both directions' routes and next hops are resolved once and
 * kept with the flow. A flowtable hooks the ingress of its devices, among
 * their netdev ingress chains by priority (HostPath.ingressAround); a packet
 * of an offloaded flow that arrives there is NATed, has its TTL decremented
 * and leaves with the cached Ethernet header through the egress hook — past
 * PREROUTING, conntrack, routing, FORWARD and POSTROUTING.
 * Whatever the fast path cannot handle goes the slow way, as in the kernel:
 * IP options, fragments, TTL ≤ 1, packets over the flow's MTU (so the slow
 * path answers with ICMP), and TCP FIN/RST, which also tear the flow down and
 * give the connection back to conntrack.
 *
 * Flows live as long as traffic refreshes them (nf_flowtable_tcp_timeout,
 * nf_flowtable_udp_timeout, 30 s); the flow's gc runs once a second of the
 * host's clock, when packets reach a flowtable hook.
 */
import type { Packet } from '../../packet/packet.js';
import { copyBytes } from '../../packet/packet.js';
import type { Host, Link } from '../types.js';
import type { RouteResult } from '../fib.js';
import { route } from '../fib.js';
import { linkByIndex } from '../links.js';
import { formatAddr } from '../inet.js';
import { FlowTable, NF_FLOW_DNAT, NF_FLOW_SNAT, FLOW_OFFLOAD_DIR_ORIGINAL } from '../../netfilter/flowtable.js';
import type { FlowTuple } from '../../netfilter/flowtable.js';
import { applyManip, planManip } from '../../netfilter/nat/manip.js';
import type { ManipPlan } from '../../netfilter/nat/manip.js';
import {
  IP_CT_IS_REPLY, IPS_ASSURED, NF_NAT_MANIP_DST, NF_NAT_MANIP_SRC, IPS_CONFIRMED, IPS_DST_NAT, IPS_NAT_CLASH, IPS_OFFLOAD, IPS_SEQ_ADJUST, IPS_SRC_NAT, TCP_CONNTRACK_ESTABLISHED,
} from '../../netfilter/conntrack/types.js';
import type { Conn, Tuple } from '../../netfilter/conntrack/types.js';
import { newTuple } from '../../netfilter/conntrack/types.js';
import { invertTuple } from '../../netfilter/conntrack/tuple.js';
import { IP_CT_TCP_FLAG_BE_LIBERAL } from '../../netfilter/conntrack/proto-tcp.js';
import { connOf } from '../../netfilter/conntrack/index.js';
import type { ConntrackTable } from '../../netfilter/conntrack/index.js';
import { bundleOf } from './xfrm-flow.js';
import { devQueueXmit, hhOutput, unicastNextHopMac, xmit } from './output.js';
import { hasTag } from './bridge-vlan.js';
import type { HostPath } from './walk.js';
import type { Ruleset } from '../../netfilter/ruleset.js';

/** NFPROTO_* */
const PF_INET = 2, PF_INET6 = 10;
const IPPROTO_TCP = 6, IPPROTO_UDP = 17;
const TCP_FIN = 0x01, TCP_RST = 0x04;

/**
 * How a direction of a flow leaves (the tuple's dst_cache and device): the
 * route it was offloaded with, and the routing state it was valid in, so a
 * later change tears the flow down as dst_check() would.
 */
export interface FlowXmit {
  rt: RouteResult;
  dev: Link;
  /** The host's routing state when the route was looked up (compared by identity). */
  stamp: RouteStamp;
  /**
   * nf_flow_nat_ip(v6): the SNAT then DNAT rewrites of this direction's packets, towards the
   * other direction's tuple inverted (what conntrack's NAT makes them look like), each
   * worked out once for the flow's fixed old addresses and ports (planManip).
   */
  manip: ManipPlan[];
  /**
   * FLOW_OFFLOAD_XMIT_DIRECT: the Ethernet header (destination, source, type) resolved at
   * offload time, as nft_dev_forward_path() fills it when the neighbour is valid and the
   * device is one of the flowtable's; undefined for FLOW_OFFLOAD_XMIT_NEIGH (neighbour
   * output per packet).
   */
  hh: Uint8Array | undefined;
}

/** A direction's way out: its route, and its NAT rewrites for the connection's `flags` (NF_FLOW_SNAT/DNAT). */
function flowXmit(rt: RouteResult, stamp: RouteStamp, c: Conn, dir: number, flags: number, hh: Uint8Array | undefined): FlowXmit {
  const nat = inverted(c, 1 - dir), t = c.tuple[dir]!;
  const manip: ManipPlan[] = [];
  // The original direction's SNAT changes its source and DNAT its destination; the reply's the other way round.
  const side = (m: number): ManipPlan => m === NF_NAT_MANIP_SRC
    ? planManip(c.family, t.src, t.srcPort, nat.src, nat.srcPort, m) : planManip(c.family, t.dst, t.dstPort, nat.dst, nat.dstPort, m);
  if (flags & NF_FLOW_SNAT) manip.push(side(dir === 0 ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST));
  if (flags & NF_FLOW_DNAT) manip.push(side(dir === 0 ? NF_NAT_MANIP_DST : NF_NAT_MANIP_SRC));
  return { rt, dev: rt.dev!, stamp, manip, hh };
}

/** What a route answer depends on (route-cache.ts reads the same): any change makes the kernel's cached dst obsolete. */
interface RouteStamp { routes: unknown; routeCount: number; seq: number; rules: unknown; ruleCount: number; addrs: unknown; addrCount: number; links: unknown; linkCount: number }

function stampOf(h: Host): RouteStamp {
  return { routes: h.routes, routeCount: h.routes.length, seq: h.seq, rules: h.rules, ruleCount: h.rules.length, addrs: h.addrs, addrCount: h.addrs.length, links: h.links, linkCount: h.links.length };
}

function stampValid(s: RouteStamp, h: Host): boolean {
  return s.routes === h.routes && s.routeCount === h.routes.length && s.seq === h.seq && s.rules === h.rules && s.ruleCount === h.rules.length &&
    s.addrs === h.addrs && s.addrCount === h.addrs.length && s.links === h.links && s.linkCount === h.links.length;
}

export type PathFlowTable = FlowTable<FlowXmit>;

/** A flowtable hooked on a device, in priority order. */
export interface Hooked { ft: PathFlowTable; priority: number }

/**
 * The host's flowtables (one FlowTable per flowtable of the ruleset), and
 * which of them hook each device's ingress. Kept with the path: flows outlive
 * ruleset changes that keep their flowtable, and die with it.
 */
export class PathFlowtables {
  private readonly byName = new Map<string, PathFlowTable>();
  private byDev: Array<Hooked[] | undefined> = [];
  private ruleset: Ruleset | undefined;
  private generation = -1;
  /** True once the ruleset has a flowtable: the receive path asks nothing before. */
  any = false;
  /** Frames an offloaded flow forwarded before they became packets (flowtableFront; an nfx statistic). */
  early = 0;

  constructor(private readonly host: Host, readonly ct: ConntrackTable | undefined) {}

  /** The flowtable `name` of table (family, table), if the ruleset has it. */
  get(rs: Ruleset, family: number, table: string, name: string): PathFlowTable | undefined {
    this.sync(rs);
    return this.byName.get(key(family, table, name));
  }

  /** Every flowtable's flows (listing, saving). */
  all(rs: Ruleset): PathFlowTable[] {
    this.sync(rs);
    return [...this.byName.values()];
  }

  /** The flowtables on the ingress of `ifindex`, by priority. */
  onDevice(rs: Ruleset, ifindex: number): Hooked[] | undefined {
    this.sync(rs);
    return this.byDev[ifindex];
  }

  /** Follows the ruleset: new flowtables get a table of flows, deleted ones have theirs torn down. */
  private sync(rs: Ruleset): void {
    if (rs === this.ruleset && rs.generation === this.generation) return;
    this.ruleset = rs;
    this.generation = rs.generation;
    const seen = new Set<string>();
    const byDev: Array<Hooked[] | undefined> = [];
    for (const t of rs.tables.values()) {
      for (const f of t.flowtables.values()) {
        const k = key(t.family, t.name, f.name);
        seen.add(k);
        if (this.ct === undefined) continue;
        let ft = this.byName.get(k);
        if (ft === undefined) { ft = new FlowTable<FlowXmit>(t.family, t.name, f.name, this.ct, f.flags); this.byName.set(k, ft); }
        ft.flags = f.flags;
        // A dormant table's hooks are unregistered: its flowtable sees no packet.
        if ((t.flags & 1) !== 0) continue;
        for (const dev of f.devices) {
          const l = this.host.links.find((x) => x.name === dev);
          if (l === undefined) continue;
          (byDev[l.index] ??= []).push({ ft, priority: f.priority });
        }
      }
    }
    for (const [k, ft] of this.byName) if (!seen.has(k)) { ft.cleanup(); this.byName.delete(k); }
    for (const list of byDev) list?.sort((a, b) => a.priority - b.priority);
    this.byDev = byDev;
    this.any = this.byName.size > 0;
  }
}

function key(family: number, table: string, name: string): string {
  return `${family}\0${table}\0${name}`;
}

// ---------------------------------------------------------------------------
// nft_flow_offload_eval: `flow add @ft`

/**
 * Offloads the packet's connection to flowtable `name` of (family, table);
 * false when it does not qualify (the rule breaks, NFT_BREAK), which includes
 * a connection offloaded already.
 */
export function flowOffload(p: HostPath, pkt: Packet, pf: number, family: number, table: string, name: string): boolean {
  const ctTable = p.ct;
  if (ctTable === undefined) return false;
  // nft_flow_offload_skip(): decapsulated IPsec traffic, IPv4 options.
  if (pkt.meta.secpath !== null) return false;
  const b = pkt.buffer, n = pkt.networkHeader;
  if (pf === PF_INET && (b[n]! & 0x0f) !== 5) return false;
  const c = connOf(ctTable, pkt);
  if (c === undefined) return false;
  if (c.proto === IPPROTO_TCP) {
    if (pkt.l4proto !== IPPROTO_TCP || pkt.transportHeader + 14 > pkt.tail) return false;
    const flags = b[pkt.transportHeader + 13]!;
    // nf_conntrack_tcp_established(): the handshake is over and the connection assured.
    if ((flags & (TCP_FIN | TCP_RST)) !== 0 || c.tcp === null || c.tcp.state !== TCP_CONNTRACK_ESTABLISHED || (c.status & IPS_ASSURED) === 0) return false;
  } else if (c.proto !== IPPROTO_UDP) {
    return false;
  }
  if (c.helper !== '' || (c.status & (IPS_SEQ_ADJUST | IPS_NAT_CLASH)) !== 0) return false;
  if ((c.status & IPS_CONFIRMED) === 0 || (c.status & IPS_OFFLOAD) !== 0) return false;
  // The packet's own dst going through an IPsec bundle would be FLOW_OFFLOAD_XMIT_XFRM in the
  // kernel; nfx does not offload such flows (documented): their packets keep the slow path.
  if (bundleOf(pkt) !== undefined) return false;
  const ft = p.flowtables.get(p.ruleset, family, table, name);
  if (ft === undefined) return false;
  const dir = (pkt.meta.ctSlot & 7) >= IP_CT_IS_REPLY ? 1 : 0;
  const inLink = linkByIndex(p.host, pkt.meta.iif);
  if (inLink === undefined) return false;
  // nft_flow_route(): this direction's route is the packet's own; the other direction's is
  // looked up towards this direction's sender, out of the device the packet came in on.
  const alen = c.family === 2 ? 4 : 16;
  const here = thisRoute(p, pkt, pf, inLink);
  const back = route(p.host, { family: c.family === 2 ? 4 : 6, daddr: c.tuple[dir]!.src.slice(0, alen), saddr: c.tuple[1 - dir]!.src.slice(0, alen), oif: inLink.name, mark: pkt.meta.mark });
  if (!usable(here) || !usable(back)) return false;
  const stamp = stampOf(p.host);
  const x: [FlowXmit, FlowXmit] = [undefined!, undefined!];
  const devices = flowtableDevices(p, family, table, name);
  let flags = 0;
  if (c.status & IPS_SRC_NAT) flags |= NF_FLOW_SNAT;
  if (c.status & IPS_DST_NAT) flags |= NF_FLOW_DNAT;
  x[dir] = flowXmit(here, stamp, c, dir, flags, cachedHardHeader(p, here, c.tuple[1 - dir]!.src, alen, devices));
  x[1 - dir] = flowXmit(back, stamp, c, 1 - dir, flags, cachedHardHeader(p, back, c.tuple[dir]!.src, alen, devices));
  // nft_default_forward_path(): a direction arrives on the device the other one leaves by.
  const iif: [number, number] = [x[1]!.dev.index, x[0]!.dev.index];
  const mtu: [number, number] = [x[0]!.rt.mtu || x[0]!.dev.mtu, x[1]!.rt.mtu || x[1]!.dev.mtu];
  // Conntrack sees none of the offloaded packets: the window tracker must not judge what comes after.
  if (c.tcp !== null) { c.tcp.seen[0].flags |= IP_CT_TCP_FLAG_BE_LIBERAL; c.tcp.seen[1].flags |= IP_CT_TCP_FLAG_BE_LIBERAL; }
  if (ft.add(c, iif, mtu, x, flags) === undefined) {
    // err_flow_add: the old flow of this connection awaits the gc; the offload bit goes again.
    if (p.detail) p.step('flow', `flowtable ${ft.name}: not offloaded: the connection's torn-down flow is still in the table (until the gc runs)`);
    return false;
  }
  if (p.detail) p.step('flow', `flowtable ${ft.name}: connection offloaded (${describeFlowTuple(c.family, c.tuple[0]!.src, c.tuple[0]!.dst, c.tuple[0]!.srcPort, c.tuple[0]!.dstPort, c.proto)})`);
  return true;
}

/** The packet's input route (skb_dst at FORWARD), read again: routing ran on these same header fields. */
function thisRoute(p: HostPath, pkt: Packet, pf: number, inLink: Link): RouteResult {
  const b = pkt.buffer, n = pkt.networkHeader;
  if (pf === PF_INET) return p.routes4.lookup(b, n, false, inLink.name, pkt.meta.mark, b[n + 1]! & 0x1c);
  return route(p.host, { family: 6, daddr: b.slice(n + 24, n + 40), saddr: b.slice(n + 8, n + 24), iif: inLink.name, mark: pkt.meta.mark });
}

/** The flowtable's device names (nft_flowtable_find_dev). */
function flowtableDevices(p: HostPath, family: number, table: string, name: string): string[] {
  return p.ruleset.table(family, table)?.flowtables.get(name)?.devices ?? [];
}

/**
 * nft_dev_forward_path(): for an Ethernet device of the flowtable whose next hop's neighbour
 * is valid, the header to put in front (destination MAC, source MAC); the next hop is the
 * route's gateway, else the packet's final destination (rt_nexthop). A next hop with no entry
 * counts as resolved — the slow path answers it as ARP/NDP would have — and a FAILED one
 * leaves the flow to neighbour output.
 */
function cachedHardHeader(p: HostPath, rt: RouteResult, daddr: Uint8Array, alen: number, devices: string[]): Uint8Array | undefined {
  const dev = rt.dev!;
  if ((dev.kind !== 'ether' && dev.kind !== 'veth' && dev.kind !== 'dummy') || !devices.includes(dev.name)) return undefined;
  const mac = unicastNextHopMac(p.host, alen === 4 ? 4 : 6, dev.index, rt.gateway ?? daddr, 0);
  if (mac === undefined) return undefined;
  const macs = new Uint8Array(12);
  macs.set(mac, 0);
  macs.set(dev.mac, 6);
  return etherHeader(macs, alen === 4 ? PF_INET : PF_INET6);
}

/** The connection's tuple in direction `dir`, inverted (nf_ct_invert_tuple; TCP and UDP only here). */
function inverted(c: Conn, dir: number): Tuple {
  const t = newTuple();
  invertTuple(c.proto, c.tuple[dir]!, t);
  return t;
}

function usable(rt: RouteResult): boolean {
  return rt.errno === undefined && rt.type === 'unicast' && rt.dev !== undefined;
}

// ---------------------------------------------------------------------------
// nf_flow_offload_ip_hook / nf_flow_offload_ipv6_hook

/**
 * The flowtables `hooked` on `link`'s ingress: true when one took the packet
 * (sent it on, NF_STOLEN); false sends it on through the stack.
 */
export function flowtableIngress(p: HostPath, pkt: Packet, link: Link, hooked: Hooked[]): boolean {
  // flowtableFront already looked this frame up and found no flow: nothing has changed since.
  if (p.flowtableMissed) { p.flowtableMissed = false; return false; }
  // A VLAN-tagged frame's tuple carries its tag (nf_flow_tuple_encap), and nfx's flows have none.
  if (hasTag(pkt)) return false;
  const b = pkt.buffer, n = pkt.head, len = pkt.length;
  for (let i = 0; i < hooked.length; i++) {
    const ft = hooked[i]!.ft;
    ft.gc();
    const t = pkt.protocol === 0x0800 ? tuple4(ft, b, n, len, link.index) : pkt.protocol === 0x86dd ? tuple6(ft, b, n, len, link.index) : undefined;
    if (t === undefined) continue;
    if (!flowUsable(p, ft, t, b, n, len)) return false;
    const xm = t.xmit;
    pkt.transportHeader = n + (t.l3proto === PF_INET ? 20 : 40);
    pkt.l4proto = t.l4proto;
    flowRewrite(ft, t, b, n, len);
    if (p.detail) p.step('flow', `flowtable ${ft.name} (${ft.table}): fast path for the offloaded flow, ${t.dir === FLOW_OFFLOAD_DIR_ORIGINAL ? 'original' : 'reply'} direction: NAT, TTL decremented, out ${xm.dev.name} (no PREROUTING, FORWARD or POSTROUTING)`);
    pkt.meta.oif = xm.dev.index;
    const sent = xm.hh !== undefined ? queueXmit(p, pkt, xm.dev, xm.hh)
      // FLOW_OFFLOAD_XMIT_NEIGH: neighbour output, then dev_queue_xmit (the egress hook) on the route's device.
      : xmit(p, pkt, xm.dev, xm.rt);
    if (sent) p.decideForwarded();
    return true;
  }
  return false;
}

/**
 * The flowtable at the very front of `link`'s receive path, before the frame becomes a packet
 * (no Packet, no metadata, no copy with headroom): what Linux 6.10's bpf_xdp_flow_lookup() lets
 * an XDP program do. It applies where nothing but the flowtables can see the frame — no netdev
 * ingress chain before them, no egress chain after, a plain Ethernet frame — and then does
 * exactly what flowtableIngress() does (the same checks, rewrite and cached header), so the
 * outcome is the same; only the fast mode (no steps to record) takes it. An offloaded flow's
 * frame is copied once, into the frame that leaves. True when it took the frame; false leaves
 * everything to the normal receive path (nothing has been changed then, bar a flow torn down by
 * a FIN or RST, which that path's lookup then finds gone, as the kernel's would). When no flow
 * matched at all, `p.flowtableMissed` tells that path's flowtable hook not to look again.
 */
export function flowtableFront(p: HostPath, link: Link, frame: Uint8Array): boolean {
  const hooked = p.flowtables.onDevice(p.ruleset, link.index);
  if (hooked === undefined || !link.up || p.netdevHooked(0) || p.netdevHooked(1) || frame.length < 14) return false;
  const type = (frame[12]! << 8) | frame[13]!;
  if (type !== 0x0800 && type !== 0x86dd) return false;
  const n = 14, len = frame.length - 14;
  for (let i = 0; i < hooked.length; i++) {
    const ft = hooked[i]!.ft;
    ft.gc();
    const t = type === 0x0800 ? tuple4(ft, frame, n, len, link.index) : tuple6(ft, frame, n, len, link.index);
    if (t === undefined) continue;
    // FLOW_OFFLOAD_XMIT_NEIGH resolves the neighbour per packet: the normal path does that.
    const xm = t.xmit;
    if (xm.hh === undefined || !flowUsable(p, ft, t, frame, n, len)) return false;
    const out = copyBytes(frame);
    flowRewrite(ft, t, out, n, len);
    for (let k = 0; k < 14; k++) out[k] = xm.hh[k]!;
    p.emit(xm.dev.name, out, true);
    p.decideForwarded();
    p.flowtables.early++;
    return true;
  }
  p.flowtableMissed = true;
  return false;
}

/** nf_flow_tuple_ip(): the flow of the IPv4 packet at `b[n..n+len)`, if the fast path can take it. */
function tuple4(ft: PathFlowTable, b: Uint8Array, n: number, len: number, iif: number): FlowTuple<FlowXmit> | undefined {
  if (len < 20) return undefined;
  // Options, fragments and TTL ≤ 1 are the slow path's business.
  if (b[n] !== 0x45 || ((b[n + 6]! & 0x3f) | b[n + 7]!) !== 0) return undefined;
  const proto = b[n + 9]!;
  const hdr = proto === IPPROTO_TCP ? 20 : proto === IPPROTO_UDP ? 8 : 0;
  if (hdr === 0 || b[n + 8]! <= 1 || len < 20 + hdr) return undefined;
  const th = n + 20;
  return ft.lookup(PF_INET, proto, iif, (b[th]! << 8) | b[th + 1]!, (b[th + 2]! << 8) | b[th + 3]!, b, n + 12, n + 16);
}

/** nf_flow_tuple_ipv6(): TCP or UDP straight after the IPv6 header, hop limit above 1. */
function tuple6(ft: PathFlowTable, b: Uint8Array, n: number, len: number, iif: number): FlowTuple<FlowXmit> | undefined {
  if (len < 40) return undefined;
  const proto = b[n + 6]!;
  const hdr = proto === IPPROTO_TCP ? 20 : proto === IPPROTO_UDP ? 8 : 0;
  if (hdr === 0 || b[n + 7]! <= 1 || len < 40 + hdr) return undefined;
  const th = n + 40;
  return ft.lookup(PF_INET6, proto, iif, (b[th]! << 8) | b[th + 1]!, (b[th + 2]! << 8) | b[th + 3]!, b, n + 8, n + 24);
}

/**
 * nf_flow_offload_ip(v6)_hook once the flow is found, up to the rewrite: whether the packet
 * at `b[n..n+len)` may take the fast path. A FIN or RST, or a route that changed, tears the
 * flow down on the way.
 */
function flowUsable(p: HostPath, ft: PathFlowTable, t: FlowTuple<FlowXmit>, b: Uint8Array, n: number, len: number): boolean {
  const thoff = n + (t.l3proto === PF_INET ? 20 : 40);
  // nf_flow_exceeds_mtu(): the slow path sends the ICMP error (or fragments).
  if (len > t.mtu) return false;
  // nf_flow_state_check(): a FIN or RST ends the offload; conntrack follows the close.
  if (t.l4proto === IPPROTO_TCP && (b[thoff + 13]! & (TCP_FIN | TCP_RST)) !== 0) {
    ft.teardown(t.flow);
    if (p.detail) p.step('flow', `flowtable ${ft.name}: TCP ${b[thoff + 13]! & TCP_RST ? 'RST' : 'FIN'}: flow torn down, back to the slow path`);
    return false;
  }
  // nf_flow_dst_check(): a route that changed since the offload (or a device gone down) ends it.
  const xm = t.xmit;
  if (!stampValid(xm.stamp, p.host) || !xm.dev.up || (!xm.rt.route?.mtu && xm.rt.mtu !== xm.dev.mtu)) {
    ft.teardown(t.flow);
    if (p.detail) p.step('flow', `flowtable ${ft.name}: the flow's route changed: torn down, back to the slow path`);
    return false;
  }
  return true;
}

/** The fast path's work on the packet at `b[n..n+len)`: the flow refreshed, NAT, TTL, accounting. */
function flowRewrite(ft: PathFlowTable, t: FlowTuple<FlowXmit>, b: Uint8Array, n: number, len: number): void {
  const flow = t.flow, v4 = t.l3proto === PF_INET;
  ft.refresh(flow);
  // nf_flow_nat_ip(v6): SNAT, then DNAT, the same rewrites (and checksum updates) conntrack's NAT
  // makes on the slow path.
  const manip = t.xmit.manip, thoff = n + (v4 ? 20 : 40), udp = t.l4proto === IPPROTO_UDP;
  for (let i = 0; i < manip.length; i++) applyManip(b, n, thoff, udp, v4, manip[i]!);
  if (v4) {
    // ip_decrease_ttl(): RFC 1624 update of the header checksum.
    let check = ((b[n + 10]! << 8) | b[n + 11]!) + 0x0100;
    check = (check + (check >= 0xffff ? 1 : 0)) & 0xffff;
    b[n + 10] = check >> 8; b[n + 11] = check & 0xff;
    b[n + 8] = b[n + 8]! - 1;
  } else {
    b[n + 7] = b[n + 7]! - 1;
  }
  // NF_FLOWTABLE_COUNTER: the connection's accounting counts what the fast path forwards.
  if ((ft.flags & 0x2) !== 0 && ft.ct.sysctl('net.netfilter.nf_conntrack_acct') !== 0) {
    flow.ct.packets[t.dir]! += 1; flow.ct.bytes[t.dir]! += len;
  }
}

/** nf_flow_queue_xmit(): the cached Ethernet header, then dev_queue_xmit() — the egress hook and the wire. */
function queueXmit(p: HostPath, pkt: Packet, dev: Link, hh: Uint8Array): boolean {
  if (!dev.up) return p.drop('DEV_READY', `${dev.name} is down`);
  hhOutput(pkt, hh);
  return devQueueXmit(p, pkt, dev);
}

function describeFlowTuple(family: number, src: Uint8Array, dst: Uint8Array, sport: number, dport: number, proto: number): string {
  const alen = family === 2 ? 4 : 16;
  return `${proto === IPPROTO_TCP ? 'tcp' : 'udp'} ${formatAddr(src.subarray(0, alen))}:${sport} > ${formatAddr(dst.subarray(0, alen))}:${dport}`;
}

// ---------------------------------------------------------------------------
// Kept with the host between commands (state.ts), like the conntrack table the flows belong to.

interface FlowDirJson { iif: number; mtu: number; oif: number; gateway?: string; hh?: string }
export interface FlowtablesJson {
  /** The routing state the flows were made in: a route added or deleted since makes them obsolete (dst_check). */
  routes: { seq: number; count: number };
  tables: Array<{ family: number; table: string; name: string; flows: Array<{ ct: number; flags: number; timeoutAt: number; dirs: [FlowDirJson, FlowDirJson] }> }>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The saved destination and source MACs with the family's EtherType after them. */
function etherHeader(macs: Uint8Array, family: number): Uint8Array {
  const hh = new Uint8Array(14);
  hh.set(macs.subarray(0, 12), 0);
  hh[12] = family === 2 ? 0x08 : 0x86; hh[13] = family === 2 ? 0x00 : 0xdd;
  return hh;
}
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** The live flows of every flowtable, by connection id. */
export function serializeFlowtables(fts: PathFlowtables, rs: Ruleset, host: Host): FlowtablesJson {
  const out: FlowtablesJson = { routes: { seq: host.seq, count: host.routes.length }, tables: [] };
  for (const ft of fts.all(rs)) {
    const flows = [];
    for (const f of ft.flows) {
      if (f.flags & 4 /* NF_FLOW_TEARDOWN */) continue;
      const dir = (t: FlowTuple<FlowXmit>): FlowDirJson => {
        const d: FlowDirJson = { iif: t.iifidx, mtu: t.mtu, oif: t.xmit.dev.index };
        if (t.xmit.rt.gateway) d.gateway = hex(t.xmit.rt.gateway);
        if (t.xmit.hh) d.hh = hex(t.xmit.hh.subarray(0, 12));
        return d;
      };
      flows.push({ ct: f.ct.id, flags: f.flags, timeoutAt: f.timeoutAt, dirs: [dir(f.tuple[0]), dir(f.tuple[1])] as [FlowDirJson, FlowDirJson] });
    }
    if (flows.length > 0) out.tables.push({ family: ft.family, table: ft.table, name: ft.name, flows });
  }
  return out;
}

/**
 * Puts saved flows back on their connections. A flow whose connection, device or
 * flowtable is gone, or whose routes changed since, is torn down instead: the
 * connection goes back to conntrack (as the kernel's gc would have done).
 */
export function restoreFlowtables(fts: PathFlowtables, rs: Ruleset, host: Host, j: FlowtablesJson): void {
  const ct = fts.ct;
  if (ct === undefined) return;
  const byId = new Map<number, Conn>();
  for (const c of ct.slots) if (c !== null) byId.set(c.id, c);
  const routesSame = j.routes.seq === host.seq && j.routes.count === host.routes.length;
  for (const t of j.tables) {
    const ft = fts.get(rs, t.family, t.table, t.name);
    for (const f of t.flows) {
      const c = byId.get(f.ct);
      if (c === undefined) continue;
      const devs = f.dirs.map((d) => linkByIndex(host, d.oif));
      if (ft === undefined || !routesSame || devs.some((d) => d === undefined)) { c.status &= ~IPS_OFFLOAD; continue; }
      const stamp = stampOf(host);
      const x = f.dirs.map((d, i): FlowXmit => {
        const rt: RouteResult = { type: 'unicast', dev: devs[i]!, table: 254, mtu: d.mtu };
        if (d.gateway) rt.gateway = unhex(d.gateway);
        return flowXmit(rt, stamp, c, i, f.flags, d.hh ? etherHeader(unhex(d.hh), c.family) : undefined);
      }) as [FlowXmit, FlowXmit];
      c.status &= ~IPS_OFFLOAD;
      const flow = ft.add(c, [f.dirs[0].iif, f.dirs[1].iif], [f.dirs[0].mtu, f.dirs[1].mtu], x, f.flags);
      if (flow !== undefined) flow.timeoutAt = f.timeoutAt;
    }
  }
  // Connections marked offloaded whose flow was not saved (an older state file): back to conntrack.
  const offloaded = new Set<Conn>();
  for (const ft of fts.all(rs)) for (const f of ft.flows) offloaded.add(f.ct);
  for (const c of ct.slots) if (c !== null && (c.status & IPS_OFFLOAD) !== 0 && !offloaded.has(c)) c.status &= ~IPS_OFFLOAD;
}
