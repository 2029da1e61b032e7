/**
 * VLAN filtering on Linux bridges, the configuration side (net/bridge/br_vlan.c):
 * the VLAN groups of a bridge and of its ports, the PVID, the egress-untagged
 * flag, `vlan_filtering` and `vlan_default_pvid`, and the bitmaps the packet
 * path reads (path/bridge-vlan.ts).
 *
 * As in a kernel built with CONFIG_BRIDGE_VLAN_FILTERING (every distribution
 * kernel), the groups exist whether filtering is on or not: a new bridge holds
 * VLAN 1 (PVID, untagged; br_vlan_init) and every port gets the default PVID
 * when it joins (nbp_vlan_init). The bridge's group keeps only its "brentry"
 * VLANs — those the bridge device itself is a member of; the global contexts
 * the kernel creates behind port VLANs (br_vlan_get_master) carry nothing nfx
 * models and are not stored.
 */
import type { Host, Link } from './types.js';
import { extack, rtnetlink } from './errors.js';
import { fdbFlushPort } from './bridge-fdb.js';

/** BRIDGE_VLAN_INFO_* (include/uapi/linux/if_bridge.h). */
export const BRIDGE_VLAN_INFO_MASTER = 1 << 0;
export const BRIDGE_VLAN_INFO_PVID = 1 << 1;
export const BRIDGE_VLAN_INFO_UNTAGGED = 1 << 2;
export const BRIDGE_VLAN_INFO_RANGE_BEGIN = 1 << 3;
export const BRIDGE_VLAN_INFO_RANGE_END = 1 << 4;
export const BRIDGE_VLAN_INFO_BRENTRY = 1 << 5;
/** VLAN_VID_MASK (include/linux/if_vlan.h): 4095 is reserved, so VIDs run 1..4094. */
export const VLAN_VID_MASK = 0x0fff;
/** ETH_P_8021Q, ETH_P_8021AD (include/uapi/linux/if_ether.h). */
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

/** One struct net_bridge_vlan: its VID, BRIDGE_VLAN_INFO_UNTAGGED, and when its local FDB entry was made (FDB dump order). */
export interface BrVlan { vid: number; untagged: boolean; seq: number }

/**
 * struct net_bridge_vlan_group: the VLANs in VID order (vlan_list) and the
 * PVID (0: none). The `vlans` array is replaced, never changed in place, on
 * every change: the packet path caches a bitmap per array.
 */
export interface VlanGroup { pvid: number; vlans: BrVlan[] }

/** The bridge's own group, made as br_vlan_init() makes it for bridges saved before nfx had VLANs. */
export function bridgeVlanGroup(br: Link): VlanGroup {
  const a = br.bridge!;
  return (a.vlan ??= { pvid: 1, vlans: [{ vid: 1, untagged: true, seq: 0 }] });
}

/** A port's group (nbp_vlan_init() for ports saved before nfx had VLANs). */
export function portVlanGroup(br: Link, port: Link): VlanGroup {
  const p = port.brport!;
  if (!p.vlan) {
    const d = defaultPvid(br);
    p.vlan = d ? { pvid: d, vlans: [{ vid: d, untagged: true, seq: 0 }] } : { pvid: 0, vlans: [] };
  }
  return p.vlan;
}

export function vlanFiltering(br: Link): boolean { return br.bridge?.vlanFiltering === true; }
export function defaultPvid(br: Link): number { return br.bridge?.defaultPvid ?? 1; }

/** The next position in br->fdb_list: a new FDB entry goes to the head of the list (fdb_create → hlist_add_head_rcu). */
export function nextFdbSeq(br: Link): number {
  const a = br.bridge!;
  a.fdbSeq = (a.fdbSeq ?? 0) + 1;
  return a.fdbSeq;
}

export function findVlan(g: VlanGroup, vid: number): BrVlan | undefined {
  for (const v of g.vlans) if (v.vid === vid) return v;
  return undefined;
}

/**
 * Per-group bitmap by VID for the packet path: 0 not a member, 1 member
 * (egress tagged), 3 member with egress untagged. Keyed on the `vlans` array,
 * which every change replaces.
 */
const bitmaps = new WeakMap<BrVlan[], Uint8Array>();
export function vlanBitmap(g: VlanGroup): Uint8Array {
  let m = bitmaps.get(g.vlans);
  if (!m) {
    m = new Uint8Array(4096);
    for (const v of g.vlans) m[v.vid] = v.untagged ? 3 : 1;
    bitmaps.set(g.vlans, m);
  }
  return m;
}

/** __vlan_add_flags(): PVID follows the flag (set, or cleared if it was this VID); the untagged flag is replaced. */
function setFlags(g: VlanGroup, vid: number, flags: number): void {
  if (flags & BRIDGE_VLAN_INFO_PVID) g.pvid = vid;
  else if (g.pvid === vid) g.pvid = 0;
  g.vlans = g.vlans.map((v) => (v.vid === vid ? { ...v, untagged: (flags & BRIDGE_VLAN_INFO_UNTAGGED) !== 0 } : v));
}

