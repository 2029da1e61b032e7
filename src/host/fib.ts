/**
 * The FIB: routing tables, their dump order, and the lookup the packet path uses
 * (`route()`): policy rules in priority order (net/core/fib_rules.c), then the
 * longest prefix match in each table the rules name (net/ipv4/fib_trie.c,
 * net/ipv6/ip6_fib.c), with metrics and TOS as tie-breakers.
 */
import type { Family } from './inet.js';
import { compareAddr, equalAddr, prefixMatch } from './inet.js';
import type { Host, IfAddr, Link, Route, RouteType, Rule } from './types.js';
import { RT_SCOPE_HOST, RT_SCOPE_LINK, RT_TABLE_LOCAL } from './types.js';
import { linkByIndex } from './links.js';

/**
 * Dump order inside one table. IPv4 walks the fib_trie: keys in address order,
 * longer prefixes of one key first, then TOS descending, then metric, then
 * insertion. IPv6 walks the fib6 radix tree post-order (left, right, node), so a
 * prefix comes after every prefix inside it and `::/0` comes last; routes of one
 * node by metric, then insertion.
 */
export function compareRoutes(a: Route, b: Route): number {
  if (a.family === 4) {
    const k = compareAddr(a.dst, b.dst);
    if (k !== 0) return k;
    if (a.plen !== b.plen) return b.plen - a.plen;
    if (a.tos !== b.tos) return b.tos - a.tos;
  } else {
    const common = Math.min(a.plen, b.plen);
    for (let bit = 0; bit < common; bit++) {
      const x = (a.dst[bit >> 3]! >> (7 - (bit & 7))) & 1;
      const y = (b.dst[bit >> 3]! >> (7 - (bit & 7))) & 1;
      if (x !== y) return x - y;
    }
    if (a.plen !== b.plen) return b.plen - a.plen;
  }
  if (a.metric !== b.metric) return a.metric - b.metric;
  return a.seq - b.seq;
}

/** `ip route show table all` order: IPv4 then IPv6; tables by hash bucket (id & 255), newest first within one. */
export function dumpOrder(host: Host, routes: Route[]): Route[] {
  const tableRank = (family: Family, id: number): number => {
    const created = host.tables[family];
    const pos = created.indexOf(id);
    return (id & 255) * 1e6 - pos;
  };
  return routes.slice().sort((a, b) => {
    if (a.family !== b.family) return a.family - b.family;
    if (a.table !== b.table) return tableRank(a.family, a.table) - tableRank(b.family, b.table);
    return compareRoutes(a, b);
  });
}

export function ensureTable(host: Host, family: Family, table: number): void {
  const t = host.tables[family];
  if (!t.includes(table)) t.push(table);
}

/** Whether two routes are the same FIB entry (what `ip route del` with all attributes would match). */
export function sameRoute(a: Route, b: Route): boolean {
  return a.family === b.family && a.table === b.table && a.type === b.type && a.plen === b.plen &&
    equalAddr(a.dst, b.dst) && a.tos === b.tos && a.metric === b.metric && a.dev === b.dev &&
    a.scope === b.scope && optEqual(a.gateway, b.gateway) && optEqual(a.prefsrc, b.prefsrc);
}

function optEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && equalAddr(a, b);
}

/**
 * The kernel adds its own routes (fib_magic, addrconf) with NLM_F_APPEND: an
 * identical entry is not added twice.
 */
export function addKernelRoute(host: Host, r: Omit<Route, 'seq'>): void {
  const route: Route = { ...r, seq: ++host.seq };
  if (host.routes.some((x) => sameRoute(x, route))) return;
  // fib_magic() goes through fib_create_info(), so a route whose prefsrc does not
  // resolve to a local address (e.g. it is also a broadcast address) is refused quietly.
  if (r.family === 4 && r.prefsrc && !validPrefsrc4(host, r.table, r.type, r.dst, r.plen, r.prefsrc)) return;
  ensureTable(host, r.family, r.table);
  host.routes.push(route);
}

/**
 * fib_valid_prefsrc(): a preferred source must be a `local` route in the route's
 * table (main counts as local) or in table local — unless the route is the local
 * route of that very address.
 */
