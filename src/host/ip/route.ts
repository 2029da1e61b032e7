/**
 * `ip route add|append|prepend|replace|change|del|show|flush|get` (ip/iproute.c):
 * the request as iproute2 builds it, the listing as print_route() prints it.
 */
import { equalAddr, formatAddr, prefixMatch, type Family } from '../inet.js';
import { dumpOrder, route as fibRoute, type FlowKey } from '../fib.js';
import { HostError, rtnetlink } from '../errors.js';
import { IP_ROUTE_USAGE } from './route-usage.js';
import { hasCarrier, linkByIndex } from '../links.js';
import { routeAdd, routeDel, type RouteMode, type RouteSpec, type RouteDelSpec } from '../routes.js';
import type { Host, Route, RouteType } from '../types.js';
import { RTPROT_BOOT, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_LOCAL, RT_TABLE_MAIN } from '../types.js';
import {
  Args, fail, findDev, garbage, json, matches, parseInetAddr, parseInetPrefix, parseProto, parseScope, parseTable,
  parseU32, protoName, scopeName, tableName, type IpIo, type IpOptions,
} from './util.js';

const TYPES: RouteType[] = ['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw'];

export function ipRoute(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (matches(cmd, 'add')) return modify(host, a, opts, 'add');
  if (matches(cmd, 'change') || cmd === 'chg') return modify(host, a, opts, 'change');
  if (matches(cmd, 'replace')) return modify(host, a, opts, 'replace');
  if (matches(cmd, 'prepend')) return modify(host, a, opts, 'prepend');
  if (matches(cmd, 'append')) return modify(host, a, opts, 'append');
  if (matches(cmd, 'delete')) return modify(host, a, opts, 'del');
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return show(host, a, opts, io, false);
  if (matches(cmd, 'get')) return get(host, a, opts, io);
  if (matches(cmd, 'flush')) {
    if (a.done) throw fail('"ip route flush" requires arguments.');
    return show(host, a, opts, io, true);
  }
  if (matches(cmd, 'help')) throw usage();
  throw fail(`Command "${cmd}" is unknown, try "ip route help".`, 255);
}

/** usage() of ip/iproute.c: its text on stderr, exit(-1). */
function usage(): HostError {
  return new HostError(IP_ROUTE_USAGE, 255);
}

interface Parsed {
  type?: RouteType;
  dst?: { family: Family; addr: Uint8Array; plen: number };
  table?: number;
  /** The `dev` word: iproute_modify() looks it up only after the whole line parsed (and a destination was found). */
  devName?: string;
  gateway?: Uint8Array;
  prefsrc?: Uint8Array;
  metric?: number;
  proto?: number;
  scope?: number;
  tos: number;
  mtu: number;
  onlink: boolean;
  pref: Route['pref'];
}

