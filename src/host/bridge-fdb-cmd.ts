/**
 * `bridge fdb` (iproute2 6.1 bridge/fdb.c) over a virtual host: the
 * forwarding database as the kernel dumps it (rtnl_fdb_dump → br_fdb_dump:
 * device by device in ifindex order, each device's entries newest first), and
 * changed as rtnl_fdb_add/rtnl_fdb_del → br_fdb_add, br_fdb_delete and
 * br_fdb_delete_bulk change it. The devices' own unicast/multicast address
 * lists (the `self` lines of non-bridge devices) are not modelled: not
 * printed, and `self` on such a device is refused.
 */
import { HostError, extack, incompleteCommand, rtnetlink } from './errors.js';
import type { Host, Link } from './types.js';
import { matches, parseU32 } from './ip/util.js';
import type { IpIo } from './ip/util.js';
import { masterOf } from './bridge.js';
import { BR_FDB_ADDED_BY_USER, BR_FDB_LOCAL, BR_FDB_STATIC, BR_FDB_STICKY, fdbFlush, fdbList, fdbUserAdd, fdbUserDel } from './bridge-fdb.js';
import type { FdbErrno, FdbListed, FdbState } from './bridge-fdb.js';
import { bridgeVlanGroup, portVlanGroup } from './bridge-vlan.js';

/** The `bridge` options this command reads. */
export interface FdbShowOptions { json: boolean }

/** iproute2's nodev() and the like: the command fails before the kernel is asked (bridge exits 255). */
function noDev(name: string, what = 'device'): HostError {
  return new HostError(`Cannot find ${what} "${name}"`, 255);
}

function devByName(host: Host, name: string, what?: string): Link {
  const l = host.links.find((x) => x.name === name);
  if (!l) throw noDev(name, what);
  return l;
}

export function fdbCommand(host: Host, argv: string[], o: FdbShowOptions, io: IpIo, now: number): number {
  const cmd = argv[0];
  if (cmd === undefined) return fdbShow(host, [], o, io, now);
  const rest = argv.slice(1);
  if (matches(cmd, 'add')) return fdbModify(host, rest, 'add', now);
  if (matches(cmd, 'append')) return fdbModify(host, rest, 'append', now);
  if (matches(cmd, 'replace')) return fdbModify(host, rest, 'replace', now);
  if (matches(cmd, 'delete')) return fdbModify(host, rest, 'del', now);
  if (matches(cmd, 'show') || matches(cmd, 'lst') || matches(cmd, 'list')) return fdbShow(host, rest, o, io, now);
  if (cmd === 'flush') return fdbFlushCmd(host, rest, now);
  if (cmd === 'get') throw new HostError('nfx does not model "bridge fdb get".', 255);
  throw new HostError(`Command "${cmd}" is unknown, try "bridge fdb help".`, 255);
}

/** NUD_* bits (include/uapi/linux/neighbour.h) as the dump reports an entry's state (fdb_to_nud). */
const NUD_REACHABLE = 0x02, NUD_STALE = 0x04, NUD_NOARP = 0x40, NUD_PERMANENT = 0x80;

/** state_a2n() of `bridge fdb show state S`. */
function stateMask(arg: string): number {
  if (matches(arg, 'permanent')) return NUD_PERMANENT;
  if (matches(arg, 'static') || matches(arg, 'temp')) return NUD_NOARP;
  if (matches(arg, 'stale')) return NUD_STALE;
  if (matches(arg, 'reachable') || matches(arg, 'dynamic')) return NUD_REACHABLE;
  if (arg === 'all') return ~0;
  const n = parseU32(arg);
  if (n === undefined) throw new HostError(`Error: argument "${arg}" is wrong: invalid state`, 255);
  return n;
}

/** C's atoi(): leading digits, 0 when none. */
function atoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) | 0 : 0;
}

/**
 * `bridge fdb show [br BR] [brport|dev DEV] [vlan VID] [state S] [dynamic]`:
 * devices in ifindex order; a port's entries, or for a bridge the entries
 * pointing at the bridge itself, newest first. `dynamic` hides permanent
 * (local) entries only, as iproute2 does.
 */
