/**
 * `ip link add|set|del|show`: the link list as iproute2 prints it
 * (ip/ipaddress.c print_linkinfo).
 */
import { formatMac, parseMac } from '../inet.js';
import { extack, rtnetlink } from '../errors.js';
import { hasCarrier, linkByIndex, validIfname } from '../links.js';
import { linkAdd, linkDel, linkSetUp, type LinkAddOptions } from '../model.js';
import type { Host, Link, LinkKind } from '../types.js';
import { Args, fail, findDev, json, matches, parseU32, type IpIo, type IpOptions } from './util.js';

/** The IFF_* flags iproute2 prints, in its order (print_link_flags). */
export function linkFlags(host: Host, l: Link): string[] {
  const f: string[] = [];
  const carrier = hasCarrier(host, l);
  if (l.up && !carrier) f.push('NO-CARRIER');
  if (l.kind === 'loopback') f.push('LOOPBACK');
  else {
    f.push('BROADCAST');
    if (l.kind !== 'dummy') f.push('MULTICAST');
    if (l.kind === 'dummy') f.push('NOARP');
  }
  if (l.up) f.push('UP');
  if (carrier) f.push('LOWER_UP');
  if (l.kind === 'veth') {
    const peer = l.peer !== undefined ? linkByIndex(host, l.peer) : undefined;
    if (peer && !peer.up) f.push('M-DOWN');
  }
  return f;
}

/** IF_OPER_*: UNKNOWN for links without carrier management (lo, dummy), else UP/LOWERLAYERDOWN/DOWN. */
export function operState(host: Host, l: Link): string {
  if (!l.up) return 'DOWN';
  if (l.kind === 'loopback' || l.kind === 'dummy') return 'UNKNOWN';
  return hasCarrier(host, l) ? 'UP' : 'LOWERLAYERDOWN';
}

function qdisc(l: Link): string { return l.everUp ? 'noqueue' : 'noop'; }

function peerName(host: Host, l: Link): string | undefined {
  return l.peer !== undefined ? linkByIndex(host, l.peer)?.name : undefined;
}

/** The first two lines of a link (`ip link` adds `mode DEFAULT`, `ip addr` does not). */
export function linkText(host: Host, l: Link, withMode: boolean): string {
  const peer = peerName(host, l);
  const name = peer ? `${l.name}@${peer}` : l.name;
  let s = `${l.index}: ${name}: <${linkFlags(host, l).join(',')}> mtu ${l.mtu} qdisc ${qdisc(l)} state ${operState(host, l)} `;
  if (withMode) s += 'mode DEFAULT ';
  s += `group default qlen ${l.txqlen}\n`;
  const brd = l.kind === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff';
  s += `    link/${l.kind === 'loopback' ? 'loopback' : 'ether'} ${formatMac(l.mac)} brd ${brd}\n`;
  return s;
}

export function linkJson(host: Host, l: Link, withMode: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { ifindex: l.index };
  const peer = peerName(host, l);
  if (peer) o['link'] = peer;
  o['ifname'] = l.name;
  o['flags'] = linkFlags(host, l);
  o['mtu'] = l.mtu;
  o['qdisc'] = qdisc(l);
  o['operstate'] = operState(host, l);
  if (withMode) o['linkmode'] = 'DEFAULT';
  o['group'] = 'default';
  o['txqlen'] = l.txqlen;
  o['link_type'] = l.kind === 'loopback' ? 'loopback' : 'ether';
  o['address'] = formatMac(l.mac);
  o['broadcast'] = l.kind === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff';
  return o;
}

const KINDS: Record<string, LinkKind> = { dummy: 'dummy', veth: 'veth', ether: 'ether' };

export function ipLink(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (matches(cmd, 'add')) return add(host, a);
  if (matches(cmd, 'set') || matches(cmd, 'change')) return set(host, a);
  if (matches(cmd, 'delete')) return del(host, a);
  if (matches(cmd, 'show') || matches(cmd, 'list') || matches(cmd, 'lst')) return show(host, a, opts, io);
  throw fail(`Command "${cmd}" is unknown, try "ip link help".`, 255);
}

