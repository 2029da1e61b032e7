/**
 * Host configuration operations with the kernel's side effects: a new host is a
 * fresh network namespace (`lo` down, the three default rules); links going up
 * or down add and remove the routes the kernel adds and removes
 * (fib_netdev_event/fib_add_ifaddr in net/ipv4/fib_frontend.c, addrconf_notify in
 * net/ipv6/addrconf.c); addresses bring their local, prefix and broadcast routes.
 */
import type { Family } from './inet.js';
import { broadcast4, equalAddr, isZero, maskAddr, prefixMatch } from './inet.js';
import { addKernelRoute, defaultRules, removeRoutes, sameRoute } from './fib.js';
import { eui64LinkLocal, hasCarrier, linkByIndex, newLink } from './links.js';
import { extack, rtnetlink } from './errors.js';
import { dropLinkSysctls, inheritDefaults } from './sysctl.js';
import type { Host, IfAddr, Link, LinkKind, Route } from './types.js';
import {
  RTPROT_KERNEL, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_LOCAL, RT_TABLE_MAIN,
} from './types.js';

/** A fresh namespace, as `ip netns add` makes it: `lo` (index 1, down), default rules, empty tables. */
export function newHost(name: string): Host {
  const host: Host = {
    name, links: [], nextIndex: 1, addrs: [], routes: [], rules: defaultRules(), neighs: [],
    sysctl: new Map(), sysctlExplicit: new Set(), customRules4: false, rulesInUse: { 4: false, 6: false }, tables: { 4: [RT_TABLE_LOCAL, RT_TABLE_MAIN], 6: [RT_TABLE_MAIN, RT_TABLE_LOCAL] },
    seq: 0, sections: {},
  };
  host.links.push(newLink(host, 'lo', 'loopback'));
  return host;
}

// ---------------------------------------------------------------------------
// Links

export interface LinkAddOptions {
  kind: LinkKind;
  mac?: Uint8Array;
  mtu?: number;
  txqlen?: number;
  peerName?: string;
  peerMac?: Uint8Array;
}

export function linkAdd(host: Host, name: string, o: LinkAddOptions): Link {
  if (host.links.some((l) => l.name === name || l.name === o.peerName)) throw rtnetlink('EEXIST');
  if (o.kind === 'veth') {
    // veth_newlink() registers the peer first, so the peer gets the lower ifindex.
    const peerName = o.peerName ?? nextVethName(host);
    const peer = newLink(host, peerName, 'veth', o.peerMac);
    const link = newLink(host, name, 'veth', o.mac);
    peer.peer = link.index;
    link.peer = peer.index;
    if (o.mtu) { link.mtu = o.mtu; }
    host.links.push(peer, link);
    inheritDefaults(host, peer);
    inheritDefaults(host, link);
    return link;
  }
  const link = newLink(host, name, o.kind, o.mac);
  if (o.mtu) link.mtu = o.mtu;
  if (o.txqlen !== undefined) link.txqlen = o.txqlen;
  host.links.push(link);
  inheritDefaults(host, link);
  return link;
}

function nextVethName(host: Host): string {
  for (let i = 0; i < 1 << 16; i++) if (!host.links.some((l) => l.name === `veth${i}`)) return `veth${i}`;
  throw rtnetlink('EEXIST');
}

export function linkDel(host: Host, link: Link): void {
  if (link.kind === 'loopback') throw rtnetlink('EOPNOTSUPP');
  const gone = new Set([link.index]);
  if (link.peer !== undefined) gone.add(link.peer);
  const goneNames = host.links.filter((l) => gone.has(l.index)).map((l) => l.name);
  host.links = host.links.filter((l) => !gone.has(l.index));
  host.addrs = host.addrs.filter((a) => !gone.has(a.dev));
  removeRoutes(host, (r) => r.dev !== undefined && gone.has(r.dev));
  host.neighs = host.neighs.filter((n) => !gone.has(n.dev));
  for (const name of goneNames) dropLinkSysctls(host, name);
}

