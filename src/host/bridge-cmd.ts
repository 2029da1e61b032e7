/**
 * The `bridge` command (iproute2 6.1) over a virtual host: its options and
 * objects, and `bridge link` (bridge/link.c) — port states and flags. `bridge
 * fdb` is in bridge-fdb-cmd.ts, `bridge vlan` in bridge-vlan-cmd.ts.
 */
import { HostError } from './errors.js';
import type { Host, Link } from './types.js';
import { linkByIndex } from './links.js';
import { linkFlags } from './ip/link.js';
import { Args, fail, findDev, matches, parseU32 } from './ip/util.js';
import type { IpIo } from './ip/util.js';
import { BR_STATE_NAMES, bridgeSync, masterOf, setPortState } from './bridge.js';
import { vlanCommand } from './bridge-vlan-cmd.js';
import { fdbCommand } from './bridge-fdb-cmd.js';

export interface BridgeOptions { details: boolean; json: boolean; compressVlans: boolean }

/** Runs one `bridge` command line (without the word `bridge`); `nowMs` is the host's clock. Returns iproute2's exit status. */
export function runBridge(host: Host, argv: string[], io: IpIo, nowMs: number): number {
  try {
    const o: BridgeOptions = { details: false, json: false, compressVlans: false };
    let i = 0;
    for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
      const w = argv[i]!.replace(/^--?/, '');
      if (matches(w, 'details')) o.details = true;
      // bridge.c tries -color (matches_color) before -compressvlans, so `-c` is colour: nfx prints none, so
      // only `-color=never` and `-color=auto` (no terminal) are taken.
      else if (matches(w.split('=')[0]!, 'color')) {
        const v = w.split('=')[1];
        if (v !== 'never' && v !== 'auto') throw fail(`Option "${argv[i]}": nfx prints no colours (use -compressvlans for compressed VLAN lists).`);
      }
      else if (matches(w, 'compressvlans')) o.compressVlans = true;
      else if (matches(w, 'json')) o.json = true;
      else throw fail(`Option "${argv[i]}" is unknown, try "bridge help".`);
    }
    const obj = argv[i];
    const rest = argv.slice(i + 1);
    if (obj !== undefined && matches(obj, 'link')) return link(host, rest, o, io);
    if (obj !== undefined && matches(obj, 'fdb')) return fdbCommand(host, rest, o, io, nowMs);
    if (obj !== undefined && matches(obj, 'vlan')) return vlanCommand(host, rest, o, io);
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
