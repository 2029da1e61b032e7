/**
 * `bridge vlan add|del|show` (iproute2 6.1 bridge/vlan.c) over a virtual
 * host, with the kernel's side as rtnl_bridge_setlink/rtnl_bridge_dellink →
 * br_setlink/br_dellink → br_afspec → br_process_vlan_info do it, and the
 * listing as br_fill_ifvlaninfo (or its _compressed twin, `bridge -c`)
 * reports it.
 */
import { HostError, incompleteCommand } from './errors.js';
import { rtnetlink } from './errors.js';
import type { Host, Link } from './types.js';
import { matches } from './ip/util.js';
import type { IpIo } from './ip/util.js';
import { masterOf } from './bridge.js';
import {
  BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_RANGE_BEGIN, BRIDGE_VLAN_INFO_RANGE_END, BRIDGE_VLAN_INFO_UNTAGGED, bridgeVlanDel,
  bridgeVlanAdd, bridgeVlanGroup, checkVid, portVlanAdd, portVlanDel, portVlanGroup,
} from './bridge-vlan.js';
import type { VlanGroup } from './bridge-vlan.js';

/** The `bridge` options this command reads. */
export interface VlanShowOptions { json: boolean; details: boolean; compressVlans: boolean }

/** BRIDGE_FLAGS_MASTER, BRIDGE_FLAGS_SELF (include/uapi/linux/if_bridge.h): IFLA_BRIDGE_FLAGS. */
const BRIDGE_FLAGS_MASTER = 1, BRIDGE_FLAGS_SELF = 2;
/** IFNAMSIZ: the port column's width. */
const IFNAMSIZ = 16;

const usageError = (msg: string): HostError => new HostError(msg, 255);

/** C's atoi() stored in a `short`, as vlan.c keeps VIDs. */
function shortAtoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return ((m ? Number(m[1]) | 0 : 0) << 16) >> 16;
}

export function vlanCommand(host: Host, argv: string[], o: VlanShowOptions, io: IpIo): number {
  const cmd = argv[0];
  if (cmd === undefined) return vlanShow(host, [], o, io);
  const rest = argv.slice(1);
  if (matches(cmd, 'add')) return vlanModify(host, rest, 'add');
  if (matches(cmd, 'delete')) return vlanModify(host, rest, 'del');
  if (matches(cmd, 'show') || matches(cmd, 'lst') || matches(cmd, 'list')) return vlanShow(host, rest, o, io);
  if (matches(cmd, 'tunnelshow') || matches(cmd, 'set') || cmd === 'global') {
    throw usageError(`nfx does not model "bridge vlan ${cmd}" (per-VLAN options, tunnels and global options).`);
  }
  throw usageError(`Command "${cmd}" is unknown, try "bridge vlan help".`);
}

/**
 * `bridge vlan {add|del} vid VID[-VID] dev DEV [pvid] [untagged] [self] [master]`
 * (vlan_modify): `master` — the default — acts on the port's bridge for that
 * port; `self` on a bridge acts on the bridge device itself (BRENTRY). A
 * port's VLANs that do not exist are deleted silently (br_vlan_info ignores
 * nbp_vlan_delete's ENOENT).
 */
function vlanModify(host: Host, argv: string[], cmd: 'add' | 'del'): number {
  let devName: string | undefined, vid = -1, vidEnd = -1, vflags = 0, flags = 0;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = (): string => argv[++i] ?? incompleteCommand();
    if (w === 'dev') devName = next();
    else if (w === 'vid') {
      const v = next();
      const dash = v.indexOf('-', 1);
      if (dash >= 0) {
        vid = shortAtoi(v.slice(0, dash));
        vidEnd = shortAtoi(v.slice(dash + 1));
        vflags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
      } else vid = shortAtoi(v);
    } else if (w === 'self') flags |= BRIDGE_FLAGS_SELF;
    else if (w === 'master') flags |= BRIDGE_FLAGS_MASTER;
    else if (w === 'pvid') vflags |= BRIDGE_VLAN_INFO_PVID;
    else if (w === 'untagged') vflags |= BRIDGE_VLAN_INFO_UNTAGGED;
    else if (w === 'tunnel_info') throw usageError('nfx does not model VLAN tunnel info.');
    // vlan_modify() skips any other word.
  }
  if (devName === undefined || vid === -1) throw usageError('Device and VLAN ID are required arguments.');
  const dev = host.links.find((l) => l.name === devName);
  if (!dev) throw usageError(`Cannot find bridge device "${devName}"`);
  if (vid >= 4096) throw usageError(`Invalid VLAN ID "${vid & 0xffff}"`);
  if (vflags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
    if (vidEnd === -1 || vidEnd >= 4096 || vid >= vidEnd) throw usageError(`Invalid VLAN range "${vid & 0xffff}-${vidEnd & 0xffff}"`);
    if (vflags & BRIDGE_VLAN_INFO_PVID) throw usageError('pvid cannot be configured for a vlan range');
  }
  // br_process_vlan_info(): every VID the message names is checked first (br_vlan_valid_id).
  checkVid(vid & 0xffff);
  const last = vflags & BRIDGE_VLAN_INFO_RANGE_BEGIN ? vidEnd : vid;
  checkVid(last & 0xffff);
  const entryFlags = vflags & (BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
  let done = false;
  // rtnl_bridge_setlink()/rtnl_bridge_dellink(): the master's ndo first, then the device's own.
  if (!flags || flags & BRIDGE_FLAGS_MASTER) {
    const br = masterOf(host, dev);
    if (!br || !dev.brport) throw rtnetlink('EOPNOTSUPP');
    for (let v = vid; v <= last; v++) {
      if (cmd === 'add') portVlanAdd(br, dev, v, entryFlags);
      else portVlanDel(host, br, dev, v);
    }
    flags &= ~BRIDGE_FLAGS_MASTER;
    done = true;
  }
  if (flags & BRIDGE_FLAGS_SELF) {
    if (dev.kind !== 'bridge') throw rtnetlink('EOPNOTSUPP');
    for (let v = vid; v <= last; v++) {
      if (cmd === 'add') bridgeVlanAdd(dev, v, entryFlags);
      else bridgeVlanDel(host, dev, v);
    }
    done = true;
  }
  if (!done) throw rtnetlink('EOPNOTSUPP');
  return 0;
}