export function linkSetUp(host: Host, link: Link, up: boolean): void {
  if (link.up === up) return;
  const peer = link.peer !== undefined ? linkByIndex(host, link.peer) : undefined;
  const peerCarrier = peer ? hasCarrier(host, peer) : false;
  link.up = up;
  if (up) {
    link.everUp = true;
    netdevUp(host, link);
    if (peer && !peerCarrier && hasCarrier(host, peer)) carrierOn(host, peer);
  } else {
    netdevDown(host, link);
    // neigh_carrier_down() (arp/ndisc_evict_nocarrier=1): the peer loses its learnt entries.
    if (peer && peerCarrier) host.neighs = host.neighs.filter((n) => n.dev !== peer.index || n.state === 'PERMANENT');
  }
}

/** NETDEV_UP: fib_netdev_event() re-adds every address's routes; addrconf_notify() starts IPv6. */
function netdevUp(host: Host, link: Link): void {
  if (link.kind === 'loopback') {
    // inetdev_event(): loopback gets 127.0.0.1/8 on its first up; addrconf gets ::1.
    if (!host.addrs.some((a) => a.dev === link.index && a.family === 4)) {
      insertAddr(host, kernelAddr(4, link.index, new Uint8Array([127, 0, 0, 1]), 8, RT_SCOPE_HOST));
    }
  }
  for (const a of host.addrs) if (a.dev === link.index && a.family === 4) addIfaddrRoutes4(host, a);
  if (link.kind === 'loopback') {
    const one = new Uint8Array(16); one[15] = 1;
    if (!host.addrs.some((a) => a.dev === link.index && a.family === 6 && equalAddr(a.local, one))) {
      addAddr6(host, kernelAddr(6, link.index, one, 128, RT_SCOPE_HOST));
    }
    return;
  }
  // addrconf_notify(NETDEV_UP): addresses configured while down get their prefix routes.
  for (const a of host.addrs) if (a.dev === link.index && a.family === 6) addPrefixRoute6(host, a);
  if (hasCarrier(host, link)) carrierOn(host, link);
}

/** Carrier gained: addrconf_notify(NETDEV_CHANGE) configures the EUI-64 link-local address. */
function carrierOn(host: Host, link: Link): void {
  if (link.kind === 'loopback') return;
  // addrconf_dev_config() -> addrconf_add_dev(): the ff00::/8 multicast route, then the addresses.
  addMroute(host, link);
  if (link.addrGenMode === 'none') return;
  if (host.addrs.some((a) => a.dev === link.index && a.family === 6 && a.scope === RT_SCOPE_LINK)) return;
  const ll = kernelAddr(6, link.index, eui64LinkLocal(link.mac), 64, RT_SCOPE_LINK);
  addAddr6(host, ll);
}

/**
 * NETDEV_DOWN: IPv4 keeps its addresses but fib_sync_down_dev() kills every route
 * through the link whose next hop is not host-scoped; IPv6 (keep_addr_on_down=0)
 * drops every address and every route through the link.
 */
function netdevDown(host: Host, link: Link): void {
  removeRoutes(host, (r) => r.dev === link.index && (r.family === 6 || r.scope !== RT_SCOPE_HOST));
  host.addrs = host.addrs.filter((a) => !(a.dev === link.index && a.family === 6));
  // neigh_ifdown(): every neighbour entry of the link goes, permanent ones too.
  host.neighs = host.neighs.filter((n) => n.dev !== link.index);
}

function addMroute(host: Host, link: Link): void {
  addKernelRoute(host, kroute(6, RT_TABLE_LOCAL, 'multicast', ff00(), 8, link.index, 256, RT_SCOPE_UNIVERSE));
}

function ff00(): Uint8Array { const a = new Uint8Array(16); a[0] = 0xff; return a; }

function kroute(family: Family, table: number, type: Route['type'], dst: Uint8Array, plen: number, dev: number,
  metric: number, scope: number, prefsrc?: Uint8Array): Omit<Route, 'seq'> {
  const r: Omit<Route, 'seq'> = {
    family, table, type, dst, plen, tos: 0, metric, proto: RTPROT_KERNEL, scope, dev, mtu: 0, onlink: false, pref: 'medium',
  };
  if (prefsrc) r.prefsrc = prefsrc;
  return r;
}

function kernelAddr(family: Family, dev: number, local: Uint8Array, plen: number, scope: number): IfAddr {
  return { family, dev, local, plen, scope, secondary: false, nodad: false, noprefixroute: false, kernel: true, metric: 0 };
}