/** __vlan_add_list(): the list stays in VID order. */
function insert(g: VlanGroup, v: BrVlan, flags: number): void {
  g.vlans = [...g.vlans, v].sort((x, y) => x.vid - y.vid);
  setFlags(g, v.vid, flags);
}

/** br_vlan_valid_id(): VIDs 1..4094 only. */
export function checkVid(vid: number): void {
  if (!(vid >= 1 && vid < VLAN_VID_MASK)) throw extack('bridge: Vlan id is invalid.');
}

/**
 * nbp_vlan_add(): a VLAN on a port — new (its local FDB entry for the port's
 * MAC made now), or an existing one's flags replaced.
 */
export function portVlanAdd(br: Link, port: Link, vid: number, flags: number): void {
  checkVid(vid);
  const g = portVlanGroup(br, port);
  if (findVlan(g, vid)) { setFlags(g, vid, flags); return; }
  insert(g, { vid, untagged: false, seq: nextFdbSeq(br) }, flags);
}

/**
 * nbp_vlan_delete(): ENOENT when absent; the port's local entry for the VID
 * and the entries learnt in it go (br_fdb_delete_by_port(br, p, vid, 0)).
 */
export function portVlanDel(host: Host, br: Link, port: Link, vid: number): boolean {
  const g = portVlanGroup(br, port);
  if (!findVlan(g, vid)) return false;
  if (g.pvid === vid) g.pvid = 0;
  g.vlans = g.vlans.filter((v) => v.vid !== vid);
  fdbFlushPort(host, br.index, port.index, false, vid);
  return true;
}

/**
 * br_vlan_add() with BRIDGE_VLAN_INFO_BRENTRY (`bridge vlan add dev br0 vid N
 * self`): the bridge device joins the VLAN, with a local FDB entry for its MAC.
 */
export function bridgeVlanAdd(br: Link, vid: number, flags: number): void {
  checkVid(vid);
  const g = bridgeVlanGroup(br);
  if (findVlan(g, vid)) { setFlags(g, vid, flags); return; }
  insert(g, { vid, untagged: false, seq: nextFdbSeq(br) }, flags);
}

/** br_vlan_delete(): ENOENT unless the bridge device is a member. */
export function bridgeVlanDel(host: Host, br: Link, vid: number): boolean {
  const g = bridgeVlanGroup(br);
  if (!findVlan(g, vid)) return false;
  if (g.pvid === vid) g.pvid = 0;
  g.vlans = g.vlans.filter((v) => v.vid !== vid);
  fdbFlushPort(host, br.index, 0, false, vid);
  return true;
}

/** nbp_vlan_init(): a port that joins gets the default PVID, untagged. */
export function portVlanInit(br: Link, port: Link): void {
  port.brport!.vlan = { pvid: 0, vlans: [] };
  const d = defaultPvid(br);
  if (d) portVlanAdd(br, port, d, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
}

/** vlan_default_pvid(): the group still has `vid` as its PVID, usable and untagged, as the default put it. */
function isDefaultPvid(g: VlanGroup, vid: number): boolean {
  if (vid !== g.pvid) return false;
  const v = findVlan(g, vid);
  return v !== undefined && v.untagged;
}

/**
 * __br_vlan_set_default_pvid() (IFLA_BR_VLAN_DEFAULT_PVID, allowed with
 * filtering on or off through netlink): where the old default PVID is still
 * configured as the default put it, the new one replaces it — on the bridge
 * and on each port; what the user changed is left alone. 0 removes it
 * (br_vlan_disable_default_pvid).
 */
export function setDefaultPvid(host: Host, br: Link, pvid: number, ports: Link[]): void {
  if (pvid >= VLAN_VID_MASK) throw rtnetlink('EINVAL');
  const a = br.bridge!;
  const old = defaultPvid(br);
  if (pvid === old) return;
  const bg = bridgeVlanGroup(br);
  if (!pvid) {
    if (isDefaultPvid(bg, old)) bridgeVlanDel(host, br, old);
    for (const p of ports) if (isDefaultPvid(portVlanGroup(br, p), old)) portVlanDel(host, br, p, old);
    a.defaultPvid = 0;
    return;
  }
  if ((!old || isDefaultPvid(bg, old)) && !findVlan(bg, pvid)) {
    bridgeVlanAdd(br, pvid, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
    if (old) bridgeVlanDel(host, br, old);
  }
  for (const p of ports) {
    const g = portVlanGroup(br, p);
    if ((old && !isDefaultPvid(g, old)) || findVlan(g, pvid)) continue;
    portVlanAdd(br, p, pvid, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
    if (old) portVlanDel(host, br, p, old);
  }
  a.defaultPvid = pvid;
}
