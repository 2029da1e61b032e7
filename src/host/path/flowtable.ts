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
import type { Host, Link } from '../types.js';
import type { RouteResult } from '../fib.js';
import { route } from '../fib.js';
import { linkByIndex } from '../links.js';
import { formatAddr } from '../inet.js';
import { FlowTable, NF_FLOW_DNAT, NF_FLOW_SNAT, FLOW_OFFLOAD_DIR_ORIGINAL } from '../../netfilter/flowtable.js';
import type { FlowTuple } from '../../netfilter/flowtable.js';
import { manipPacket } from '../../netfilter/nat/manip.js';
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
import { devQueueXmit, hardHeader, unicastNextHopMac, xmit } from './output.js';
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
  /** The other direction's tuple inverted: what NAT makes this direction's packets look like. */
  nat: Tuple;
  /**
   * FLOW_OFFLOAD_XMIT_DIRECT: the Ethernet header (destination, source) resolved at
   * offload time, as nft_dev_forward_path() fills it when the neighbour is valid and the
   * device is one of the flowtable's; undefined for FLOW_OFFLOAD_XMIT_NEIGH (neighbour
   * output per packet).
   */
  hh: Uint8Array | undefined;
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
  x[dir] = { rt: here, dev: here.dev!, stamp, nat: inverted(c, 1 - dir), hh: cachedHardHeader(p, here, c.tuple[1 - dir]!.src, alen, devices) };
  x[1 - dir] = { rt: back, dev: back.dev!, stamp, nat: inverted(c, dir), hh: cachedHardHeader(p, back, c.tuple[dir]!.src, alen, devices) };
  // nft_default_forward_path(): a direction arrives on the device the other one leaves by.
  const iif: [number, number] = [x[1]!.dev.index, x[0]!.dev.index];
  const mtu: [number, number] = [x[0]!.rt.mtu || x[0]!.dev.mtu, x[1]!.rt.mtu || x[1]!.dev.mtu];
  let flags = 0;
  if (c.status & IPS_SRC_NAT) flags |= NF_FLOW_SNAT;
  if (c.status & IPS_DST_NAT) flags |= NF_FLOW_DNAT;
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
  const hh = new Uint8Array(12);
  hh.set(mac, 0);
  hh.set(dev.mac, 6);
  return hh;
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
  // A VLAN-tagged frame's tuple carries its tag (nf_flow_tuple_encap), and nfx's flows have none.
  if (hasTag(pkt)) return false;
  for (let i = 0; i < hooked.length; i++) {
    const ft = hooked[i]!.ft;
    ft.gc();
    const t = pkt.protocol === 0x0800 ? tuple4(ft, pkt, link) : pkt.protocol === 0x86dd ? tuple6(ft, pkt, link) : undefined;
    if (t === undefined) continue;
    return fastPath(p, ft, t, pkt);
  }
  return false;
}

/** nf_flow_tuple_ip(): a packet the fast path can take, and its flow. */
function tuple4(ft: PathFlowTable, pkt: Packet, link: Link): FlowTuple<FlowXmit> | undefined {
  const b = pkt.buffer, n = pkt.head;
  if (pkt.length < 20) return undefined;
  // Options, fragments and TTL ≤ 1 are the slow path's business.
  if (b[n] !== 0x45 || ((b[n + 6]! & 0x3f) | b[n + 7]!) !== 0) return undefined;
  const proto = b[n + 9]!;
  const hdr = proto === IPPROTO_TCP ? 20 : proto === IPPROTO_UDP ? 8 : 0;
  if (hdr === 0 || b[n + 8]! <= 1 || pkt.length < 20 + hdr) return undefined;
  const th = n + 20;
  return ft.lookup(PF_INET, proto, link.index, (b[th]! << 8) | b[th + 1]!, (b[th + 2]! << 8) | b[th + 3]!, b, n + 12, n + 16);
}

/** nf_flow_tuple_ipv6(): TCP or UDP straight after the IPv6 header, hop limit above 1. */
function tuple6(ft: PathFlowTable, pkt: Packet, link: Link): FlowTuple<FlowXmit> | undefined {
  const b = pkt.buffer, n = pkt.head;
  if (pkt.length < 40) return undefined;
  const proto = b[n + 6]!;
  const hdr = proto === IPPROTO_TCP ? 20 : proto === IPPROTO_UDP ? 8 : 0;
  if (hdr === 0 || b[n + 7]! <= 1 || pkt.length < 40 + hdr) return undefined;
  const th = n + 40;
  return ft.lookup(PF_INET6, proto, link.index, (b[th]! << 8) | b[th + 1]!, (b[th + 2]! << 8) | b[th + 3]!, b, n + 8, n + 24);
}