export function validPrefsrc4(host: Host, table: number, type: RouteType, dst: Uint8Array, plen: number, src: Uint8Array): boolean {
  if (type === 'local' && plen === 32 && equalAddr(dst, src)) return true;
  const t = table === 254 ? RT_TABLE_LOCAL : table;
  const flow: FlowKey = { family: 4, daddr: src };
  let hit = tableLookup(host, t, flow);
  if ((hit === undefined || hit === 'throw' || hit.type !== 'local') && t !== RT_TABLE_LOCAL) hit = tableLookup(host, RT_TABLE_LOCAL, flow);
  return hit !== undefined && hit !== 'throw' && hit.type === 'local';
}

export function removeRoutes(host: Host, pred: (r: Route) => boolean): void {
  host.routes = host.routes.filter((r) => !pred(r));
}

// ---------------------------------------------------------------------------
// Lookup

/** What `route()` is asked: a flow (struct flowi4/flowi6, the fields the FIB reads). */
export interface FlowKey {
  family: Family;
  daddr: Uint8Array;
  saddr?: Uint8Array;
  /** Input interface name: a forwarded packet's. Absent for locally generated packets (iif = lo). */
  iif?: string;
  /** Output interface name (SO_BINDTODEVICE, `ip route get ... oif`). */
  oif?: string;
  mark?: number;
  tos?: number;
  /** flowi4_scope: routes narrower in scope than this are skipped (gateway checks ask for > universe). */
  scope?: number;
}

export type RouteResultType = 'local' | 'broadcast' | 'unicast' | 'multicast' | 'unreachable' | 'blackhole' | 'prohibit';

export interface RouteResult {
  type: RouteResultType;
  /** Output device (for `local`: the device the route names; `ip route get` shows `lo`). */
  dev?: Link;
  gateway?: Uint8Array;
  /** The source address the kernel would choose (prefsrc, else inet_select_addr / RFC 6724). */
  src?: Uint8Array;
  /** The route's own prefsrc, when it has one. */
  prefsrc?: Uint8Array;
  /** Table of the matched route (RT_TABLE_*). */
  table: number;
  /** Path MTU: the route's `mtu` metric, else the device's MTU. */
  mtu: number;
  /** The FIB entry that matched, and the rule that led to it (for traces). */
  route?: Route;
  rule?: Rule;
  /** For failures: the errno name the kernel returns (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL). */
  errno?: 'ENETUNREACH' | 'EHOSTUNREACH' | 'EACCES' | 'EINVAL';
}

/** Linux's default tables have no custom rule entries: these rules exist in every new namespace. */
export function defaultRules(): Rule[] {
  const base = { not: false, srcLen: 0, dstLen: 0, tos: 0, action: 'lookup' as const, suppressPrefixlen: -1 };
  return [
    { ...base, family: 4, priority: 0, table: 255 },
    { ...base, family: 4, priority: 32766, table: 254 },
    { ...base, family: 4, priority: 32767, table: 253 },
    { ...base, family: 6, priority: 0, table: 255 },
    { ...base, family: 6, priority: 32766, table: 254 },
  ];
}

/** Without custom rules the kernel skips the rule list: local, then main. */
const IMPLICIT_RULES: Record<Family, Rule[]> = {
  4: defaultRules().filter((r) => r.family === 4 && r.priority < 32767),
  6: defaultRules().filter((r) => r.family === 6),
};

export function ruleMatches(rule: Rule, flow: FlowKey): boolean {
  // fib_rule_match(): iif/oif by name, then mark, then the family's match (src, dst, tos).
  let m = true;
  const iif = flow.iif ?? 'lo';
  if (rule.iif !== undefined && rule.iif !== iif) m = false;
  else if (rule.oif !== undefined && rule.oif !== flow.oif) m = false;
  else if (rule.fwmark !== undefined && (((flow.mark ?? 0) ^ rule.fwmark) & (rule.fwmask ?? 0xffffffff)) !== 0) m = false;
  else if (rule.src && !prefixMatch(rule.src, rule.srcLen, flow.saddr ?? zero(flow.family))) m = false;
  else if (rule.dst && !prefixMatch(rule.dst, rule.dstLen, flow.daddr)) m = false;
  else if (rule.tos && rule.tos !== (flow.tos ?? 0)) m = false;
  return rule.not ? !m : m;
}

const ZERO4 = new Uint8Array(4);
const ZERO6 = new Uint8Array(16);
function zero(f: Family): Uint8Array { return f === 4 ? ZERO4 : ZERO6; }

