/**
 * Linux bridges on the configuration side (net/bridge/br_if.c, br_stp_if.c,
 * br_netlink.c): a `bridge` link, its ports (`ip link set X master BR`), the
 * ports' STP states with STP off, the bridge's own MAC, and the attributes
 * `ip -d link show` prints. The packet path is in path/bridge.ts, the
 * forwarding database in bridge-fdb.ts.
 */
import type { Host, Link } from './types.js';
import { hasCarrier, linkByIndex } from './links.js';
import { extack, rtnetlink } from './errors.js';
import { fdbFlushPort } from './bridge-fdb.js';
import type { VlanGroup } from './bridge-vlan.js';
import { bridgeVlanGroup, defaultPvid, nextFdbSeq, portVlanInit, setDefaultPvid, vlanFiltering } from './bridge-vlan.js';

/** BR_STATE_* (include/uapi/linux/if_bridge.h). */
export const BR_STATE_DISABLED = 0;
export const BR_STATE_LISTENING = 1;
export const BR_STATE_LEARNING = 2;
export const BR_STATE_FORWARDING = 3;
export const BR_STATE_BLOCKING = 4;
/** br_port_state_names[] (net/bridge/br_stp.c), as iproute2 prints them. */
export const BR_STATE_NAMES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'] as const;

/** IFLA_BR_* that nfx keeps (the rest print at their kernel defaults). Times in centiseconds (USER_HZ), as netlink carries them. */
export interface BridgeAttrs {
  /** BR_DEFAULT_AGEING_TIME: 300 s. */
  ageingTime: number;
  forwardDelay: number;
  helloTime: number;
  maxAge: number;
  priority: number;
  /** addr_assign_type == NET_ADDR_SET: the user chose the MAC, so it no longer follows the ports (br_stp_recalculate_bridge_id). */
  macSet: boolean;
  /** Ports ever added: the port list order (br_add_if puts a new port at the head). */
  portSeq: number;
  /** BROPT_VLAN_ENABLED (`vlan_filtering 1`); absent = off. */
  vlanFiltering?: boolean;
  /** br->default_pvid (`vlan_default_pvid`, 0 = none); absent = 1. */
  defaultPvid?: number;
  /** The bridge device's own VLAN group (bridge-vlan.ts); absent = br_vlan_init()'s VLAN 1. */
  vlan?: VlanGroup;
  /** FDB entries ever made: their order in br->fdb_list (bridge-fdb.ts). */
  fdbSeq?: number;
  /** When the local FDB entry for the bridge's MAC in VID 0 was made. */
  localSeq?: number;
}

/** IFLA_BRPORT_* that nfx keeps. */
export interface BridgePortAttrs {
  /** BR_STATE_*. */
  state: number;
  /** port_no (find_portno(): the lowest free number from 1). */
  portNo: number;
  priority: number;
  cost: number;
  /** BR_HAIRPIN_MODE: frames may leave by the port they came in on. */
  hairpin: boolean;
  /** BR_LEARNING. */
  learning: boolean;
  /** BR_FLOOD (unknown unicast), BR_MCAST_FLOOD, BR_BCAST_FLOOD. */
  flood: boolean;
  mcastFlood: boolean;
  bcastFlood: boolean;
  /** Position in the port list: higher = added later = earlier in br->port_list. */
  seq: number;
  /** The port's VLAN group (bridge-vlan.ts); absent = the default PVID only. */
  vlan?: VlanGroup;
  /** When the local FDB entry for the port's MAC in VID 0 was made (br_add_if → br_fdb_add_local). */
  fdbSeq?: number;
}

export function newBridgeAttrs(): BridgeAttrs {
  return { ageingTime: 30000, forwardDelay: 1500, helloTime: 200, maxAge: 2000, priority: 32768, macSet: false, portSeq: 0 };
}

/** The bridge a link is a port of, when it is one. */
export function masterOf(host: Host, l: Link): Link | undefined {
  if (l.master === undefined) return undefined;
  const m = linkByIndex(host, l.master);
  return m && m.kind === 'bridge' ? m : undefined;
}