function fdbShow(host: Host, argv: string[], o: FdbShowOptions, io: IpIo, now: number): number {
  let brName: string | undefined, devName: string | undefined, vlan = 0, state = 0, dynamicOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = (): string => argv[++i] ?? incompleteCommand();
    if (w === 'brport' || w === 'dev') devName = next();
    else if (w === 'br') brName = next();
    else if (w === 'vlan') {
      const v = next();
      if (vlan) throw new HostError(`Error: duplicate "vlan": "${v}" is the second value.`, 255);
      vlan = atoi(v);
    } else if (w === 'state') state |= stateMask(next());
    else if (w === 'dynamic') dynamicOnly = true;
    // fdb_show() ignores any other word.
  }
  const br = brName !== undefined ? devByName(host, brName, 'bridge device') : undefined;
  const port = devName !== undefined ? devByName(host, devName) : undefined;
  const lists = new Map<Link, FdbListed[]>();
  const listOf = (b: Link): FdbListed[] => {
    let l = lists.get(b);
    if (!l) { l = fdbList(host, b, now); lists.set(b, l); }
    return l;
  };
  const rows: Array<{ e: FdbListed; dev: Link; br: Link }> = [];
  for (const dev of [...host.links].sort((x, y) => x.index - y.index)) {
    if (port && dev !== port) continue;
    if (dev.kind === 'bridge') {
      if (br && dev !== br) continue;
      for (const e of listOf(dev)) if (e.port === 0) rows.push({ e, dev, br: dev });
      continue;
    }
    const m = masterOf(host, dev);
    if (!m || (br && m !== br)) continue;
    for (const e of listOf(m)) if (e.port === dev.index) rows.push({ e, dev, br: m });
  }
  const nud = (e: FdbListed): number => (e.state === 'permanent' ? NUD_PERMANENT : e.state === 'static' ? NUD_NOARP : NUD_REACHABLE);
  const shown = rows.filter(({ e }) => (!state || (nud(e) & state) !== 0) && (!vlan || vlan === e.vid) && !(dynamicOnly && e.state === 'permanent'));
  if (o.json) {
    io.out(JSON.stringify(shown.map(({ e, dev, br: b }) => {
      const j: Record<string, unknown> = { mac: e.mac };
      if (!port) j['ifname'] = dev.name;
      if (e.vid) j['vlan'] = e.vid;
      j['flags'] = e.sticky ? ['sticky'] : [];
      j['master'] = b.name;
      j['state'] = e.state;
      return j;
    })) + '\n');
    return 0;
  }
  for (const { e, dev, br: b } of shown) {
    io.out(`${e.mac} ${port ? '' : `dev ${dev.name} `}${e.vid ? `vlan ${e.vid} ` : ''}${e.sticky ? 'sticky ' : ''}master ${b.name} ${e.state}\n`);
  }
  return 0;
}

/** NTF_* (include/uapi/linux/neighbour.h) that `bridge fdb add|del` sends. */
const NTF_USE = 0x01, NTF_SELF = 0x02, NTF_MASTER = 0x04, NTF_EXT_LEARNED = 0x10, NTF_STICKY = 0x40, NTF_ROUTER = 0x80;

