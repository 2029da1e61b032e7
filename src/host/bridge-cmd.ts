/**
 * `bridge link` and `bridge fdb` (iproute2's bridge/link.c, bridge/fdb.c)
 * over a virtual host: port states and flags, and the forwarding database
 * as the kernel dumps it (rtnl_fdb_dump → br_fdb_dump): device by device in
 * ifindex order; for a port, its entries newest first; for a bridge, its own
 * address when no port has it. The devices' own multicast address lists
 * (the `self` lines) are not modelled and not printed.
 */
import { HostError } from './errors.js';
import type { Host, Link } from './types.js';
import { linkByIndex } from './links.js';
import { linkFlags } from './ip/link.js';
import { Args, fail, findDev, matches, parseU32 } from './ip/util.js';
import type { IpIo } from './ip/util.js';
import { BR_STATE_NAMES, bridgePorts, bridgeSync, masterOf, setPortState } from './bridge.js';
import { ageingMs, SECTION_BRIDGE_FDB } from './bridge-fdb.js';
import type { FdbSection } from './bridge-fdb.js';
import { formatMac } from './inet.js';

export interface BridgeOptions { details: boolean; json: boolean }

/** Runs one `bridge` command line (without the word `bridge`); `nowMs` is the host's clock. Returns iproute2's exit status. */
export function runBridge(host: Host, argv: string[], io: IpIo, nowMs: number): number {
  try {
    const o: BridgeOptions = { details: false, json: false };
    let i = 0;
    for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
      const w = argv[i]!.replace(/^--?/, '');
      if (matches(w, 'details')) o.details = true;
      else if (matches(w, 'json')) o.json = true;
      else throw fail(`Option "${argv[i]}" is unknown, try "bridge help".`);
    }
    const obj = argv[i];
    const rest = argv.slice(i + 1);
    if (obj !== undefined && matches(obj, 'link')) return link(host, rest, o, io);
    if (obj !== undefined && matches(obj, 'fdb')) return fdb(host, rest, o, io, nowMs);
    if (obj === undefined) throw fail('Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }');
    throw fail(`Object "${obj}" is unknown, try "bridge help".`);
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    io.err(e.message.endsWith('\n') ? e.message : e.message + '\n');
    // bridge exits 255 when the kernel refuses a request (ip exits 2).
    return e.status === 2 ? 255 : e.status;
  }
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

function portName(host: Host, l: Link): string {
  const peer = l.peer !== undefined ? linkByIndex(host, l.peer) : undefined;
  return peer ? `${l.name}@${peer.name}` : l.name;
}

function link(host: Host, argv: string[], o: BridgeOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (matches(cmd, 'set') || matches(cmd, 'change')) return linkSet(host, a);
  if (!(matches(cmd, 'show') || matches(cmd, 'list') || matches(cmd, 'lst'))) throw fail(`Command "${cmd}" is unknown, try "bridge link help".`);
  let dev: Link | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') dev = findDev(host, a.argv[a.i++] ?? '');
    else throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  const ports = host.links.filter((l) => l.brport && masterOf(host, l) && (!dev || l === dev)).sort((x, y) => x.index - y.index);
  if (o.json) {
    io.out(JSON.stringify(ports.map((l) => {
      const p = l.brport!;
      const j: Record<string, unknown> = {
        ifindex: l.index, ifname: l.name, flags: linkFlags(host, l), mtu: l.mtu, master: masterOf(host, l)!.name,
        state: BR_STATE_NAMES[p.state], priority: p.priority, cost: p.cost,
      };
      if (o.details) Object.assign(j, { hairpin: p.hairpin, guard: false, root_block: false, fastleave: false, learning: p.learning, flood: p.flood, mcast_flood: p.mcastFlood, bcast_flood: p.bcastFlood, mcast_router: 1, mcast_to_unicast: false, neigh_suppress: false, vlan_tunnel: false, isolated: false, locked: false });
      return j;
    })) + '\n');
    return 0;
  }
  for (const l of ports) {
    const p = l.brport!;
    io.out(`${l.index}: ${portName(host, l)}: <${linkFlags(host, l).join(',')}> mtu ${l.mtu} master ${masterOf(host, l)!.name} ` +
      `state ${BR_STATE_NAMES[p.state] ?? p.state} priority ${p.priority} cost ${p.cost} \n`);
    if (o.details) {
      io.out(`    hairpin ${onOff(p.hairpin)} guard off root_block off fastleave off learning ${onOff(p.learning)} flood ${onOff(p.flood)} ` +
        `mcast_flood ${onOff(p.mcastFlood)} bcast_flood ${onOff(p.bcastFlood)} mcast_router 1 mcast_to_unicast off neigh_suppress off ` +
        'vlan_tunnel off isolated off locked off \n');
    }
  }
  return 0;
}