/**
 * One table's longest-prefix match. `throw` routes and misses return undefined (the rules go on).
 * The lookup walks the table's prefix lengths longest first and, in each, the routes whose
 * prefix holds the address, best first (fibIndex below), taking the first one usable for
 * the flow — the same answer as comparing every route, in a few hash probes.
 */
export function tableLookup(host: Host, table: number, flow: FlowKey): Route | 'throw' | undefined {
  const t = fibIndex(host).tables.get(flow.family * 1024 + table);
  if (t === undefined) return undefined;
  const a = flow.daddr;
  const key4 = flow.family === 4 ? ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) | 0 : 0;
  for (let g = 0; g < t.length; g++) {
    const grp = t[g]!;
    const cands = grp.routes.get(flow.family === 4 ? key4 & grp.mask4 : hash6(a, grp.plen));
    if (cands === undefined) continue;
    for (let i = 0; i < cands.length; i++) {
      const r = cands[i]!;
      if (flow.family === 6 && !prefixMatch(r.dst, r.plen, a)) continue;
      if (usable(host, r, flow)) return r.type === 'throw' ? 'throw' : r;
    }
  }
  return undefined;
}

/** The per-route conditions of fib_table_lookup() beyond the prefix. */
function usable(host: Host, r: Route, flow: FlowKey): boolean {
  if (r.tos && r.tos !== (flow.tos ?? 0)) return false;
  // fib_table_lookup() skips aliases narrower in scope than the flow asks for.
  if (flow.scope !== undefined && r.scope < flow.scope) return false;
  // fib_lookup_good_nhc(): with an output interface, only next hops through it.
  if (flow.oif !== undefined && r.dev !== undefined) {
    const dev = linkByIndex(host, r.dev);
    if (dev?.name !== flow.oif) return false;
  }
  if (r.family === 6 && r.dev !== undefined && r.type === 'unicast') {
    // rt6_score_route(): a next hop whose link is down is not usable.
    const dev = linkByIndex(host, r.dev);
    if (!dev || !dev.up) return false;
  }
  return true;
}

/** Routes of one table with one prefix length, bucketed by their masked prefix (IPv4: the masked address itself). */
interface PrefixGroup {
  plen: number;
  mask4: number;
  routes: Map<number, Route[]>;
}

/**
 * The FIB's lookup structure: per (family, table) the prefix lengths present, longest
 * first, each a hash of prefixes (the per-prefix-length hash of a classic LPM; the kernel's
 * fib_trie and fib6 tree answer the same question). Rebuilt when the route list changes:
 * every change replaces the array, appends to it, or takes a new `host.seq`.
 */
interface FibIndex {
  routes: Route[];
  length: number;
  seq: number;
  addrs: IfAddr[];
  addrCount: number;
  tables: Map<number, PrefixGroup[]>;
  /** IPv4 gateways that are one of our addresses, by address (resultFor asks per lookup). */
  localGw: Map<number, boolean>;
}

const fibIndexes = new WeakMap<Host, FibIndex>();