/** The rest of nf_flow_offload_ip(v6)_hook once the flow is found. */
function fastPath(p: HostPath, ft: PathFlowTable, t: FlowTuple<FlowXmit>, pkt: Packet): boolean {
  const flow = t.flow, dir = t.dir;
  const b = pkt.buffer, n = pkt.head;
  const v4 = t.l3proto === PF_INET;
  const thoff = n + (v4 ? 20 : 40);
  // nf_flow_exceeds_mtu(): the slow path sends the ICMP error (or fragments).
  if (pkt.length > t.mtu) return false;
  // nf_flow_state_check(): a FIN or RST ends the offload; conntrack follows the close.
  if (t.l4proto === IPPROTO_TCP && (b[thoff + 13]! & (TCP_FIN | TCP_RST)) !== 0) {
    ft.teardown(flow);
    if (p.detail) p.step('flow', `flowtable ${ft.name}: TCP ${b[thoff + 13]! & TCP_RST ? 'RST' : 'FIN'}: flow torn down, back to the slow path`);
    return false;
  }
  // nf_flow_dst_check(): a route that changed since the offload (or a device gone down) ends it.
  const xm = t.xmit;
  if (!stampValid(xm.stamp, p.host) || !xm.dev.up || (!xm.rt.route?.mtu && xm.rt.mtu !== xm.dev.mtu)) {
    ft.teardown(flow);
    if (p.detail) p.step('flow', `flowtable ${ft.name}: the flow's route changed: torn down, back to the slow path`);
    return false;
  }
  ft.refresh(flow);
  pkt.transportHeader = thoff;
  pkt.l4proto = t.l4proto;
  // nf_flow_nat_ip(v6): SNAT, then DNAT, each the rewrite conntrack's NAT makes on the slow path
  // (nf_nat_manip_pkt: the same incremental checksum updates), towards the other direction's tuple.
  const end = pkt.tail, fam = t.l3proto;
  if (flow.flags & NF_FLOW_SNAT) manipPacket(b, n, end, fam, xm.nat, dir === 0 ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST);
  if (flow.flags & NF_FLOW_DNAT) manipPacket(b, n, end, fam, xm.nat, dir === 0 ? NF_NAT_MANIP_DST : NF_NAT_MANIP_SRC);
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
    flow.ct.packets[dir]! += 1; flow.ct.bytes[dir]! += pkt.length;
  }
  if (p.detail) p.step('flow', `flowtable ${ft.name} (${ft.table}): fast path for the offloaded flow, ${dir === FLOW_OFFLOAD_DIR_ORIGINAL ? 'original' : 'reply'} direction: NAT, TTL decremented, out ${xm.dev.name} (no PREROUTING, FORWARD or POSTROUTING)`);
  pkt.meta.oif = xm.dev.index;
  const sent = xm.hh !== undefined ? queueXmit(p, pkt, xm.dev, xm.hh, v4)
    // FLOW_OFFLOAD_XMIT_NEIGH: neighbour output, then dev_queue_xmit (the egress hook) on the route's device.
    : xmit(p, pkt, xm.dev, xm.rt);
  if (sent) p.decideForwarded();
  return true;
}

/** nf_flow_queue_xmit(): the cached Ethernet header, then dev_queue_xmit() — the egress hook and the wire. */
function queueXmit(p: HostPath, pkt: Packet, dev: Link, hh: Uint8Array, v4: boolean): boolean {
  if (!dev.up) return p.drop('DEV_READY', `${dev.name} is down`);
  hardHeader(pkt, hh, 0, hh, 6, v4 ? 4 : 6);
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
        if (t.xmit.hh) d.hh = hex(t.xmit.hh);
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
        const dev = devs[i]!;
        const rt: RouteResult = { type: 'unicast', dev, table: 254, mtu: d.mtu };
        if (d.gateway) rt.gateway = unhex(d.gateway);
        return { rt, dev, stamp, nat: inverted(c, 1 - i), hh: d.hh ? unhex(d.hh) : undefined };
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