const STATES: Record<string, number> = { disabled: 0, listening: 1, learning: 2, forwarding: 3, blocking: 4 };

/** `bridge link set dev DEV [state S] [hairpin|learning|flood|mcast_flood|bcast_flood on|off] [priority N] [cost N]` (br_setport). */
function linkSet(host: Host, a: Args): number {
  let dev: Link | undefined;
  const ops: Array<() => void> = [];
  const flag = (key: 'hairpin' | 'learning' | 'flood' | 'mcastFlood' | 'bcastFlood', v: string | undefined): void => {
    if (v !== 'on' && v !== 'off') throw fail(`Error: argument "${v ?? ''}" is wrong: must be "on" or "off"`);
    ops.push(() => { dev!.brport![key] = v === 'on'; });
  };
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { dev = findDev(host, a.argv[a.i++] ?? ''); continue; }
    if (w === 'state') {
      const v = a.argv[a.i++] ?? '';
      const st = STATES[v] ?? parseU32(v);
      if (st === undefined) throw fail(`Error: argument "${v}" is wrong: state is invalid`);
      ops.push(() => setPortState(host, dev!, st));
      continue;
    }
    if (w === 'hairpin' || w === 'learning' || w === 'flood') { flag(w, a.argv[a.i++]); continue; }
    if (w === 'mcast_flood') { flag('mcastFlood', a.argv[a.i++]); continue; }
    if (w === 'bcast_flood') { flag('bcastFlood', a.argv[a.i++]); continue; }
    if (w === 'priority' || w === 'cost') {
      const n = parseU32(a.argv[a.i++] ?? '');
      if (n === undefined) throw fail(`Error: argument is wrong: invalid ${w}`);
      ops.push(() => { dev!.brport![w] = n; });
      continue;
    }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (!dev) throw fail('Device is a required argument.');
  if (!dev.brport || !masterOf(host, dev)) throw new HostError('RTNETLINK answers: Operation not supported', 2);
  for (const op of ops) { op(); bridgeSync(host); }
  return 0;
}

interface FdbLine { mac: string; dev: Link; br: Link; permanent: boolean }

function fdb(host: Host, argv: string[], o: BridgeOptions, io: IpIo, now: number): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (!(matches(cmd, 'show') || matches(cmd, 'list') || matches(cmd, 'lst'))) {
    throw fail(`Error: nfx models no static fdb entries: "bridge fdb ${cmd}" is not supported.`);
  }
  let br: Link | undefined, port: Link | undefined, dynamicOnly = false;
  while (!a.done) {
    const w = a.take();
    if (w === 'br') br = findDev(host, a.argv[a.i++] ?? '');
    else if (w === 'brport' || w === 'dev') port = findDev(host, a.argv[a.i++] ?? '');
    else if (w === 'dynamic') dynamicOnly = true;
    else throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  const lines: FdbLine[] = [];
  const s = (host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined) ?? {};
  const learnt = Object.entries(s).reverse();
  for (const dev of [...host.links].sort((x, y) => x.index - y.index)) {
    if (port && dev !== port) continue;
    if (dev.kind === 'bridge') {
      if (br && dev !== br) continue;
      // The bridge's own address, unless a port has it (fdb_add_local finds that entry).
      if (!bridgePorts(host, dev).some((p) => formatMac(p.mac) === formatMac(dev.mac))) lines.push({ mac: formatMac(dev.mac), dev, br: dev, permanent: true });
      continue;
    }
    const m = masterOf(host, dev);
    if (!m || (br && m !== br)) continue;
    for (const [k, e] of learnt) {
      if (e.port !== dev.index || !k.startsWith(`${m.index} `) || e.updated + ageingMs(m) <= now) continue;
      lines.push({ mac: k.slice(k.indexOf(' ') + 1), dev, br: m, permanent: false });
    }
    lines.push({ mac: formatMac(dev.mac), dev, br: m, permanent: true });
  }
  const shown = lines.filter((l) => !dynamicOnly || !l.permanent);
  if (o.json) {
    io.out(JSON.stringify(shown.map((l) => {
      const j: Record<string, unknown> = { mac: l.mac };
      if (!port) j['ifname'] = l.dev.name;
      j['flags'] = [];
      j['master'] = l.br.name;
      j['state'] = l.permanent ? 'permanent' : '';
      return j;
    })) + '\n');
    return 0;
  }
  for (const l of shown) io.out(`${l.mac} ${port ? '' : `dev ${l.dev.name} `}master ${l.br.name} ${l.permanent ? 'permanent' : ''}\n`);
  return 0;
}