// ---------------------------------------------------------------------------
// Addresses

/**
 * Adds an address with the kernel's checks and routes. IPv4: an address in the
 * subnet (same mask) of one already on the link becomes secondary
 * (__inet_insert_ifa); IPv6: a duplicate is EEXIST.
 */
export function addrAdd(host: Host, a: IfAddr): void {
  if (a.family === 4) {
    const link = linkByIndex(host, a.dev)!;
    for (const b of host.addrs) {
      if (b.family !== 4 || b.dev !== a.dev || b.plen !== a.plen) continue;
      if (!prefixMatch(maskAddr(b.local, b.plen), b.plen, a.local)) continue;
      if (equalAddr(b.local, a.local)) throw extack('ipv4: Address already assigned.');
      if (b.scope !== a.scope) throw extack('ipv4: Invalid scope value.');
      a.secondary = true;
    }
    void link;
    insertAddr(host, a);
    addIfaddrRoutes4(host, a);
    return;
  }
  if (host.addrs.some((b) => b.family === 6 && b.dev === a.dev && equalAddr(b.local, a.local))) throw extack('ipv6: address already assigned.');
  // inet6_addr_add() -> addrconf_add_dev(): the multicast route, which fails quietly on a down link.
  const link = linkByIndex(host, a.dev)!;
  if (link.up && link.kind !== 'loopback') addMroute(host, link);
  addAddr6(host, a);
}

/** __inet_insert_ifa(): a primary goes after the last primary of no narrower scope; a secondary goes last. */
function insertAddr(host: Host, a: IfAddr): void {
  let at = -1;
  for (let i = 0; i < host.addrs.length; i++) {
    const b = host.addrs[i]!;
    if (b.family !== a.family || b.dev !== a.dev) continue;
    if (a.secondary || (!b.secondary && a.scope <= b.scope)) at = i;
  }
  if (at < 0) {
    // No primary of a scope this wide: the new one heads the link's list.
    const first = host.addrs.findIndex((b) => b.family === a.family && b.dev === a.dev);
    if (first >= 0) host.addrs.splice(first, 0, a); else host.addrs.push(a);
  } else host.addrs.splice(at + 1, 0, a);
}

function primaryOf(host: Host, a: IfAddr): IfAddr {
  if (!a.secondary) return a;
  for (const b of host.addrs) {
    if (b.family === 4 && b.dev === a.dev && !b.secondary && b.plen === a.plen && prefixMatch(maskAddr(b.local, b.plen), b.plen, a.local)) return b;
  }
  return a;
}

/** The routes fib_add_ifaddr() installs for an IPv4 address (only `local` while the link is down). */
function ifaddrRoutes4(host: Host, a: IfAddr): Omit<Route, 'seq'>[] {
  const link = linkByIndex(host, a.dev)!;
  const prim = primaryOf(host, a).local;
  const out = [kroute(4, RT_TABLE_LOCAL, 'local', a.local, 32, a.dev, 0, RT_SCOPE_HOST, prim)];
  if (!link.up) return out;
  if (a.broadcast && !a.broadcast.every((x) => x === 255)) {
    out.push(kroute(4, RT_TABLE_LOCAL, 'broadcast', a.broadcast, 32, a.dev, 0, RT_SCOPE_LINK, prim));
  }
  const prefix = maskAddr(a.local, a.plen);
  if (prefix[0] !== 0 && !a.secondary && (!equalAddr(prefix, a.local) || a.plen < 32)) {
    if (!a.noprefixroute) {
      const loop = link.kind === 'loopback';
      out.push(kroute(4, loop ? RT_TABLE_LOCAL : RT_TABLE_MAIN, loop ? 'local' : 'unicast', prefix, a.plen, a.dev, a.metric,
        loop ? RT_SCOPE_HOST : RT_SCOPE_LINK, prim));
    }
    if (a.plen < 31) {
      out.push(kroute(4, RT_TABLE_LOCAL, 'broadcast', broadcast4(a.local, a.plen), 32, a.dev, 0, RT_SCOPE_LINK, prim));
    }
  }
  return out;
}