function parse(host: Host, a: Args, opts: IpOptions): Parsed {
  const p: Parsed = { tos: 0, mtu: 0, onlink: false, pref: 'medium' };
  let family = opts.family;
  while (!a.done) {
    const w = a.take();
    if (w === 'src') { p.prefsrc = parseInetAddr(a.value(), family); family ??= p.prefsrc.length === 4 ? 4 : 6; continue; }
    if (w === 'via') {
      let v = a.value();
      if (v === 'inet' || v === 'inet6') v = a.value();
      p.gateway = parseInetAddr(v, family);
      family ??= p.gateway.length === 4 ? 4 : 6;
      continue;
    }
    if (w === 'tos' || w === 'dsfield') {
      const v = a.value();
      const n = parseU32(v);
      if (n === undefined || n > 255) throw fail(`Error: argument "${v}" is wrong: "tos" value is invalid`);
      p.tos = n;
      continue;
    }
    if (w === 'metric' || w === 'priority' || w === 'preference') {
      const v = a.value();
      const n = parseU32(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: "metric" value is invalid`);
      p.metric = n;
      continue;
    }
    if (w === 'scope') {
      const v = a.value();
      const s = parseScope(v);
      if (s === undefined) throw fail(`Error: argument "${v}" is wrong: invalid "scope" value`);
      p.scope = s;
      continue;
    }
    if (w === 'dev' || w === 'oif') { p.devName = a.value(); continue; }
    if (w === 'table') {
      const v = a.value();
      const t = parseTable(v);
      if (t === undefined) throw fail(`Error: argument "${v}" is wrong: "table" value is invalid`);
      p.table = t;
      continue;
    }
    if (w === 'proto' || w === 'protocol') {
      const v = a.value();
      const n = parseProto(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: "protocol" value is invalid`);
      p.proto = n;
      continue;
    }
    if (w === 'mtu') {
      let v = a.value();
      if (v === 'lock') v = a.value();
      const n = parseU32(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: "mtu" value is invalid`);
      p.mtu = n;
      continue;
    }
    if (w === 'onlink') { p.onlink = true; continue; }
    if (w === 'pref') {
      const v = a.value();
      if (v !== 'low' && v !== 'medium' && v !== 'high') throw fail(`Error: argument "${v}" is wrong: "pref" value is invalid`);
      p.pref = v;
      continue;
    }
    if (w === 'nexthop' || w === 'nhid' || w === 'encap') throw fail(`Error: nfx does not model "${w}" routes yet.`);
    let text = w;
    if (w === 'to') text = a.value();
    if (p.type === undefined && !p.dst && (text[0]! < '0' || text[0]! > '9') && (TYPES as string[]).includes(text) && text !== 'default') {
      p.type = text as RouteType;
      text = a.value();
    }
    if (p.dst) throw garbage('to', text);
    p.dst = parseInetPrefix(text, family);
    family ??= p.dst.family;
  }
  return p;
}

function modify(host: Host, a: Args, opts: IpOptions, mode: RouteMode | 'del'): number {
  const p = parse(host, a, opts);
  // iproute_modify(): `if (!dst_ok) usage();` — the whole usage, exit -1 (255).
  if (!p.dst) throw usage();
  const dev = p.devName !== undefined ? findDev(host, p.devName).index : undefined;
  const family = p.dst.family;
  if (p.gateway && p.gateway.length !== p.dst.addr.length) {
    throw fail(`Error: ${family === 4 ? 'inet' : 'inet6'} address is expected rather than "${formatAddr(p.gateway)}".`);
  }
  const table = p.table ?? (p.type === 'local' || p.type === 'broadcast' || p.type === 'nat' as never ? RT_TABLE_LOCAL : RT_TABLE_MAIN);
  if (mode === 'del') {
    const d: RouteDelSpec = { family, table, dst: p.dst.addr, plen: p.dst.plen, tos: p.tos };
    if (p.type) d.type = p.type;
    if (p.metric !== undefined) d.metric = p.metric;
    if (p.proto !== undefined) d.proto = p.proto;
    if (p.scope !== undefined) d.scope = p.scope;
    if (dev !== undefined) d.dev = dev;
    if (p.gateway) d.gateway = p.gateway;
    if (p.prefsrc) d.prefsrc = p.prefsrc;
    if (p.mtu) d.mtu = p.mtu;
    routeDel(host, d);
    return 0;
  }
  const type = p.type ?? 'unicast';
  // iproute2's default scope: host for local, link for broadcast/multicast/anycast and
  // for unicast without a gateway, universe otherwise.
  let scope = p.scope;
  if (scope === undefined) {
    if (type === 'local') scope = RT_SCOPE_HOST;
    else if (type === 'broadcast' || type === 'multicast' || type === 'anycast') scope = RT_SCOPE_LINK;
    else if (type === 'unicast' && !p.gateway) scope = RT_SCOPE_LINK;
    else scope = RT_SCOPE_UNIVERSE;
  }
  if (family === 6) scope = RT_SCOPE_UNIVERSE;
  if (family === 6 && p.tos) throw fail('Error: Invalid dsfield (tos): option not available for IPv6.', 2);
  const spec: RouteSpec = {
    family, table, type, dst: p.dst.addr, plen: p.dst.plen, tos: p.tos,
    metric: p.metric ?? (family === 6 ? 1024 : 0), proto: p.proto ?? RTPROT_BOOT, scope, mtu: p.mtu, onlink: p.onlink,
    pref: p.pref,
  };
  if (dev !== undefined) spec.dev = dev;
  if (p.gateway) spec.gateway = p.gateway;
  if (p.prefsrc) spec.prefsrc = p.prefsrc;
  routeAdd(host, spec, mode);
  return 0;
}

// ---------------------------------------------------------------------------
// Listing

function linkdown(host: Host, r: Route): boolean {
  if (r.dev === undefined || r.scope === RT_SCOPE_HOST) return false;
  if (r.family === 6 && r.type === 'local') return false;
  const l = linkByIndex(host, r.dev);
  return !!l && !hasCarrier(host, l);
}

function dstText(r: Route): string {
  if (r.plen === 0) return 'default';
  return r.plen === r.dst.length * 8 ? formatAddr(r.dst) : `${formatAddr(r.dst)}/${r.plen}`;
}

export interface PrintCtx { showTable: boolean }

/** print_route(): one line (text) of a route. */
export function routeText(host: Host, r: Route, c: PrintCtx): string {
  let s = '';
  if (r.type !== 'unicast') s += `${r.type} `;
  s += `${dstText(r)} `;
  if (r.tos) s += `tos 0x${r.tos.toString(16)} `;
  if (r.gateway) s += `via ${formatAddr(r.gateway)} `;
  if (r.dev !== undefined && !(r.family === 4 && isReject(r.type))) s += `dev ${linkByIndex(host, r.dev)?.name ?? r.dev} `;
  if (c.showTable && r.table !== RT_TABLE_MAIN) s += `table ${tableName(r.table)} `;
  if (r.proto !== RTPROT_BOOT) s += `proto ${protoName(r.proto)} `;
  if (r.scope !== RT_SCOPE_UNIVERSE) s += `scope ${scopeName(r.scope)} `;
  if (r.prefsrc) s += `src ${formatAddr(r.prefsrc)} `;
  if (r.family === 6 || r.metric) s += `metric ${r.metric} `;
  if (r.onlink) s += 'onlink ';
  if (linkdown(host, r)) s += 'linkdown ';
  if (r.mtu) s += `mtu ${r.mtu} `;
  if (r.family === 6) s += `pref ${r.pref}`;
  return s;
}

function isReject(t: RouteType): boolean {
  return t === 'blackhole' || t === 'unreachable' || t === 'prohibit' || t === 'throw';
}

export function routeJson(host: Host, r: Route, c: PrintCtx): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (r.type !== 'unicast') o['type'] = r.type;
  o['dst'] = dstText(r);
  if (r.tos) o['tos'] = `0x${r.tos.toString(16)}`;
  if (r.gateway) o['gateway'] = formatAddr(r.gateway);
  if (r.dev !== undefined && !(r.family === 4 && isReject(r.type))) o['dev'] = linkByIndex(host, r.dev)?.name ?? r.dev;
  if (c.showTable && r.table !== RT_TABLE_MAIN) o['table'] = tableName(r.table);
  if (r.proto !== RTPROT_BOOT) o['protocol'] = protoName(r.proto);
  if (r.scope !== RT_SCOPE_UNIVERSE) o['scope'] = scopeName(r.scope);
  if (r.prefsrc) o['prefsrc'] = formatAddr(r.prefsrc);
  if (r.family === 6 || r.metric) o['metric'] = r.metric;
  const flags: string[] = [];
  if (r.onlink) flags.push('onlink');
  if (linkdown(host, r)) flags.push('linkdown');
  o['flags'] = flags;
  if (r.mtu) o['metrics'] = [{ mtu: r.mtu }];
  if (r.family === 6) o['pref'] = r.pref;
  return o;
}

function show(host: Host, a: Args, opts: IpOptions, io: IpIo, flush: boolean): number {
  let table: number | 'all' = RT_TABLE_MAIN;
  let tableGiven = false;
  let dev: number | undefined, proto: number | undefined, scope: number | undefined, type: RouteType | undefined;
  let via: Uint8Array | undefined;
  let exact: { addr: Uint8Array; plen: number } | undefined;
  let root: { addr: Uint8Array; plen: number } | undefined;
  let match: { addr: Uint8Array; plen: number } | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'table') {
      const v = a.value();
      tableGiven = true;
      if (v === 'all' || v === 'cache') { table = 'all'; continue; }
      const t = parseTable(v);
      if (t === undefined) throw fail(`Error: argument "${v}" is wrong: table id value is invalid`);
      table = t;
      continue;
    }
    if (w === 'dev' || w === 'oif') { dev = findDev(host, a.value()).index; continue; }
    if (w === 'proto' || w === 'protocol') { proto = parseProto(a.value()); continue; }
    if (w === 'scope') { scope = parseScope(a.value()); continue; }
    if (w === 'type') { type = a.value() as RouteType; continue; }
    if (w === 'via') { via = parseInetAddr(a.value(), opts.family); continue; }
    if (w === 'root') { root = parseInetPrefix(a.value(), opts.family); continue; }
    if (w === 'match') { match = parseInetPrefix(a.value(), opts.family); continue; }
    if (w === 'exact') { exact = parseInetPrefix(a.value(), opts.family); continue; }
    if ((TYPES as string[]).includes(w)) { type = w as RouteType; continue; }
    exact = parseInetPrefix(w === 'to' ? a.value() : w, opts.family);
  }
  // Without a table (so: main) iproute2 lists IPv4 only unless -6 is given.
  let family = opts.family ?? (exact ? (exact.addr.length === 4 ? 4 : 6) : undefined);
  if (!family && (!tableGiven || table !== 'all')) family = 4;
  const selected = dumpOrder(host, host.routes).filter((r) => {
    if (family && r.family !== family) return false;
    if (table !== 'all' && r.table !== table) return false;
    if (dev !== undefined && r.dev !== dev) return false;
    if (proto !== undefined && r.proto !== proto) return false;
    if (scope !== undefined && r.scope !== scope) return false;
    if (type !== undefined && r.type !== type) return false;
    if (via && !(r.gateway && equalAddr(r.gateway, via))) return false;
    if (exact && !(r.plen === exact.plen && r.dst.length === exact.addr.length && prefixMatch(exact.addr, exact.plen, r.dst))) return false;
    if (root && !(r.dst.length === root.addr.length && r.plen >= root.plen && prefixMatch(root.addr, root.plen, r.dst))) return false;
    if (match && !(r.dst.length === match.addr.length && r.plen <= match.plen && prefixMatch(r.dst, r.plen, match.addr))) return false;
    return true;
  });
  if (flush) {
    const gone = new Set(selected);
    host.routes = host.routes.filter((r) => !gone.has(r));
    return 0;
  }
  const c: PrintCtx = { showTable: table === 'all' };
  if (opts.json) io.out(json(selected.map((r) => routeJson(host, r, c))) + '\n');
  else for (const r of selected) io.out(routeText(host, r, c) + '\n');
  return 0;
}

// ---------------------------------------------------------------------------
// ip route get

const ERRNO_TEXT = { ENETUNREACH: 'ENETUNREACH', EHOSTUNREACH: 'EHOSTUNREACH', EACCES: 'EACCES', EINVAL: 'EINVAL' } as const;

function get(host: Host, a: Args, opts: IpOptions, io: IpIo): number {
  let dst: Uint8Array | undefined;
  const flow: Partial<FlowKey> = {};
  while (!a.done) {
    const w = a.take();
    if (w === 'from') { flow.saddr = parseInetPrefix(a.value(), opts.family).addr; continue; }
    if (w === 'iif') { flow.iif = findDev(host, a.value()).name; continue; }
    if (w === 'oif' || w === 'dev') { flow.oif = findDev(host, a.value()).name; continue; }
    if (w === 'mark') {
      const v = a.value();
      const n = parseU32(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: mark value is invalid`);
      flow.mark = n;
      continue;
    }
    if (w === 'tos' || w === 'dsfield') { flow.tos = parseU32(a.value()) ?? 0; continue; }
    if (w === 'connected' || w === 'fibmatch' || w === 'notify') continue;
    if (w === 'to') { dst = parseInetPrefix(a.value(), opts.family).addr; continue; }
    if (dst) throw garbage('to', w);
    dst = parseInetPrefix(w, opts.family).addr;
  }
  if (!dst) throw fail('need at least a destination address');
  const family: Family = dst.length === 4 ? 4 : 6;
  const res = fibRoute(host, { ...flow, family, daddr: dst });
  if (res.errno || !res.route) {
    // Without a route but with an output device the kernel assumes the destination is on-link.
    if (family === 4 && res.errno === 'ENETUNREACH' && flow.oif) {
      throw rtnetlink(ERRNO_TEXT.ENETUNREACH);
    }
    throw rtnetlink(res.errno ?? 'ENETUNREACH');
  }
  const r = res.route;
  const local = res.type === 'local';
  const devName = local ? 'lo' : res.dev?.name;
  const showTable = family === 6 ? r.table !== RT_TABLE_MAIN : host.customRules4 && r.table !== RT_TABLE_MAIN;
  const src = res.src ? formatAddr(res.src) : undefined;
  if (opts.json) {
    const o: Record<string, unknown> = {};
    if (res.type !== 'unicast') o['type'] = res.type;
    o['dst'] = formatAddr(dst);
    if (family === 6) o['from'] = flow.saddr ? formatAddr(flow.saddr) : '::';
    if (res.gateway) o['gateway'] = formatAddr(res.gateway);
    if (devName) o['dev'] = devName;
    if (showTable) o['table'] = tableName(r.table);
    if (family === 6 && r.proto !== RTPROT_BOOT) o['protocol'] = protoName(r.proto);
    if (src) o['prefsrc'] = src;
    if (family === 6) o['metric'] = r.metric;
    o['flags'] = [];
    if (family === 4) {
      o['uid'] = 0;
      o['cache'] = local ? ['local'] : res.type === 'broadcast' ? ['local', 'brd'] : [];
      if (r.mtu) o['metrics'] = [{ mtu: r.mtu }];
    } else {
      o['pref'] = r.pref;
    }
    io.out(json([o]) + '\n');
    return 0;
  }
  let s = res.type !== 'unicast' ? `${res.type} ` : '';
  s += `${formatAddr(dst)} `;
  if (family === 6) s += `from ${flow.saddr ? formatAddr(flow.saddr) : '::'} `;
  else if (flow.saddr) s += `from ${formatAddr(flow.saddr)} `;
  if (res.gateway) s += `via ${formatAddr(res.gateway)} `;
  if (devName) s += `dev ${devName} `;
  if (showTable) s += `table ${tableName(r.table)} `;
  if (family === 6 && r.proto !== RTPROT_BOOT) s += `proto ${protoName(r.proto)} `;
  if (src) s += `src ${src} `;
  if (family === 6) {
    s += `metric ${r.metric} pref ${r.pref}\n`;
  } else {
    // iproute2 prints marks below 16 in decimal and the rest in hex (seen with iproute2 6.1).
    if (flow.mark) s += `mark ${flow.mark < 16 ? flow.mark : `0x${flow.mark.toString(16)}`} `;
    s += 'uid 0 \n    cache ';
    if (local) s += '<local> ';
    else if (res.type === 'broadcast') s += '<local,brd> ';
    if (r.mtu) s += `mtu ${r.mtu} `;
    s += '\n';
  }
  io.out(s);
  return 0;
}