/**
 * br_changelink(): the attributes in the kernel's order — the times and
 * priority, then IFLA_BR_VLAN_FILTERING, then IFLA_BR_VLAN_DEFAULT_PVID
 * (__br_vlan_set_default_pvid, which rewrites the groups still on the old default).
 */
export function bridgeChangeLink(host: Host, br: Link, o: Partial<BridgeAttrs>): void {
  const a = br.bridge!;
  for (const k of ['ageingTime', 'forwardDelay', 'helloTime', 'maxAge', 'priority'] as const) if (o[k] !== undefined) a[k] = o[k];
  if (o.vlanFiltering !== undefined) a.vlanFiltering = o.vlanFiltering;
  if (o.defaultPvid !== undefined) setDefaultPvid(host, br, o.defaultPvid, bridgePorts(host, br));
}

/** The ports of `br` in br->port_list order (most recently added first, as br_flood walks them). */
export function bridgePorts(host: Host, br: Link): Link[] {
  const out: Link[] = [];
  for (const l of host.links) if (l.master === br.index && l.brport) out.push(l);
  return out.sort((a, b) => b.brport!.seq - a.brport!.seq);
}

/**
 * br_add_if(): the checks in the kernel's order, then the port joins with
 * learning and flooding on, hairpin off, priority 32 and the cost of a
 * 10 Gb/s link (br_port_cost(): veth reports 10000 Mb/s; links without a
 * speed get 100).
 */
export function bridgeAddPort(host: Host, br: Link, dev: Link): void {
  if (dev.master === br.index && dev.brport) return; // do_set_master(): already its master.
  if (br.kind !== 'bridge') throw rtnetlink('EOPNOTSUPP');
  if (dev.kind === 'loopback') throw rtnetlink('EINVAL');
  if (dev.kind === 'bridge') throw extack('Can not enslave a bridge to a bridge.');
  if (dev.master !== undefined) bridgeDelPort(host, dev);
  const used = new Set(bridgePorts(host, br).map((p) => p.brport!.portNo));
  let portNo = 1;
  while (used.has(portNo)) portNo++;
  const attrs = br.bridge!;
  dev.master = br.index;
  dev.brport = {
    state: BR_STATE_DISABLED, portNo, priority: 32, cost: dev.kind === 'veth' ? 2 : 100,
    hairpin: false, learning: true, flood: true, mcastFlood: true, bcastFlood: true, seq: ++attrs.portSeq,
    fdbSeq: nextFdbSeq(br),
  };
  // nbp_vlan_init(): the default PVID, untagged, with its local FDB entry.
  portVlanInit(br, dev);
  recalcBridgeId(host, br);
  bridgeSync(host);
}

/** br_del_if(): the port leaves, its learnt FDB entries go, the bridge id is recalculated. */
export function bridgeDelPort(host: Host, dev: Link): void {
  const br = masterOf(host, dev);
  delete dev.master;
  delete dev.brport;
  if (br) {
    fdbFlushPort(host, br.index, dev.index);
    recalcBridgeId(host, br);
    bridgeSync(host);
  }
}

/**
 * br_stp_recalculate_bridge_id(): unless the user set it, the bridge's MAC is
 * the lowest of its ports' (all zeros when it has none left).
 */
export function recalcBridgeId(host: Host, br: Link): void {
  const attrs = br.bridge;
  if (!attrs || attrs.macSet) return;
  let best: Uint8Array | undefined;
  for (const p of bridgePorts(host, br)) if (!best || compareMac(p.mac, best) < 0) best = p.mac;
  const mac = best ? new Uint8Array(best) : new Uint8Array(6);
  if (compareMac(mac, br.mac) === 0) return;
  br.mac = mac;
  // br_fdb_change_mac_address(): the bridge's local entries are made anew, VID 0 first, then its VLANs in order.
  attrs.localSeq = nextFdbSeq(br);
  const g = bridgeVlanGroup(br);
  g.vlans = g.vlans.map((v) => ({ ...v, seq: nextFdbSeq(br) }));
}