function addIfaddrRoutes4(host: Host, a: IfAddr): void {
  for (const r of ifaddrRoutes4(host, a)) addKernelRoute(host, r);
}

function addAddr6(host: Host, a: IfAddr): void {
  // ipv6_link_dev_addr(): a new address goes before the first one of no wider
  // scope (IPV6_ADDR_SCOPE_*: global 0xe > link 0x2 > host 0x1), so the list runs
  // global, link, host, newest first within a scope.
  const at = host.addrs.findIndex((b) => b.family === 6 && b.dev === a.dev && scopeRank6(b.scope) <= scopeRank6(a.scope));
  if (at >= 0) host.addrs.splice(at, 0, a);
  else {
    let last = -1;
    host.addrs.forEach((b, i) => { if (b.family === 6 && b.dev === a.dev) last = i; });
    if (last >= 0) host.addrs.splice(last + 1, 0, a); else host.addrs.push(a);
  }
  addKernelRoute(host, kroute(6, RT_TABLE_LOCAL, 'local', a.local, 128, a.dev, 0, RT_SCOPE_UNIVERSE));
  addPrefixRoute6(host, a);
}

function scopeRank6(scope: number): number {
  return scope === RT_SCOPE_HOST ? 1 : scope === RT_SCOPE_LINK ? 2 : 14;
}

function prefixRoute6(a: IfAddr): Omit<Route, 'seq'> {
  return kroute(6, RT_TABLE_MAIN, 'unicast', maskAddr(a.local, a.plen), a.plen, a.dev, a.metric || 256, RT_SCOPE_UNIVERSE);
}

function addPrefixRoute6(host: Host, a: IfAddr): void {
  const link = linkByIndex(host, a.dev)!;
  if (!link.up || a.noprefixroute || link.kind === 'loopback') return;
  addKernelRoute(host, prefixRoute6(a));
}

/**
 * Deletes addresses: an IPv4 primary takes its secondaries with it
 * (promote_secondaries=0). Each route the address made goes unless a remaining
 * address makes the same one (fib_del_ifaddr's LOCAL_OK/BRD_OK bookkeeping).
 */
export function addrDel(host: Host, a: IfAddr): void {
  const victims = [a];
  if (a.family === 4 && !a.secondary) {
    for (const b of host.addrs) {
      if (b !== a && b.family === 4 && b.dev === a.dev && b.secondary && b.plen === a.plen &&
        prefixMatch(maskAddr(a.local, a.plen), a.plen, b.local)) victims.unshift(b);
    }
  }
  for (const v of victims) removeAddr(host, v);
  if (a.family === 4 && !host.addrs.some((b) => b.family === 4 && b.dev === a.dev)) {
    // The link's last IPv4 address is gone: fib_disable_ip(force) kills every IPv4
    // route through it, host-scoped ones too, and arp_ifdown() empties its ARP cache.
    removeRoutes(host, (r) => r.family === 4 && r.dev === a.dev);
    host.neighs = host.neighs.filter((n) => !(n.family === 4 && n.dev === a.dev));
  }
}

function removeAddr(host: Host, a: IfAddr): void {
  const made = a.family === 4 ? ifaddrRoutes4(host, a) : [
    kroute(6, RT_TABLE_LOCAL, 'local', a.local, 128, a.dev, 0, RT_SCOPE_UNIVERSE), prefixRoute6(a),
  ];
  host.addrs = host.addrs.filter((b) => b !== a);
  const still = host.addrs.flatMap((b) => b.family !== a.family ? [] : b.family === 4 ? ifaddrRoutes4(host, b) : [
    kroute(6, RT_TABLE_LOCAL, 'local', b.local, 128, b.dev, 0, RT_SCOPE_UNIVERSE), prefixRoute6(b),
  ]);
  for (const m of made) {
    const probe = { ...m, seq: 0 };
    if (still.some((s) => sameRoute({ ...s, seq: 0 }, probe))) continue;
    removeRoutes(host, (r) => r.proto === RTPROT_KERNEL && sameRoute(r, probe));
  }
}

export function isLocalAddr(host: Host, family: Family, a: Uint8Array): boolean {
  return host.addrs.some((x) => x.family === family && equalAddr(x.local, a));
}

export { isZero };
