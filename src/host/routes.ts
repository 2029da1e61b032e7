/**
 * `ip route add|append|prepend|replace|del` with the kernel's checks:
 * fib_create_info()/fib_check_nh() and fib_table_insert()/fib_table_delete() for
 * IPv4, ip6_route_info_create()/fib6_add_rt2()/ip6_route_del() for IPv6.
 */
import { equalAddr, isHostPartZero, maskAddr, prefixMatch } from './inet.js';
import { compareRoutes, ensureTable, route as fibRoute, tableLookup, validPrefsrc4 } from './fib.js';
import { extack, HostError, rtnetlink } from './errors.js';
import { hasCarrier, linkByIndex } from './links.js';
import { isLocalAddr } from './model.js';
import type { Host, Route } from './types.js';
import { RT_SCOPE_HOST, RT_SCOPE_LINK, RT_TABLE_LOCAL, RT_TABLE_MAIN } from './types.js';

export type RouteSpec = Omit<Route, 'seq'>;
export type RouteMode = 'add' | 'append' | 'prepend' | 'replace' | 'change';

/** Fields of a `del` request; absent ones match anything (RT_SCOPE_NOWHERE, type 0, protocol 0). */
export interface RouteDelSpec {
  family: 4 | 6;
  table: number;
  dst: Uint8Array;
  plen: number;
  tos: number;
  type?: Route['type'];
  metric?: number;
  proto?: number;
  scope?: number;
  dev?: number;
  gateway?: Uint8Array;
  prefsrc?: Uint8Array;
  /** RTAX_MTU given with the request (fib_metrics_match; IPv4 only). */
  mtu?: number;
}

export function routeAdd(host: Host, spec: RouteSpec, mode: RouteMode = 'add'): void {
  const r: Route = { ...spec, seq: ++host.seq };
  if (r.family === 4 && r.tos & 3) throw extack('Invalid dsfield (tos): ECN bits must be 0.');
  // inet_rtm_newroute()/ip6_route_info_create() create the table before validating the next hop.
  ensureTable(host, r.family, r.table);
  if (r.family === 4) check4(host, r); else check6(host, r);
  const equal = host.routes.filter((x) => x.family === r.family && x.table === r.table && x.plen === r.plen &&
    equalAddr(x.dst, r.dst) && x.tos === r.tos && x.metric === r.metric).sort(compareRoutes);
  if (equal.length > 0) {
    if (mode === 'add') throw rtnetlink('EEXIST');
    if (mode === 'replace' || mode === 'change') {
      const old = equal[0]!;
      r.seq = old.seq;
      host.routes[host.routes.indexOf(old)] = r;
      // The FIB index and the route caches are stamped with host.seq, and check4() above may have
      // built one at this seq from the routes before the swap: a new seq marks them stale.
      host.seq++;
      return;
    }
    if (r.family === 6) {
      // fib6_add_rt2() without NLM_F_EXCL: a route with the same next hop as one
      // already there (rt6_duplicate_nexthop: device and gateway) is EEXIST; two
      // gateway routes would become ECMP siblings, which nfx does not model; any
      // other route of that metric (e.g. beside a reject route) is linked in after
      // the routes already there, where lookups reach it only if they are skipped.
      if (equal.some((x) => x.dev === r.dev && sameGateway(x.gateway, r.gateway))) throw rtnetlink('EEXIST');
      const ecmp = r.type === 'unicast' && !!r.gateway && equal.some((x) => x.type === 'unicast' && !!x.gateway);
      if (ecmp) throw new HostError('Error: nfx does not model multipath (ECMP) routes yet.', 2);
      r.seq = Math.max(...equal.map((x) => x.seq)) + 0.5;
      host.routes.push(r);
      return;
    }
    if (mode === 'prepend') r.seq = equal[0]!.seq - 0.5;
  } else if (mode === 'change') throw rtnetlink('ESRCH');
  ensureTable(host, r.family, r.table);
  host.routes.push(r);
}

function check4(host: Host, r: Route): void {
  if (!isHostPartZero(r.dst, r.plen)) throw extack('Invalid prefix for given prefix length.');
  if (r.tos & 3) throw extack('Invalid dsfield (tos): ECN bits must be 0.');
  const dev = r.dev !== undefined ? linkByIndex(host, r.dev) : undefined;
  if (r.type === 'unicast' || r.type === 'local' || r.type === 'broadcast' || r.type === 'anycast' || r.type === 'multicast') {
    if (r.scope === RT_SCOPE_HOST) {
      if (r.gateway) throw extack('Route with host scope can not have a gateway');
      if (!dev) throw extack('Nexthop device required for host scope'); // nexthop has no device
    } else if (r.gateway) {
      if (r.onlink) {
        if (!dev) throw extack('Nexthop device required for onlink');
        if (!dev.up) throw extack('Nexthop device is not up');
      } else {
        // fib_check_nh_v4_gw(): the gateway must be reachable through a link-scoped
        // route, first in the route's own table, else through the rules.
        // flowi4_scope = route scope + 1: only link- or host-scoped routes qualify.
        const flow = { family: 4 as const, daddr: r.gateway, scope: r.scope + 1, ...(dev ? { oif: dev.name } : {}) };
        let gw = r.table !== RT_TABLE_MAIN ? tableLookup(host, r.table, flow) : undefined;
        if (gw === 'throw') gw = undefined;
        if (gw === undefined) gw = fibRoute(host, flow).route;
        if (!gw || (gw.type !== 'unicast' && gw.type !== 'local') || gw.dev === undefined) throw extack('Nexthop has invalid gateway.');
        const gdev = linkByIndex(host, gw.dev)!;
        // A gateway reached through a link that is down: a bare ENETDOWN, no extack message.
        if (!gdev.up) throw rtnetlink('ENETDOWN');
        if (!dev) r.dev = gdev.index;
      }
    } else if (!dev) {
      if (r.type === 'unicast') throw rtnetlink('ENODEV');
    } else if (!dev.up) throw extack('Device for nexthop is not up.');
  }
  if (r.prefsrc && !validPrefsrc4(host, r.table, r.type, r.dst, r.plen, r.prefsrc)) throw extack('Invalid prefsrc address.');
}