function add(host: Host, a: Args): number {
  let name: string | undefined;
  let type: string | undefined;
  const o: Partial<LinkAddOptions> = {};
  while (!a.done) {
    const w = a.take();
    if (w === 'name' || w === 'dev') { name = a.argv[a.i++]; continue; }
    if (w === 'type') {
      type = a.argv[a.i++];
      if (type === 'veth') {
        // veth's own arguments: `peer [name] NAME [address LLADDR]`.
        while (!a.done) {
          const v = a.take();
          if (v === 'peer') continue;
          if (v === 'name') { o.peerName = a.argv[a.i++]; continue; }
          if (v === 'address') { o.peerMac = mac(a.argv[a.i++] ?? ''); continue; }
          if (o.peerName === undefined) { o.peerName = v; continue; }
          throw fail(`Error: argument "${v}" is wrong: unknown veth option`);
        }
      }
      continue;
    }
    if (w === 'address') { o.mac = mac(a.argv[a.i++] ?? ''); continue; }
    if (w === 'mtu') { o.mtu = num(a.argv[a.i++], 'mtu'); continue; }
    if (w === 'txqueuelen' || w === 'txqlen' || w === 'qlen') { o.txqlen = num(a.argv[a.i++], 'txqueuelen'); continue; }
    if (name === undefined) { name = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (name === undefined) throw fail('Not enough information: "dev" argument is required.');
  if (!validIfname(name) || (o.peerName !== undefined && !validIfname(o.peerName))) throw fail(`Error: argument "${name}" is wrong: "name" not a valid ifname`);
  if (type === undefined) type = 'ether';
  const kind = KINDS[type];
  if (!kind) throw extack('Unknown device type.');
  if (o.mtu !== undefined && (o.mtu < 68 || o.mtu > 65535)) throw extack(o.mtu < 68 ? 'mtu less than device minimum.' : 'mtu greater than device maximum.');
  linkAdd(host, name, { ...o, kind });
  return 0;
}

function mac(text: string): Uint8Array {
  const m = parseMac(text);
  if (!m) throw fail(`"${text}" is invalid lladdr.`);
  return m;
}

function num(text: string | undefined, what: string): number {
  const n = text === undefined ? undefined : parseU32(text);
  if (n === undefined) throw fail(`Error: argument "${text ?? ''}" is wrong: Invalid "${what}" value`);
  return n;
}

function set(host: Host, a: Args): number {
  let dev: Link | undefined;
  const ops: (() => void)[] = [];
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { dev = findDev(host, a.argv[a.i++] ?? ''); continue; }
    if (w === 'up' || w === 'down') { const up = w === 'up'; ops.push(() => linkSetUp(host, dev!, up)); continue; }
    if (w === 'mtu') {
      const n = num(a.argv[a.i++], 'mtu');
      ops.push(() => {
        if (n < 68 && dev!.kind !== 'loopback') throw extack('mtu less than device minimum.');
        if (n > 65535 && dev!.kind !== 'loopback') throw extack('mtu greater than device maximum.');
        dev!.mtu = n;
      });
      continue;
    }
    if (w === 'address') {
      const m = mac(a.argv[a.i++] ?? '');
      ops.push(() => { if (m[0]! & 1) throw rtnetlink('EADDRNOTAVAIL'); dev!.mac = m; });
      continue;
    }
    if (w === 'txqueuelen' || w === 'txqlen' || w === 'qlen') { const n = num(a.argv[a.i++], 'txqueuelen'); ops.push(() => { dev!.txqlen = n; }); continue; }
    if (w === 'name') {
      const n = a.argv[a.i++] ?? '';
      if (!validIfname(n)) throw fail(`Error: argument "${n}" is wrong: "name" not a valid ifname`);
      ops.push(() => {
        if (dev!.up) throw rtnetlink('EBUSY');
        if (host.links.some((l) => l.name === n)) throw rtnetlink('EEXIST');
        dev!.name = n;
      });
      continue;
    }
    if (w === 'addrgenmode') {
      const m = a.argv[a.i++];
      if (m !== 'eui64' && m !== 'none') throw fail('Error: argument of "addrgenmode" must be "eui64", "none", "stable_secret" or "random".');
      ops.push(() => { dev!.addrGenMode = m; });
      continue;
    }
    if (w === 'arp' || w === 'multicast' || w === 'promisc' || w === 'allmulticast') { a.i++; continue; }
    if (dev === undefined) { dev = findDev(host, w); continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (!dev) throw fail('Not enough information: "dev" argument is required.');
  for (const op of ops) op();
  return 0;
}

function del(host: Host, a: Args): number {
  let dev: Link | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { dev = findDev(host, a.argv[a.i++] ?? ''); continue; }
    if (w === 'type' || w === 'group') { a.i++; continue; }
    if (!dev) { dev = findDev(host, w); continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (!dev) throw fail('Not enough information: "dev" argument is required.');
  linkDel(host, dev);
  return 0;
}

/** Filters shared by `ip link show` and `ip addr show`: [dev] NAME, up, type KIND. */
export function selectLinks(host: Host, a: Args, extra?: (w: string) => boolean): Link[] {
  let name: string | undefined;
  let upOnly = false;
  let kind: string | undefined;
  while (!a.done) {
    const w = a.take();
    if (extra?.(w)) continue;
    if (w === 'dev') { name = a.argv[a.i++]; continue; }
    if (w === 'up') { upOnly = true; continue; }
    if (w === 'type') { kind = a.argv[a.i++]; continue; }
    if (name === undefined) { name = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (name !== undefined && !host.links.some((l) => l.name === name)) throw fail(`Device "${name}" does not exist.`);
  return host.links
    .filter((l) => name === undefined || l.name === name)
    .filter((l) => !upOnly || l.up)
    .filter((l) => kind === undefined || l.kind === kind)
    .sort((x, y) => x.index - y.index);
}

/** `ip -br`: NAME padded to 16, operstate padded to 14, then the rest. */
export function briefHead(host: Host, l: Link): string {
  const peer = peerName(host, l);
  return `${(peer ? `${l.name}@${peer}` : l.name).padEnd(16)} ${operState(host, l).padEnd(14)} `;
}

function show(host: Host, a: Args, opts: IpOptions, io: IpIo): number {
  const links = selectLinks(host, a);
  if (opts.brief && !opts.json) {
    for (const l of links) io.out(`${briefHead(host, l)}${formatMac(l.mac)} <${linkFlags(host, l).join(',')}> \n`);
    return 0;
  }
  if (opts.json) io.out(json(links.map((l) => linkJson(host, l, true))) + '\n');
  else for (const l of links) io.out(linkText(host, l, true));
  return 0;
}