function compareMac(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Port states after any link change, with STP off (br_port_carrier_check,
 * br_stp_enable_bridge/br_stp_disable_bridge): a port is disabled unless
 * both the bridge and the port are running with carrier; a port that becomes
 * usable goes straight to forwarding (br_make_forwarding with BR_NO_STP),
 * while one already usable keeps a state the user set; one that stops being
 * usable is disabled and forgets what it learnt (br_stp_disable_port). Also
 * drops ports of bridges that no longer exist (br_dev_delete).
 */
export function bridgeSync(host: Host): void {
  for (const l of host.links) {
    if (l.master === undefined) continue;
    const br = masterOf(host, l);
    if (!br || !l.brport) { delete l.master; delete l.brport; continue; }
    const usable = br.up && hasCarrier(host, l);
    if (!usable && l.brport.state !== BR_STATE_DISABLED) {
      // br_stp_disable_port(): the port's learnt entries go with it (static ones stay: do_all 0).
      l.brport.state = BR_STATE_DISABLED;
      fdbFlushPort(host, br.index, l.index, false);
    } else if (usable && l.brport.state === BR_STATE_DISABLED) l.brport.state = BR_STATE_FORWARDING;
  }
}

/**
 * br_dev_open() → br_stp_enable_bridge(): the ports that can forward do so
 * before NETDEV_UP reaches addrconf, so a bridge brought up over a forwarding
 * port comes up with carrier (and gets its link-local address at once).
 */
export function bridgeOpen(host: Host, br: Link): void {
  for (const l of host.links) {
    if (l.master === br.index && l.brport?.state === BR_STATE_DISABLED && hasCarrier(host, l)) l.brport.state = BR_STATE_FORWARDING;
  }
}

/**
 * br_set_port_state(): only while the bridge runs and the port is up (or to
 * disable it). br_port_state_selection() runs right after: with STP off every
 * port is designated, and br_make_forwarding() turns a blocking port into a
 * forwarding one at once — so `state 4` ends as forwarding; listening and
 * learning stay.
 */
export function setPortState(host: Host, dev: Link, state: number): void {
  const br = masterOf(host, dev);
  if (!br || !dev.brport) throw rtnetlink('EOPNOTSUPP');
  if (state > BR_STATE_BLOCKING) throw rtnetlink('EINVAL');
  if (!br.up || (!hasCarrier(host, dev) && state !== BR_STATE_DISABLED)) throw rtnetlink('ENETDOWN');
  dev.brport.state = state === BR_STATE_BLOCKING ? BR_STATE_FORWARDING : state;
}

/** The bridge id as iproute2 prints it: priority in hex, then the MAC without leading zeros (`8000.2:0:0:0:0:1`). */
export function bridgeId(br: Link): string {
  const prio = (br.bridge?.priority ?? 32768).toString(16).padStart(4, '0');
  return `${prio}.${[...br.mac].map((b) => b.toString(16)).join(':')}`;
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');
const timer = (): string => '   0.00';

/** `ip -d link show`: the linkinfo line of a bridge (print_linkinfo → bridge_print_opt, iproute2 ip/iplink_bridge.c). */
export function bridgeDetails(br: Link): string {
  const a = br.bridge!;
  const id = bridgeId(br);
  return `bridge forward_delay ${a.forwardDelay} hello_time ${a.helloTime} max_age ${a.maxAge} ageing_time ${a.ageingTime} stp_state 0 ` +
    `priority ${a.priority} vlan_filtering ${vlanFiltering(br) ? 1 : 0} vlan_protocol 802.1Q bridge_id ${id} designated_root ${id} root_port 0 root_path_cost 0 topology_change 0 ` +
    `topology_change_detected 0 hello_timer ${timer()} tcn_timer ${timer()} topology_change_timer ${timer()} gc_timer ${timer()} ` +
    `vlan_default_pvid ${defaultPvid(br)} vlan_stats_enabled 0 vlan_stats_per_port 0 ` +
    'group_fwd_mask 0 group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 ' +
    'mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 mcast_last_member_count 2 ' +
    'mcast_startup_query_count 2 mcast_last_member_interval 100 mcast_membership_interval 26000 mcast_querier_interval 25500 ' +
    'mcast_query_interval 12500 mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 ' +
    'mcast_igmp_version 2 mcast_mld_version 1 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 ';
}

/** `ip -d link show`: a port's slave info line (iproute2 ip/iplink_bridge_slave.c). */
export function bridgePortDetails(host: Host, dev: Link): string {
  const p = dev.brport!;
  const br = masterOf(host, dev)!;
  const id = bridgeId(br);
  const portId = 0x8000 | p.portNo;
  return `bridge_slave state ${BR_STATE_NAMES[p.state] ?? p.state} priority ${p.priority} cost ${p.cost} hairpin ${onOff(p.hairpin)} ` +
    `guard off root_block off fastleave off learning ${onOff(p.learning)} flood ${onOff(p.flood)} port_id 0x${portId.toString(16)} ` +
    `port_no 0x${p.portNo.toString(16)} designated_port ${portId} designated_cost 0 designated_bridge ${id} designated_root ${id} ` +
    `hold_timer ${timer()} message_age_timer ${timer()} forward_delay_timer ${timer()} topology_change_ack 0 config_pending 0 ` +
    `proxy_arp off proxy_arp_wifi off mcast_router 1 mcast_fast_leave off mcast_flood ${onOff(p.mcastFlood)} ` +
    `bcast_flood ${onOff(p.bcastFlood)} mcast_to_unicast off neigh_suppress off group_fwd_mask 0 group_fwd_mask_str 0x0 ` +
    'vlan_tunnel off isolated off locked off ';
}

/** The JSON `info_data` of a bridge (`ip -j -d link show`). */
export function bridgeDetailsJson(br: Link): Record<string, unknown> {
  const a = br.bridge!;
  const id = bridgeId(br);
  return {
    forward_delay: a.forwardDelay, hello_time: a.helloTime, max_age: a.maxAge, ageing_time: a.ageingTime, stp_state: 0,
    priority: a.priority, vlan_filtering: vlanFiltering(br) ? 1 : 0, vlan_protocol: '802.1Q', bridge_id: id, root_id: id, root_port: 0,
    root_path_cost: 0, topology_change: 0, topology_change_detected: 0, hello_timer: 0, tcn_timer: 0, topology_change_timer: 0,
    gc_timer: 0, vlan_default_pvid: defaultPvid(br), vlan_stats_enabled: 0, vlan_stats_per_port: 0, group_fwd_mask: '0',
    group_addr: '01:80:c2:00:00:00', mcast_snooping: 1, no_linklocal_learn: 0, mcast_vlan_snooping: 0, mcast_router: 1,
    mcast_query_use_ifaddr: 0, mcast_querier: 0, mcast_hash_elasticity: 16, mcast_hash_max: 4096, mcast_last_member_cnt: 2,
    mcast_startup_query_cnt: 2, mcast_last_member_intvl: 100, mcast_membership_intvl: 26000, mcast_querier_intvl: 25500,
    mcast_query_intvl: 12500, mcast_query_response_intvl: 1000, mcast_startup_query_intvl: 3124, mcast_stats_enabled: 0,
    mcast_igmp_version: 2, mcast_mld_version: 1, nf_call_iptables: 0, nf_call_ip6tables: 0, nf_call_arptables: 0,
  };
}

/** The JSON `info_slave_data` of a port. */
export function bridgePortDetailsJson(host: Host, dev: Link): Record<string, unknown> {
  const p = dev.brport!;
  const id = bridgeId(masterOf(host, dev)!);
  const portId = 0x8000 | p.portNo;
  return {
    state: BR_STATE_NAMES[p.state] ?? p.state, priority: p.priority, cost: p.cost, hairpin: p.hairpin, guard: false,
    root_block: false, fastleave: false, learning: p.learning, flood: p.flood, id: `0x${portId.toString(16)}`,
    no: `0x${p.portNo.toString(16)}`, designated_port: portId, designated_cost: 0, bridge_id: id, root_id: id, hold_timer: 0,
    message_age_timer: 0, forward_delay_timer: 0, topology_change_ack: 0, config_pending: 0, proxy_arp: false,
    proxy_arp_wifi: false, multicast_router: 1, mcast_flood: p.mcastFlood, bcast_flood: p.bcastFlood, mcast_to_unicast: false,
    neigh_suppress: false, group_fwd_mask: '0', group_fwd_mask_str: '0x0', vlan_tunnel: false, isolated: false, locked: false,
  };
}
