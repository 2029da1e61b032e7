/**
 * `ip addr add|del|flush|show` (ip/ipaddress.c): argument parsing and the
 * address listing, line for line as iproute2 prints it.
 */
import { broadcast4, equalAddr, formatAddr, parseAddr, type Family } from '../inet.js';
import { extack } from '../errors.js';
import { addrAdd, addrDel } from '../model.js';
import type { Host, IfAddr, Link } from '../types.js';
import { RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE } from '../types.js';
import { briefHead, linkJson, linkText, selectLinks } from './link.js';
import {
  Args, fail, findDev, json, matches, parseInetPrefix, parseScope, parseU32, scopeName, garbage,
  type IpIo, type IpOptions,
} from './util.js';

export function ipAddr(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (matches(cmd, 'add')) return modify(host, a, opts, 'add', io);
  if (matches(cmd, 'change') || cmd === 'chg' || matches(cmd, 'replace')) return modify(host, a, opts, 'replace', io);
  if (matches(cmd, 'delete')) return modify(host, a, opts, 'del', io);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return show(host, a, opts, io);
  if (matches(cmd, 'flush')) return flush(host, a, opts);
  throw fail(`Command "${cmd}" is unknown, try "ip address help".`, 255);
}

function modify(host: Host, a: Args, opts: IpOptions, mode: 'add' | 'replace' | 'del', io: IpIo): number {
  let local: { family: Family; addr: Uint8Array; plen: number; given: boolean } | undefined;
  let dev: Link | undefined;
  let devName: string | undefined;
  let brd: Uint8Array | '+' | '-' | undefined;
  let scope: number | undefined;
  let label: string | undefined;
  let metric = 0;
  let nodad = false, noprefixroute = false;
  let peer: Uint8Array | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { devName = a.value(); continue; }
    if (w === 'broadcast' || w === 'brd') {
      const v = a.value();
      if (v === '+' || v === '-') brd = v;
      else {
        const b = parseAddr(v, 4);
        if (!b) throw fail(`Error: inet address is expected rather than "${v}".`);
        brd = b;
      }
      continue;
    }
    if (w === 'scope') {
      const v = a.value();
      const s = parseScope(v);
      if (s === undefined) throw fail(`Error: argument "${v}" is wrong: invalid scope value.`);
      scope = s;
      continue;
    }
    if (w === 'label') { label = a.value(); continue; }
    if (w === 'metric' || w === 'priority' || w === 'preference') {
      const v = a.value();
      const n = parseU32(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: metric value is invalid`);
      metric = n;
      continue;
    }
    if (w === 'nodad') { nodad = true; continue; }
    if (w === 'noprefixroute') { noprefixroute = true; continue; }
    if (w === 'peer' || w === 'remote') { peer = parseInetPrefix(a.value(), opts.family).addr; continue; }
    if (w === 'valid_lft' || w === 'preferred_lft') { a.value(); continue; }
    if (w === 'home' || w === 'mngtmpaddr' || w === 'autojoin' || w === 'optimistic') continue;
    if (w === 'local' || local === undefined) {
      const text = w === 'local' ? a.value() : w;
      if (local) throw garbage('local', text);
      const p = parseInetPrefix(text, opts.family);
      local = { ...p, given: text.includes('/') };
      continue;
    }
    throw garbage('local', w);
  }
  if (devName === undefined) throw fail('Not enough information: "dev" argument is required.');
  dev = findDev(host, devName);
  if (!local) throw fail('Not enough information: "local" argument is required.');
  if (mode === 'del') return del(host, dev, local, io);
  const family = local.family;
  if (scope === undefined) {
    // iproute2: an IPv4 loopback address (127/8) defaults to scope host; IPv6 scope follows the address.
    if (family === 4) scope = local.addr[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
    else scope = local.addr[0] === 0xfe && (local.addr[1]! & 0xc0) === 0x80 ? RT_SCOPE_LINK : isLoop6(local.addr) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  }
  const addr: IfAddr = {
    family, dev: dev.index, local: local.addr, plen: local.plen, scope, secondary: false, nodad, noprefixroute,
    kernel: false, metric,
  };
  if (family === 4) {
    addr.label = label ?? dev.name;
    if (brd instanceof Uint8Array) addr.broadcast = brd;
    else if (brd === '+' && local.plen <= 30) addr.broadcast = broadcast4(local.addr, local.plen);
    if (peer) addr.peer = peer;
  }
  if (mode === 'replace') {
    const old = host.addrs.find((x) => x.family === family && x.dev === dev!.index && equalAddr(x.local, local!.addr) && (family === 6 || x.plen === local!.plen));
    if (old) { Object.assign(old, { ...addr, secondary: old.secondary }); return 0; }
  }
  addrAdd(host, addr);
  return 0;
}

function isLoop6(a: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

function del(host: Host, dev: Link, local: { family: Family; addr: Uint8Array; plen: number; given: boolean }, io: IpIo): number {
  if (local.family === 4 && !local.given) {
    io.err(`Warning: Executing wildcard deletion to stay compatible with old scripts.\n         Explicitly specify the prefix length (${formatAddr(local.addr)}/32) to avoid this warning.\n         This special behaviour is likely to disappear in further releases,\n         fix your scripts!\n`);
  }
  const hit = host.addrs.find((x) => x.family === local.family && x.dev === dev.index && equalAddr(x.local, local.addr) &&
    (local.family === 6 ? x.plen === local.plen : !local.given || x.plen === local.plen));
  if (!hit) throw extack(local.family === 4 ? 'ipv4: Address not found.' : 'ipv6: address not found.');
  addrDel(host, hit);
  return 0;
}

function flush(host: Host, a: Args, opts: IpOptions): number {
  if (a.done) throw fail('Flush requires arguments.');
  let scope: number | undefined;
  const links = selectLinks(host, a, (w) => {
    if (w === 'scope') { scope = parseScope(a.value()); return true; }
    return false;
  });
  for (const l of links) {
    // One deletion at a time, as iproute2 sends them; a primary's secondaries go with it.
    for (;;) {
      const x = host.addrs.find((y) => y.dev === l.index && (!opts.family || y.family === opts.family) && (scope === undefined || y.scope === scope));
      if (!x) break;
      addrDel(host, x);
    }
  }
  return 0;
}

/** The address lines of one link, in the kernel's list order: IPv4 first, then IPv6. */
export function addrLines(host: Host, l: Link, family?: Family): string {
  let s = '';
  for (const x of addrsOf(host, l, family)) {
    if (x.family === 4) {
      s += `    inet ${formatAddr(x.local)}`;
      if (x.peer) s += ` peer ${formatAddr(x.peer)}/${x.plen}`; else s += `/${x.plen}`;
      if (x.broadcast) s += ` brd ${formatAddr(x.broadcast)}`;
      s += ` scope ${scopeName(x.scope)} `;
      s += flagWords(x).map((f) => f + ' ').join('');
      s += `${x.label ?? l.name}\n`;
    } else {
      s += `    inet6 ${formatAddr(x.local)}/${x.plen} scope ${scopeName(x.scope)} ${flagWords(x).map((f) => f + ' ').join('')}\n`;
    }
    s += '       valid_lft forever preferred_lft forever\n';
  }
  return s;
}

function flagWords(x: IfAddr): string[] {
  const f: string[] = [];
  if (x.secondary) f.push('secondary');
  if (x.nodad) f.push('nodad');
  if (x.noprefixroute) f.push('noprefixroute');
  return f;
}

export function addrsOf(host: Host, l: Link, family?: Family): IfAddr[] {
  const v4 = host.addrs.filter((x) => x.dev === l.index && x.family === 4);
  const v6 = host.addrs.filter((x) => x.dev === l.index && x.family === 6);
  return family === 4 ? v4 : family === 6 ? v6 : [...v4, ...v6];
}

export function addrJson(x: IfAddr, l: Link): Record<string, unknown> {
  const o: Record<string, unknown> = { family: x.family === 4 ? 'inet' : 'inet6', local: formatAddr(x.local) };
  if (x.peer) o['address'] = formatAddr(x.peer);
  o['prefixlen'] = x.plen;
  if (x.broadcast) o['broadcast'] = formatAddr(x.broadcast);
  o['scope'] = scopeName(x.scope);
  if (x.secondary) o['secondary'] = true;
  if (x.nodad) o['nodad'] = true;
  if (x.noprefixroute) o['noprefixroute'] = true;
  if (x.family === 4) o['label'] = x.label ?? l.name;
  o['valid_life_time'] = 4294967295;
  o['preferred_life_time'] = 4294967295;
  return o;
}

function show(host: Host, a: Args, opts: IpOptions, io: IpIo): number {
  let links = selectLinks(host, a);
  // With -4 or -6, links without an address of that family are left out.
  if (opts.family) links = links.filter((l) => addrsOf(host, l, opts.family).length > 0);
  if (opts.brief) {
    if (opts.json) {
      io.out(json(links.map((l) => {
        const o: Record<string, unknown> = {};
        const full = linkJson(host, l, false);
        if (full['link'] !== undefined) o['link'] = full['link'];
        o['ifname'] = l.name;
        o['operstate'] = full['operstate'];
        o['addr_info'] = addrsOf(host, l, opts.family).map((x) => ({ local: formatAddr(x.local), prefixlen: x.plen }));
        return o;
      })) + '\n');
    } else {
      for (const l of links) io.out(briefHead(host, l) + addrsOf(host, l, opts.family).map((x) => `${formatAddr(x.local)}/${x.plen} `).join('') + '\n');
    }
    return 0;
  }
  if (opts.json) {
    io.out(json(links.map((l) => ({ ...linkJson(host, l, false), addr_info: addrsOf(host, l, opts.family).map((x) => addrJson(x, l)) }))) + '\n');
    return 0;
  }
  for (const l of links) {
    const text = linkText(host, l, false);
    io.out(opts.family ? text.split('\n')[0] + '\n' : text);
    io.out(addrLines(host, l, opts.family));
  }
  return 0;
}