function fibIndex(host: Host): FibIndex {
  const x = fibIndexes.get(host);
  if (x !== undefined && x.routes === host.routes && x.length === host.routes.length && x.seq === host.seq &&
    x.addrs === host.addrs && x.addrCount === host.addrs.length) return x;
  const tables = new Map<number, PrefixGroup[]>();
  for (const r of host.routes) {
    const k = r.family * 1024 + r.table;
    let groups = tables.get(k);
    if (groups === undefined) { groups = []; tables.set(k, groups); }
    let grp = groups.find((g) => g.plen === r.plen);
    if (grp === undefined) {
      grp = { plen: r.plen, mask4: r.plen === 0 ? 0 : (0xffffffff << (32 - Math.min(r.plen, 32))) | 0, routes: new Map() };
      groups.push(grp);
    }
    const d = r.dst;
    const key = r.family === 4 ? ((((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) & grp.mask4) | 0) : hash6(d, r.plen);
    const list = grp.routes.get(key);
    if (list === undefined) grp.routes.set(key, [r]); else list.push(r);
  }
  for (const groups of tables.values()) {
    groups.sort((a, b) => b.plen - a.plen);
    for (const g of groups) for (const list of g.routes.values()) list.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  }
  const n: FibIndex = { routes: host.routes, length: host.routes.length, seq: host.seq, addrs: host.addrs, addrCount: host.addrs.length, tables, localGw: new Map() };
  fibIndexes.set(host, n);
  return n;
}

function gatewayIsLocal(host: Host, gw: Uint8Array): boolean {
  const cache = fibIndex(host).localGw;
  const k = ((gw[0]! << 24) | (gw[1]! << 16) | (gw[2]! << 8) | gw[3]!) | 0;
  let v = cache.get(k);
  if (v === undefined) { v = host.addrs.some((a) => a.family === 4 && equalAddr(a.local, gw)); cache.set(k, v); }
  return v;
}

/** FNV-1a over the first `plen` bits of an IPv6 address (the bucket; candidates are checked with prefixMatch). */
function hash6(a: Uint8Array, plen: number): number {
  let h = 0x811c9dc5;
  let i = 0;
  for (; plen >= 8; plen -= 8, i++) h = Math.imul(h ^ a[i]!, 0x01000193);
  if (plen > 0) h = Math.imul(h ^ (a[i]! & ((0xff << (8 - plen)) & 0xff)), 0x01000193);
  return h | 0;
}

function better(r: Route, best: Route): boolean {
  if (r.family === 4 && r.tos !== best.tos) return r.tos > best.tos;
  if (r.metric !== best.metric) return r.metric < best.metric;
  return r.seq < best.seq;
}

/** Route types' errors (fib_props[] in net/ipv4/fib_semantics.c). */
const ERRNO: Record<string, RouteResult['errno']> = {
  unreachable: 'EHOSTUNREACH', prohibit: 'EACCES', blackhole: 'EINVAL',
};

/** Rule actions' errors (fib4_rule_action(): FR_ACT_UNREACHABLE is ENETUNREACH). */
const RULE_ERRNO: Record<string, RouteResult['errno']> = {
  unreachable: 'ENETUNREACH', prohibit: 'EACCES', blackhole: 'EINVAL',
};

/**
 * The FIB lookup (fib_lookup() / fib6_rule_lookup()): follow the rules, then the
 * longest prefix match. The result names the route and the source address the
 * kernel would pick.
 */
export function route(host: Host, flow: FlowKey): RouteResult {
  // host.rules is kept in priority order (ruleAdd inserts in place), so no sorting here.
  const rules = host.rulesInUse[flow.family] ? host.rules : IMPLICIT_RULES[flow.family];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.family !== flow.family || !ruleMatches(rule, flow)) continue;
    switch (rule.action) {
      case 'nop': continue;
      case 'goto': {
        const j = rules.findIndex((x) => x.family === flow.family && x.priority >= (rule.target ?? 0));
        if (j > i) i = j - 1;
        continue;
      }
      case 'blackhole': case 'unreachable': case 'prohibit':
        return { type: rule.action, table: 0, mtu: 0, rule, errno: RULE_ERRNO[rule.action] };
      case 'lookup': {
        const r = tableLookup(host, rule.table, flow);
        if (r === undefined || r === 'throw') continue;
        // FRA_SUPPRESS_PREFIXLEN: a result with a prefix this short or shorter is ignored.
        if (rule.suppressPrefixlen >= 0 && r.plen <= rule.suppressPrefixlen) continue;
        return resultFor(host, r, flow, rule);
      }
    }
  }
  return { type: 'unreachable', table: 0, mtu: 0, errno: 'ENETUNREACH' };
}

function resultFor(host: Host, r: Route, flow: FlowKey, rule: Rule): RouteResult {
  const dev = r.dev !== undefined ? linkByIndex(host, r.dev) : undefined;
  const mtu = r.mtu || dev?.mtu || 0;
  switch (r.type) {
    case 'unreachable': case 'prohibit': case 'blackhole':
      return { type: r.type, table: r.table, mtu: 0, route: r, rule, errno: ERRNO[r.type] };
    case 'throw':
      return { type: 'unreachable', table: r.table, mtu: 0, route: r, rule, errno: 'ENETUNREACH' };
    default:
  }
  const type: RouteResultType = r.type === 'local' || r.type === 'broadcast' || r.type === 'multicast' ? r.type : 'unicast';
  const res: RouteResult = { type, table: r.table, mtu, route: r, rule };
  if (dev) res.dev = dev;
  // A gateway that is one of our own addresses resolved through a host-scoped route:
  // the next hop is not link-scoped, so rt_set_nexthop() keeps no gateway.
  if (r.gateway && !(r.family === 4 && gatewayIsLocal(host, r.gateway))) res.gateway = r.gateway;
  if (r.prefsrc) res.prefsrc = r.prefsrc;
  const src = flow.saddr ?? r.prefsrc ?? (type === 'local' && flow.family === 4 ? flow.daddr : undefined) ??
    // fib_info_update_nhc_saddr(): the next hop's source is chosen for its gateway (or
    // none), not for this destination, and cached per next hop.
    (flow.family === 4 ? selectSrc4(host, dev, r.gateway, r.scope) : selectSrc6(host, dev, flow.daddr, type));
  if (src) res.src = src;
  return res;
}