function check6(host: Host, r: Route): void {
  r.dst = maskAddr(r.dst, r.plen);
  if (r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit' || r.type === 'throw') {
    // ip6_route_info_create(): reject routes hang off the loopback device.
    r.dev = 1;
    return;
  }
  const dev = r.dev !== undefined ? linkByIndex(host, r.dev) : undefined;
  if (r.gateway) {
    const gw = r.gateway;
    const linkLocal = gw[0] === 0xfe && (gw[1]! & 0xc0) === 0x80;
    if (isLocalAddr(host, 6, gw)) throw extack('Gateway can not be a local address.');
    if (linkLocal) {
      if (!dev) throw extack('Egress device not specified.');
    } else if (!r.onlink) {
      // ip6_route_check_nh(): the gateway must be on a connected route (no gateway of its own).
      const flow = { family: 6 as const, daddr: gw, ...(dev ? { oif: dev.name } : {}) };
      // ip6_route_check_nh(): the route's own table first (main too), then the rules.
      let hit = tableLookup(host, r.table, flow);
      if (hit === 'throw' || (hit && (hit.gateway || (dev && hit.dev !== dev.index)))) hit = undefined;
      if (!hit) {
        const res = fibRoute(host, flow);
        hit = res.route;
      }
      if (!hit || hit.gateway || hit.dev === undefined || hit.type !== 'unicast') throw rtnetlink('EHOSTUNREACH');
      if (dev && hit.dev !== dev.index) throw rtnetlink('EHOSTUNREACH');
      if (!dev) r.dev = hit.dev;
    } else if (!dev) throw extack('Egress device not specified.');
  } else if (!dev && r.type !== 'local') throw rtnetlink('ENODEV');
  const out = linkByIndex(host, r.dev!)!;
  if (!out.up) throw extack('Nexthop device is not up.');
  void hasCarrier;
}

/** Deletes the first route (in dump order) that matches every field the request gives. */
export function routeDel(host: Host, d: RouteDelSpec): Route {
  if (!host.tables[d.family].includes(d.table)) throw extack('FIB table does not exist.');
  const dst = d.family === 6 ? maskAddr(d.dst, d.plen) : d.dst;
  const hit = host.routes.filter((x) => {
    if (x.family !== d.family || x.table !== d.table || x.plen !== d.plen || !equalAddr(x.dst, dst)) return false;
    if (d.metric !== undefined && x.metric !== d.metric) return false;
    if (d.proto !== undefined && x.proto !== d.proto) return false;
    if (d.dev !== undefined && x.dev !== d.dev) return false;
    if (d.gateway !== undefined && !(x.gateway && equalAddr(x.gateway, d.gateway))) return false;
    // ip6_route_del() compares only metric, protocol, device and gateway: the
    // type, scope and prefsrc of the request are ignored (`ip -6 route del
    // prohibit P` deletes an unreachable route P). fib_table_delete() checks them.
    if (d.family === 6) return true;
    if (x.tos !== d.tos) return false;
    if (d.type !== undefined && x.type !== d.type) return false;
    if (d.scope !== undefined && x.scope !== d.scope) return false;
    if (d.prefsrc !== undefined && !(x.prefsrc && equalAddr(x.prefsrc, d.prefsrc))) return false;
    // fib_metrics_match(): every metric the request carries must equal the route's.
    if (d.mtu !== undefined && x.mtu !== d.mtu) return false;
    return true;
  }).sort(compareRoutes)[0];
  if (!hit) {
    // For ::/0 fib6_locate() finds the tree's root; when no default route hangs there,
    // an unfiltered request matches the null entry, which __ip6_del_rt() refuses with ENOENT.
    const rootEmpty = d.family === 6 && d.plen === 0 &&
      !host.routes.some((x) => x.family === 6 && x.table === d.table && x.plen === 0);
    const filtered = d.dev !== undefined || d.gateway !== undefined || d.metric !== undefined || d.proto !== undefined;
    throw rtnetlink(rootEmpty && !filtered ? 'ENOENT' : 'ESRCH');
  }
  host.routes = host.routes.filter((x) => x !== hit);
  return hit;
}

/** Flushes the routes a filter selects (`ip route flush ...`). */
export function routeFlush(host: Host, pred: (r: Route) => boolean): number {
  const before = host.routes.length;
  host.routes = host.routes.filter((r) => !pred(r));
  return before - host.routes.length;
}

function sameGateway(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : equalAddr(a, b);
}