function parseLladdr(text: string): Uint8Array | undefined {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

const ERRNO_OF: Record<FdbErrno, HostError> = {
  EINVAL: rtnetlink('EINVAL'), EEXIST: rtnetlink('EEXIST'), ENOENT: rtnetlink('ENOENT'),
  EPERM: new HostError('RTNETLINK answers: Operation not permitted', 2),
};

/**
 * `bridge fdb {add|append|replace|del} LLADDR dev DEV [self] [master] [router]
 * [local|permanent|static|temp|dynamic] [sticky] [vlan VID]` (fdb_modify),
 * then rtnl_fdb_add/rtnl_fdb_del: `master` goes to the port's bridge, `self`
 * on a bridge to the bridge itself. With neither, iproute2 sends `self`, so a
 * port needs `master`.
 */
function fdbModify(host: Host, argv: string[], cmd: 'add' | 'append' | 'replace' | 'del', now: number): number {
  let devName: string | undefined, addr: string | undefined, vid = -1, ndmFlags = 0;
  // iproute2 starts from NUD_NOARP: `static` is NOARP|REACHABLE, `dynamic` REACHABLE alone.
  let nud = NUD_NOARP;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = (): string => argv[++i] ?? incompleteCommand();
    if (w === 'dev') devName = next();
    else if (w === 'dst' || w === 'nhid' || w === 'port' || w === 'vni' || w === 'src_vni' || w === 'via') {
      throw new HostError(`Error: "${w}" belongs to VXLAN devices, which nfx does not model.`, 255);
    } else if (w === 'self') ndmFlags |= NTF_SELF;
    else if (matches(w, 'master')) ndmFlags |= NTF_MASTER;
    else if (matches(w, 'router')) ndmFlags |= NTF_ROUTER;
    else if (matches(w, 'local') || matches(w, 'permanent')) nud |= NUD_PERMANENT;
    else if (matches(w, 'temp') || matches(w, 'static')) nud |= NUD_REACHABLE;
    else if (matches(w, 'dynamic')) { nud |= NUD_REACHABLE; nud &= ~NUD_NOARP; }
    else if (matches(w, 'vlan')) {
      if (vid >= 0) throw new HostError(`Error: either "vlan" is duplicate, or "${w}" is a garbage.`, 255);
      // `short vid = atoi(...)`: a negative number means no VLAN at all.
      vid = (atoi(next()) << 16) >> 16;
    } else if (matches(w, 'use')) ndmFlags |= NTF_USE;
    else if (matches(w, 'extern_learn')) ndmFlags |= NTF_EXT_LEARNED;
    else if (matches(w, 'sticky')) ndmFlags |= NTF_STICKY;
    else {
      let word = w;
      if (word === 'to') word = next();
      if (addr !== undefined) throw new HostError(`Error: either "to" is duplicate, or "${word}" is a garbage.`, 255);
      addr = word;
    }
  }
  if (devName === undefined || addr === undefined) throw new HostError('Device and address are required arguments.', 255);
  if (!(ndmFlags & (NTF_SELF | NTF_MASTER))) ndmFlags |= NTF_SELF;
  if (!(nud & (NUD_PERMANENT | NUD_REACHABLE))) nud |= NUD_PERMANENT;
  const mac = parseLladdr(addr);
  if (!mac) throw new HostError(`Invalid mac address ${addr}`, 255);
  const dev = devByName(host, devName);
  if (ndmFlags & (NTF_USE | NTF_EXT_LEARNED)) throw new HostError(`Error: nfx does not model "${ndmFlags & NTF_USE ? 'use' : 'extern_learn'}" FDB entries.`, 255);
  // rtnl_fdb_add(): ARPHRD_ETHER devices only; then fdb_vid_parse().
  if (dev.kind === 'loopback' || dev.kind === 'xfrm') throw extack(`FDB ${cmd === 'del' ? 'delete' : 'add'} only supported for Ethernet devices.`);
  if (vid === 0 || vid >= 4095) throw extack('invalid vlan id.');
  const state: FdbState = nud & NUD_PERMANENT ? 'permanent' : nud & NUD_NOARP ? 'static' : 'dynamic';
  const sticky = (ndmFlags & NTF_STICKY) !== 0;
  let done = false;
  const port = masterOf(host, dev);
  if ((!ndmFlags || ndmFlags & NTF_MASTER) && dev.brport && port) {
    apply(host, port, dev, mac, vid, cmd, state, sticky, now);
    ndmFlags &= ~NTF_MASTER;
    done = true;
  }
  if (ndmFlags & NTF_SELF) {
    if (dev.kind !== 'bridge') throw new HostError(`Error: nfx does not model ${dev.name}'s own address list ("self" on a device that is not a bridge).`, 255);
    apply(host, dev, undefined, mac, vid, cmd, state, sticky, now);
    done = true;
  }
  if (!done) throw rtnetlink('EOPNOTSUPP');
  return 0;
}

/**
 * br_fdb_add() / br_fdb_delete() on `br` for `port` (undefined: the bridge
 * itself): with a VID, that VLAN must be configured (add); without one, VID 0
 * and then every VLAN of the port's (or bridge's) group — a delete succeeds
 * when any of them did.
 */
function apply(host: Host, br: Link, port: Link | undefined, mac: Uint8Array, vid: number, cmd: 'add' | 'append' | 'replace' | 'del', state: FdbState, sticky: boolean, now: number): void {
  const g = port ? portVlanGroup(br, port) : bridgeVlanGroup(br);
  if (cmd === 'del') {
    if (vid > 0) { if (!fdbUserDel(host, br, port, mac, vid, now)) throw rtnetlink('ENOENT'); return; }
    let any = fdbUserDel(host, br, port, mac, 0, now);
    for (const v of g.vlans) any = fdbUserDel(host, br, port, mac, v.vid, now) || any;
    if (!any) throw rtnetlink('ENOENT');
    return;
  }
  if (mac.every((x) => x === 0)) throw rtnetlink('EINVAL');
  const flags = { create: true, excl: cmd === 'add' };
  const one = (v: number): void => {
    const err = fdbUserAdd(host, br, port, mac, v, state, sticky, flags, now);
    if (err) throw ERRNO_OF[err];
  };
  if (vid > 0) {
    if (!g.vlans.some((v) => v.vid === vid)) throw rtnetlink('EINVAL');
    one(vid);
    return;
  }
  one(0);
  for (const v of g.vlans) one(v.vid);
}

/**
 * `bridge fdb flush dev DEV [brport DEV] [vlan VID] [self] [master]
 * [[no]permanent|[no]static|[no]dynamic] [[no]added_by_user] [[no]sticky]`
 * (fdb_flush), then rtnl_fdb_del with NLM_F_BULK → br_fdb_delete_bulk: on a
 * port with `master`, that port's entries; on the bridge with `self` (the
 * default), all of them, or those pointing at `brport` (the bridge itself
 * for `brport BR`).
 */