/**
 * inet_select_addr() (net/ipv4/devinet.c): a primary address on the device whose
 * scope is no narrower than the route's, preferring one in the destination's
 * subnet; else a global address of any other device, in device order.
 */
export function selectSrc4(host: Host, dev: Link | undefined, dst: Uint8Array | undefined, scope: number): Uint8Array | undefined {
  let first: IfAddr | undefined;
  if (dev) {
    for (const a of host.addrs) {
      if (a.family !== 4 || a.dev !== dev.index || a.secondary || a.scope > scope) continue;
      if (!dst || prefixMatch(a.local, a.plen, dst)) return a.local;
      first ??= a;
    }
    if (first) return first.local;
  }
  for (const l of host.links) {
    if (dev && l.index === dev.index) continue;
    for (const a of host.addrs) {
      if (a.family === 4 && a.dev === l.index && !a.secondary && a.scope < RT_SCOPE_LINK && a.scope <= scope) return a.local;
    }
  }
  return undefined;
}

/**
 * IPv6 source selection as ipv6_dev_get_saddr() (net/ipv6/addrconf.c) ranks
 * candidates by RFC 6724 §5: the destination itself (rule 1), the smallest scope
 * not below the destination's (rule 2), the outgoing interface (rule 5), a
 * matching policy label (rule 6), then the longest common prefix up to the
 * candidate's prefix length (rule 8). Candidates are every address of every link
 * in link order, or only the outgoing link's for link-local and multicast
 * destinations. Ties keep the earlier candidate.
 */
export function selectSrc6(host: Host, dev: Link | undefined, dst: Uint8Array, _type: RouteResultType): Uint8Array | undefined {
  const dscope = scope6(dst);
  const oifOnly = dst[0] === 0xff || dscope <= 2;
  let best: number[] | undefined, bestAddr: Uint8Array | undefined;
  const links = host.links.slice().sort((a, b) => a.index - b.index);
  for (const l of links) {
    if (oifOnly && (!dev || l.index !== dev.index)) continue;
    for (const a of host.addrs) {
      if (a.family !== 6 || a.dev !== l.index) continue;
      const s = scope6(a.local);
      const score = [
        equalAddr(a.local, dst) ? 1 : 0,
        s >= dscope ? -s : s - 128,
        dev && a.dev === dev.index ? 1 : 0,
        label6(a.local) === label6(dst) ? 1 : 0,
        Math.min(commonPrefix(a.local, dst), a.plen),
      ];
      if (!best || greater(score, best)) { best = score; bestAddr = a.local; }
    }
  }
  return bestAddr;
}

function greater(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/** IPV6_ADDR_SCOPE_* of an address: 1 loopback, 2 link-local, 5 site-local, 14 global (multicast: its scope field). */
function scope6(a: Uint8Array): number {
  if (a[0] === 0xff) return a[1]! & 0x0f;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) return 2;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0xc0) return 5;
  let z = true;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) { z = false; break; }
  if (z && a[15] === 1) return 1;
  return 14;
}

/** RFC 6724 §2.1 default policy table labels (the ones that can differ here). */
function label6(a: Uint8Array): number {
  let z = true;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) { z = false; break; }
  if (z && a[15] === 1) return 0;
  if (a[0] === 0x20 && a[1] === 0x02) return 2;
  if (a[0] === 0x20 && a[1] === 0x01 && a[2] === 0 && a[3] === 0) return 5;
  if ((a[0]! & 0xfe) === 0xfc) return 13;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0xc0) return 11;
  if (a[0] === 0x3f && a[1] === 0xfe) return 12;
  let v4mapped = true;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) { v4mapped = false; break; }
  if (v4mapped && a[10] === 0xff && a[11] === 0xff) return 4;
  if (v4mapped && a[10] === 0 && a[11] === 0) return 3;
  return 1;
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) { n += 8; continue; }
    return n + Math.clz32(x) - 24;
  }
  return n;
}