/** One struct bridge_vlan_info as the dump carries it. */
interface VInfo { vid: number; flags: number }

/** br_fill_ifvlaninfo() and br_fill_ifvlaninfo_compressed(): the group's VLANs, or runs of them with equal flags. */
function vlanInfos(g: VlanGroup, compressed: boolean): VInfo[] {
  const out: VInfo[] = [];
  const flagsOf = (vid: number, untagged: boolean): number => (vid === g.pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0);
  if (!compressed) {
    for (const v of g.vlans) out.push({ vid: v.vid, flags: flagsOf(v.vid, v.untagged) });
    return out;
  }
  let start = 0, end = 0, rflags = 0;
  const flush = (): void => {
    if (end - start > 0) {
      out.push({ vid: start, flags: rflags | BRIDGE_VLAN_INFO_RANGE_BEGIN });
      out.push({ vid: end, flags: rflags | BRIDGE_VLAN_INFO_RANGE_END });
    } else out.push({ vid: start, flags: rflags });
  };
  for (const v of g.vlans) {
    const f = flagsOf(v.vid, v.untagged);
    if (start !== 0 && v.vid - end === 1 && f === rflags) { end = v.vid; continue; }
    if (start !== 0) flush();
    start = end = v.vid;
    rflags = f;
  }
  if (start !== 0) flush();
  return out;
}

/**
 * `bridge [-c] [-j] vlan show [dev DEV] [vid VID]`: the bridge devices and
 * ports in ifindex order (rtnl_bridge_getlink), each device's VLANs with
 * `PVID` and `Egress Untagged`; a device with none is not listed.
 */
function vlanShow(host: Host, argv: string[], o: VlanShowOptions, io: IpIo): number {
  if (o.details) throw usageError('nfx does not print the per-VLAN options dump ("bridge -d vlan show"); use "bridge vlan show".');
  let devName: string | undefined, filterVlan = 0;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = (): string => argv[++i] ?? incompleteCommand();
    if (w === 'dev') {
      const v = next();
      if (devName !== undefined) throw usageError(`Error: duplicate "dev": "${v}" is the second value.`);
      devName = v;
    } else if (w === 'vid') {
      const v = next();
      if (filterVlan) throw usageError(`Error: duplicate "vid": "${v}" is the second value.`);
      filterVlan = shortAtoi(v) & 0xffff;
    }
  }
  let filter: Link | undefined;
  if (devName !== undefined) {
    filter = host.links.find((l) => l.name === devName);
    if (!filter) throw usageError(`Cannot find device "${devName}"`);
  }
  const ports: Array<{ name: string; vlans: Array<Record<string, unknown>> }> = [];
  let text = o.json ? '' : `${'port'.padEnd(IFNAMSIZ)}  ${'vlan-id'.padEnd(9)}\n`;
  for (const l of [...host.links].sort((a, b) => a.index - b.index)) {
    if (filter && l !== filter) continue;
    let g: VlanGroup | undefined;
    if (l.kind === 'bridge' && l.bridge) g = bridgeVlanGroup(l);
    else if (l.brport) { const br = masterOf(host, l); if (br) g = portVlanGroup(br, l); }
    if (!g || g.vlans.length === 0) continue;
    // print_vlan_info() with filter_vlan_check().
    let lastStart = 0, opened = false;
    const rows: Array<Record<string, unknown>> = [];
    for (const vi of vlanInfos(g, o.compressVlans)) {
      if (!(vi.flags & BRIDGE_VLAN_INFO_RANGE_END)) lastStart = vi.vid;
      if (filterVlan && vi.vid > filterVlan && !(vi.flags & BRIDGE_VLAN_INFO_RANGE_END)) break;
      if ((vi.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) || vi.vid < filterVlan) continue;
      text += opened ? ' '.repeat(IFNAMSIZ + 2) : `${l.name.padEnd(IFNAMSIZ)}  `;
      opened = true;
      const row: Record<string, unknown> = { vlan: lastStart };
      text += String(lastStart);
      if (lastStart !== vi.vid) { row['vlanEnd'] = vi.vid; text += `-${vi.vid}`; }
      if (vi.flags) {
        const fl: string[] = [];
        if (vi.flags & BRIDGE_VLAN_INFO_PVID) fl.push('PVID');
        if (vi.flags & BRIDGE_VLAN_INFO_UNTAGGED) fl.push('Egress Untagged');
        row['flags'] = fl;
        for (const f of fl) text += ` ${f}`;
      }
      text += '\n';
      rows.push(row);
    }
    if (opened) ports.push({ name: l.name, vlans: rows });
  }
  if (o.json) io.out(JSON.stringify(ports.map((p) => ({ ifname: p.name, vlans: p.vlans }))) + '\n');
  else io.out(text);
  return 0;
}