function fdbFlushCmd(host: Host, argv: string[], now: number): number {
  let devName: string | undefined, portName: string | undefined, vid = -1, ndmFlags = 0, state = 0, stateMask = 0, flags = 0, flagsMask = 0;
  const flag = (bit: number, on: boolean): void => { flags = on ? flags | bit : flags & ~bit; flagsMask |= bit; };
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = (): string => argv[++i] ?? incompleteCommand();
    switch (w) {
      case 'dev': devName = next(); break;
      case 'master': ndmFlags |= NTF_MASTER; break;
      case 'self': ndmFlags |= NTF_SELF; break;
      case 'permanent': state |= NUD_PERMANENT; stateMask |= NUD_PERMANENT; break;
      case 'nopermanent': state &= ~NUD_PERMANENT; stateMask |= NUD_PERMANENT; break;
      case 'static': state |= NUD_NOARP; stateMask |= NUD_NOARP | NUD_PERMANENT; break;
      case 'nostatic': state &= ~NUD_NOARP; stateMask |= NUD_NOARP; break;
      // `ndm_state &= ~NUD_NOARP | NUD_PERMANENT` in iproute2: only NOARP is cleared.
      case 'dynamic': state &= ~NUD_NOARP; stateMask |= NUD_NOARP | NUD_PERMANENT; break;
      case 'nodynamic': state |= NUD_NOARP; stateMask |= NUD_NOARP; break;
      case 'added_by_user': flag(BR_FDB_ADDED_BY_USER, true); break;
      case 'noadded_by_user': flag(BR_FDB_ADDED_BY_USER, false); break;
      case 'sticky': flag(BR_FDB_STICKY, true); break;
      case 'nosticky': flag(BR_FDB_STICKY, false); break;
      case 'extern_learn': case 'noextern_learn': case 'offloaded': case 'nooffloaded':
        // nfx has no externally learnt or offloaded entries: "extern_learn" matches none, "noextern_learn" all.
        flag(w.startsWith('no') ? 0 : 1 << 30, true); break;
      case 'brport':
        if (portName !== undefined) throw new HostError(`Error: either "brport" is duplicate, or "${argv[i + 1] ?? ''}" is a garbage.`, 255);
        portName = next(); break;
      case 'vlan':
        if (vid >= 0) throw new HostError(`Error: either "vlan" is duplicate, or "${argv[i + 1] ?? ''}" is a garbage.`, 255);
        vid = (atoi(next()) << 16) >> 16; break;
      default: break;   // fdb_flush() skips any other word.
    }
  }
  if (devName === undefined) throw new HostError('Device is a required argument.', 255);
  const dev = devByName(host, devName, 'bridge device');
  const port = portName !== undefined ? devByName(host, portName, 'bridge port device') : undefined;
  if (vid >= 4096) throw new HostError(`Invalid VLAN ID "${vid}"`, 255);
  if (!(ndmFlags & (NTF_SELF | NTF_MASTER))) ndmFlags |= NTF_SELF;
  if (dev.kind === 'loopback' || dev.kind === 'xfrm') throw extack('FDB delete only supported for Ethernet devices.');
  if (vid === 0) throw extack('invalid vlan id.');
  // __ndm_state_to_fdb_flags(): NUD_PERMANENT is BR_FDB_LOCAL, NUD_NOARP BR_FDB_STATIC.
  const toFdb = (s: number): number => (s & NUD_PERMANENT ? BR_FDB_LOCAL : 0) | (s & NUD_NOARP ? BR_FDB_STATIC : 0);
  const desc = { port: -1, vid: vid > 0 ? vid : 0, flags: toFdb(state) | flags, mask: toFdb(stateMask) | flagsMask };
  const bulk = (br: Link, p: Link | undefined): void => {
    if (port) {
      // __fdb_flush_validate_ifindex()
      const pb = masterOf(host, port);
      if (port.kind === 'bridge' ? port !== br : !port.brport || !pb) {
        throw extack(port.kind === 'bridge' ? 'bridge: Flush bridge device does not match target bridge device.' : 'bridge: Flush device is not a bridge or bridge port.');
      }
      if (port.kind !== 'bridge' && pb !== br) throw extack('bridge: Port belongs to a different bridge device.');
      desc.port = port.kind === 'bridge' ? 0 : port.index;
    } else if (p) desc.port = p.index;
    fdbFlush(host, br, desc, now);
  };
  let done = false;
  const br = masterOf(host, dev);
  if ((ndmFlags & NTF_MASTER) && dev.brport && br) { bulk(br, dev); ndmFlags &= ~NTF_MASTER; done = true; }
  if (ndmFlags & NTF_SELF) {
    if (dev.kind !== 'bridge') throw rtnetlink('EOPNOTSUPP');
    bulk(dev, undefined);
    done = true;
  }
  if (!done) throw rtnetlink('EOPNOTSUPP');
  return 0;
}
