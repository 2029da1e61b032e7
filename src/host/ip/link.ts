/**
 * `ip link add|set|del|show`: the link list as iproute2 prints it
 * (ip/ipaddress.c print_linkinfo).
 */
import { formatMac, parseMac } from '../inet.js';
import { extack, rtnetlink } from '../errors.js';
import { hasCarrier, linkByIndex, validIfname } from '../links.js';
import { linkAdd, linkDel, linkSetUp, type LinkAddOptions } from '../model.js';
import type { Host, Link, LinkKind, XfrmiParms } from '../types.js';
import { Args, fail, findDev, json, matches, parseU32, type IpIo, type IpOptions } from './util.js';
import {
  bridgeAddPort, bridgeDelPort, bridgeOpen, bridgeDetails, bridgeDetailsJson, bridgePortDetails, bridgePortDetailsJson, bridgePorts,
  bridgeChangeLink, bridgeSync, masterOf, newBridgeAttrs, recalcBridgeId, setPortState, type BridgeAttrs,
} from '../bridge.js';

/** The IFF_* flags iproute2 prints, in its order (print_link_flags). */
export function linkFlags(host: Host, l: Link): string[] {
  const f: string[] = [];
  const carrier = hasCarrier(host, l);
  if (l.up && !carrier) f.push('NO-CARRIER');
  if (l.kind === 'loopback') f.push('LOOPBACK');
  // xfrmi_dev_setup(): dev->flags = IFF_NOARP only (ARPHRD_NONE, no broadcast or multicast).
  else if (l.kind === 'xfrm') f.push('NOARP');
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
  // print_name_and_link(): M-DOWN when the IFLA_LINK device is down.
  if (l.kind === 'xfrm' && l.xfrm?.link) {
    const lower = linkByIndex(host, l.xfrm.link);
    if (lower && !lower.up) f.push('M-DOWN');
  }
  return f;
}

/** IF_OPER_*: UNKNOWN for links without carrier management (lo, dummy), else UP/LOWERLAYERDOWN/DOWN. */
export function operState(host: Host, l: Link): string {
  if (!l.up) return 'DOWN';
  // No carrier management (lo, dummy, xfrm interfaces): IF_OPER_UNKNOWN while up.
  if (l.kind === 'loopback' || l.kind === 'dummy' || l.kind === 'xfrm') return 'UNKNOWN';
  // A bridge without a forwarding port has no lower layer to blame: plain DOWN.
  return hasCarrier(host, l) ? 'UP' : l.kind === 'bridge' ? 'DOWN' : 'LOWERLAYERDOWN';
}

function qdisc(l: Link): string { return l.everUp ? 'noqueue' : 'noop'; }

function peerName(host: Host, l: Link): string | undefined {
  // xfrmi_get_iflink(): an xfrm interface names its IFLA_XFRM_LINK device; iproute2
  // prints `@NONE` for iflink 0 (print_name_and_link).
  if (l.kind === 'xfrm') return l.xfrm?.link ? linkByIndex(host, l.xfrm.link)?.name ?? `if${l.xfrm.link}` : 'NONE';
  return l.peer !== undefined ? linkByIndex(host, l.peer)?.name : undefined;
}

/** The first two lines of a link (`ip link` adds `mode DEFAULT`, `ip addr` does not). */
export function linkText(host: Host, l: Link, withMode: boolean): string {
  const peer = peerName(host, l);
  const name = peer ? `${l.name}@${peer}` : l.name;
  const master = masterOf(host, l);
  let s = `${l.index}: ${name}: <${linkFlags(host, l).join(',')}> mtu ${l.mtu} qdisc ${qdisc(l)} ${master ? `master ${master.name} ` : ''}state ${operState(host, l)} `;
  if (withMode) s += 'mode DEFAULT ';
  s += `group default qlen ${l.txqlen}\n`;
  // ARPHRD_NONE with addr_len 0: the kernel sends no IFLA_ADDRESS or IFLA_BROADCAST.
  if (l.kind === 'xfrm') return s + '    link/none \n';
  const brd = l.kind === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff';
  s += `    link/${l.kind === 'loopback' ? 'loopback' : 'ether'} ${formatMac(l.mac)} brd ${brd}\n`;
  return s;
}

export function linkJson(host: Host, l: Link, withMode: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { ifindex: l.index };
  const peer = peerName(host, l);
  if (l.kind === 'xfrm') o['link'] = peer === 'NONE' ? null : peer;
  else if (peer) o['link'] = peer;
  o['ifname'] = l.name;
  o['flags'] = linkFlags(host, l);
  o['mtu'] = l.mtu;
  o['qdisc'] = qdisc(l);
  const master = masterOf(host, l);
  if (master) o['master'] = master.name;
  o['operstate'] = operState(host, l);
  if (withMode) o['linkmode'] = 'DEFAULT';
  o['group'] = 'default';
  o['txqlen'] = l.txqlen;
  if (l.kind === 'xfrm') { o['link_type'] = 'none'; return o; }
  o['link_type'] = l.kind === 'loopback' ? 'loopback' : 'ether';
  o['address'] = formatMac(l.mac);
  o['broadcast'] = l.kind === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff';
  return o;
}

const KINDS: Record<string, LinkKind> = { dummy: 'dummy', veth: 'veth', ether: 'ether', bridge: 'bridge', xfrm: 'xfrm' };

/** `ip -d`: the numbers iproute2 prints after the link line, per kind (dev->min_mtu/max_mtu, tso_max_size). */
function detailNumbers(host: Host, l: Link): { minmtu: number; maxmtu: number; tso: number } {
  if (l.kind === 'loopback' || l.kind === 'dummy') return { minmtu: 0, maxmtu: 0, tso: 524280 };
  if (l.kind === 'bridge') return { minmtu: 68, maxmtu: 65535, tso: bridgePorts(host, l).length ? 524280 : 65536 };
  // xfrmi_dev_setup(): ETH_MIN_MTU..IP_MAX_MTU; tso_max_size stays TSO_LEGACY_MAX_SIZE.
  if (l.kind === 'xfrm') return { minmtu: 68, maxmtu: 65535, tso: 65536 };
  return { minmtu: 68, maxmtu: l.kind === 'veth' ? 65535 : 1500, tso: 524280 };
}

/** `ip -d link show`: the link line's tail and the linkinfo lines (print_linkinfo, ip/ipaddress.c). */
function detailText(host: Host, l: Link): string {
  const n = detailNumbers(host, l);
  const promisc = l.brport ? 1 : 0;
  let s = ` promiscuity ${promisc}  allmulti ${promisc} minmtu ${n.minmtu} maxmtu ${n.maxmtu} `;
  if (l.kind === 'bridge') s += `\n    ${bridgeDetails(l)}`;
  else if (l.kind === 'veth' || l.kind === 'dummy') s += `\n    ${l.kind} `;
  // xfrm_print_opt() (ip/link_xfrm.c): `external`, else `if_id %#llx`; the device is in the name.
  else if (l.kind === 'xfrm') s += `\n    xfrm ${l.xfrm?.external ? 'external' : `if_id 0x${(l.xfrm?.ifId ?? 0).toString(16)}`} `;
  if (l.brport && masterOf(host, l)) s += `\n    ${bridgePortDetails(host, l)}`;
  s += `addrgenmode ${addrGenModeText(l)} numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size ${n.tso} tso_max_segs 65535 gro_max_size 65536 `;
  return s;
}

function detailJson(host: Host, l: Link, o: Record<string, unknown>): void {
  const n = detailNumbers(host, l);
  const promisc = l.brport ? 1 : 0;
  o['promiscuity'] = promisc;
  o['allmulti'] = promisc;
  o['min_mtu'] = n.minmtu;
  o['max_mtu'] = n.maxmtu;
  const info: Record<string, unknown> = {};
  if (l.kind === 'bridge') { info['info_kind'] = 'bridge'; info['info_data'] = bridgeDetailsJson(l); }
  else if (l.kind === 'veth' || l.kind === 'dummy') info['info_kind'] = l.kind;
  else if (l.kind === 'xfrm') {
    info['info_kind'] = 'xfrm';
    // print_0xhex() gives JSON a string.
    info['info_data'] = l.xfrm?.external ? { external: true } : { if_id: `0x${(l.xfrm?.ifId ?? 0).toString(16)}` };
  }
  if (l.brport && masterOf(host, l)) { info['info_slave_kind'] = 'bridge'; info['info_slave_data'] = bridgePortDetailsJson(host, l); }
  if (Object.keys(info).length) o['linkinfo'] = info;
  o['inet6_addr_gen_mode'] = addrGenModeText(l);
  Object.assign(o, { num_tx_queues: 1, num_rx_queues: 1, gso_max_size: 65536, gso_max_segs: 65535, tso_max_size: n.tso, tso_max_segs: 65535, gro_max_size: 65536 });
}

/**
 * addrconf_dev_config(): an ARPHRD_NONE device in EUI-64 mode is switched to
 * IN6_ADDR_GEN_MODE_RANDOM (it has no hardware address to derive one from).
 * nfx keeps it as `none` (no link-local address is made) and prints `random`.
 */
function addrGenModeText(l: Link): string {
  return l.kind === 'xfrm' && l.addrGenMode === 'none' ? 'random' : l.addrGenMode;
}

/**
 * `type xfrm` options (iproute2 ip/link_xfrm.c xfrm_parse_opt), then the
 * kernel's checks (xfrmi_newlink): `dev PHYS_DEV`, `if_id IF-ID` (non-zero),
 * `external` (collect_md: neither of the others, one per namespace).
 */
function xfrmOptions(host: Host, a: Args): XfrmiParms {
  const { link, ifId, external } = parseXfrmOptions(host, a);
  if (external) {
    if (host.links.some((l) => l.kind === 'xfrm' && l.xfrm?.external)) throw rtnetlink('EEXIST');
  } else {
    // xfrmi_locate(): one interface per if_id.
    if (host.links.some((l) => l.kind === 'xfrm' && !l.xfrm?.external && l.xfrm?.ifId === ifId)) throw rtnetlink('EEXIST');
  }
  return { link, ifId, external };
}

/** xfrm_parse_opt(): the words and iproute2's own refusals (it exits before asking the kernel). */
function parseXfrmOptions(host: Host, a: Args): XfrmiParms {
  let link = 0, ifId = 0, external = false;
  while (!a.done) {
    const v = a.take();
    if (matches(v, 'dev')) { link = findDev(host, a.value()).index; continue; }
    if (matches(v, 'if_id')) {
      const t = a.value();
      const n = parseU32(t);
      if (n === undefined || n === 0) throw fail(`Error: argument "${t}" is wrong: if_id value is invalid`);
      ifId = n;
      continue;
    }
    if (v === 'external') { external = true; continue; }
    throw fail('Usage: ... xfrm dev [ PHYS_DEV ] [ if_id IF-ID ]\n\t\t[ external ]\n\nWhere: IF-ID := { 0x1..0xffffffff }');
  }
  if (external) {
    if (ifId || link) throw fail("xfrmi: both 'external' and if_id/link cannot be specified");
  } else if (!ifId) throw fail('Error: argument "IF_ID" is required');
  return { link, ifId, external };
}

/**
 * xfrmi_changelink(): `ip link set NAME type xfrm [dev PHYS_DEV] if_id ID`. The
 * new if_id must be free (or this device's); the device cannot change
 * (xfrmi_change compares IFLA_XFRM_LINK, so `dev` must be given again when set).
 */
function xfrmChange(host: Host, dev: Link, p: XfrmiParms): void {
  if (dev.kind !== 'xfrm' || !dev.xfrm) throw rtnetlink('EOPNOTSUPP');
  if (!p.ifId) throw extack('if_id must be non zero.');
  if (p.external) throw extack("collect_md can't be changed.");
  const other = host.links.find((l) => l.kind === 'xfrm' && !l.xfrm?.external && l.xfrm?.ifId === p.ifId);
  if (other && other !== dev) throw rtnetlink('EEXIST');
  if (dev.xfrm.link !== p.link) throw rtnetlink('EINVAL');
  dev.xfrm = { ...dev.xfrm, ifId: p.ifId };
}

/** `type bridge` options (iproute2 ip/iplink_bridge.c bridge_parse_opt) nfx models; others are refused. */
function bridgeOption(a: Args, w: string, into: Partial<BridgeAttrs>): boolean {
  const cs = (what: string): number => num(a.value(), what);
  switch (w) {
    case 'ageing_time': into.ageingTime = cs('ageing_time'); return true;
    case 'forward_delay': into.forwardDelay = cs('forward_delay'); return true;
    case 'hello_time': into.helloTime = cs('hello_time'); return true;
    case 'max_age': into.maxAge = cs('max_age'); return true;
    case 'priority': into.priority = cs('priority'); return true;
    case 'vlan_filtering': {
      // get_u8(); br_vlan_filter_toggle() takes any non-zero as on.
      const v = a.value();
      const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
      if (!(n >= 0 && n <= 255)) throw fail(`Error: argument "${v}" is wrong: invalid vlan_filtering`);
      into.vlanFiltering = n !== 0;
      return true;
    }
    case 'vlan_default_pvid': {
      const v = a.value();
      const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
      if (!(n >= 0 && n <= 65535)) throw fail(`Error: argument "${v}" is wrong: invalid vlan_default_pvid`);
      into.defaultPvid = n;
      return true;
    }
    case 'vlan_protocol': {
      const v = a.value();
      if (v.toLowerCase() !== '802.1q') throw fail(`Error: nfx models bridges with vlan_protocol 802.1Q only.`);
      return true;
    }
    case 'stp_state': case 'mcast_snooping': case 'vlan_stats_enabled': case 'vlan_stats_per_port': {
      const v = a.value();
      const dflt = w === 'mcast_snooping' ? '1' : '0';
      if (v !== dflt) throw fail(`Error: nfx models bridges with ${w} ${dflt} only.`);
      return true;
    }
    default: return false;
  }
}

function onOffArg(a: Args, what: string): boolean {
  const v = a.value();
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw fail(`Error: argument "${v}" is wrong: ${what} must be "on" or "off"`);
}

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
  const brOpts: Partial<BridgeAttrs> = {};
  let xfrmi: XfrmiParms | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'name' || w === 'dev') { name = a.value(); continue; }
    if (w === 'type') {
      type = a.value();
      if (type === 'xfrm') xfrmi = xfrmOptions(host, a);
      if (type === 'bridge') {
        while (!a.done) {
          const v = a.take();
          if (!bridgeOption(a, v, brOpts)) throw fail(`bridge: unknown command "${v}"?`);
        }
      }
      if (type === 'veth') {
        // veth's own arguments: `peer [name] NAME [address LLADDR]`.
        while (!a.done) {
          const v = a.take();
          if (v === 'peer') continue;
          if (v === 'name') { o.peerName = a.value(); continue; }
          if (v === 'address') { o.peerMac = mac(a.value()); continue; }
          if (o.peerName === undefined) { o.peerName = v; continue; }
          throw fail(`Error: argument "${v}" is wrong: unknown veth option`);
        }
      }
      continue;
    }
    if (w === 'address') { o.mac = mac(a.value()); continue; }
    if (w === 'mtu') { o.mtu = num(a.value(), 'mtu'); continue; }
    if (w === 'txqueuelen' || w === 'txqlen' || w === 'qlen') { o.txqlen = num(a.value(), 'txqueuelen'); continue; }
    if (name === undefined) { name = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (name === undefined) throw fail('Not enough information: "dev" argument is required.');
  if (!validIfname(name) || (o.peerName !== undefined && !validIfname(o.peerName))) throw fail(`Error: argument "${name}" is wrong: "name" not a valid ifname`);
  if (type === undefined) type = 'ether';
  const kind = KINDS[type];
  if (!kind) throw extack('Unknown device type.');
  if (o.mtu !== undefined && (o.mtu < 68 || o.mtu > 65535)) throw extack(o.mtu < 68 ? 'mtu less than device minimum.' : 'mtu greater than device maximum.');
  if (kind === 'xfrm' && !xfrmi) throw fail('Error: argument "IF_ID" is required');
  // br_vlan_add() takes VIDs 1..4094 only: the new bridge is refused whole.
  if (kind === 'bridge' && brOpts.defaultPvid !== undefined && brOpts.defaultPvid >= 4095) throw rtnetlink('EINVAL');
  const link = linkAdd(host, name, { ...o, kind });
  if (kind === 'xfrm' && xfrmi) {
    // xfrmi_dev_setup(): mtu ETH_DATA_LEN (1500, newLink's default), IFF_NOARP, ARPHRD_NONE.
    link.xfrm = xfrmi;
    link.addrGenMode = 'none';
  }
  if (kind === 'bridge') {
    // br_dev_setup(): a random MAC (NET_ADDR_RANDOM) that follows the ports until the user sets one.
    link.bridge = { ...newBridgeAttrs(), macSet: o.mac !== undefined };
    bridgeChangeLink(host, link, brOpts);
  }
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
  // iplink_parse() reads the whole line first and looks the device up last (ll_name_to_index).
  let devName: string | undefined;
  let dev: Link | undefined;
  const ops: (() => void)[] = [];
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { devName = a.value(); continue; }
    if (w === 'up' || w === 'down') {
      const up = w === 'up';
      ops.push(() => { if (up && dev!.kind === 'bridge' && !dev!.up) bridgeOpen(host, dev!); linkSetUp(host, dev!, up); });
      continue;
    }
    if (w === 'mtu') {
      const n = num(a.value(), 'mtu');
      ops.push(() => {
        if (n < 68 && dev!.kind !== 'loopback') throw extack('mtu less than device minimum.');
        if (n > 65535 && dev!.kind !== 'loopback') throw extack('mtu greater than device maximum.');
        dev!.mtu = n;
      });
      continue;
    }
    if (w === 'address') {
      const m = mac(a.value());
      ops.push(() => {
        if (m[0]! & 1) throw rtnetlink('EADDRNOTAVAIL');
        dev!.mac = m;
        // br_set_mac_address(): NET_ADDR_SET; a port's new MAC may change its bridge's (br_device_event NETDEV_CHANGEADDR).
        if (dev!.bridge) dev!.bridge.macSet = true;
        const br = masterOf(host, dev!);
        if (br) recalcBridgeId(host, br);
      });
      continue;
    }
    if (w === 'txqueuelen' || w === 'txqlen' || w === 'qlen') { const n = num(a.value(), 'txqueuelen'); ops.push(() => { dev!.txqlen = n; }); continue; }
    if (w === 'name') {
      const n = a.value();
      if (!validIfname(n)) throw fail(`Error: argument "${n}" is wrong: "name" not a valid ifname`);
      ops.push(() => {
        if (dev!.up) throw rtnetlink('EBUSY');
        if (host.links.some((l) => l.name === n)) throw rtnetlink('EEXIST');
        dev!.name = n;
      });
      continue;
    }
    if (w === 'addrgenmode') {
      const m = a.value();
      if (m !== 'eui64' && m !== 'none') throw fail('Error: argument of "addrgenmode" must be "eui64", "none", "stable_secret" or "random".');
      ops.push(() => { dev!.addrGenMode = m; });
      continue;
    }
    if (w === 'master') {
      const m = findDev(host, a.value());
      ops.push(() => bridgeAddPort(host, m, dev!));
      continue;
    }
    if (w === 'nomaster') { ops.push(() => { if (dev!.master !== undefined) bridgeDelPort(host, dev!); }); continue; }
    if (w === 'type') {
      const t = a.value();
      if (t === 'bridge') {
        const brOpts: Partial<BridgeAttrs> = {};
        while (!a.done) { const v = a.take(); if (!bridgeOption(a, v, brOpts)) throw fail(`bridge: unknown command "${v}"?`); }
        ops.push(() => { if (dev!.kind !== 'bridge') throw rtnetlink('EOPNOTSUPP'); bridgeChangeLink(host, dev!, brOpts); });
        continue;
      }
      if (t === 'bridge_slave') {
        // iproute2 ip/iplink_bridge_slave.c; each option is IFLA_BRPORT_* to br_setport().
        while (!a.done) {
          const v = a.take();
          if (v === 'state') {
            // iplink_bridge_slave.c: get_u8(), a number only (`bridge link set` also takes names).
            const sv = a.value();
            const st = /^\d+$/.test(sv) ? parseU32(sv) : undefined;
            if (st === undefined) throw fail(`Error: argument "${sv}" is wrong: state is invalid`);
            ops.push(() => setPortState(host, dev!, st));
          } else if (v === 'hairpin' || v === 'learning' || v === 'flood' || v === 'mcast_flood' || v === 'bcast_flood') {
            const on = onOffArg(a, v);
            const key = ({ hairpin: 'hairpin', learning: 'learning', flood: 'flood', mcast_flood: 'mcastFlood', bcast_flood: 'bcastFlood' } as const)[v];
            ops.push(() => { if (!dev!.brport) throw rtnetlink('EOPNOTSUPP'); dev!.brport[key] = on; });
          } else if (v === 'priority' || v === 'cost') {
            const n = num(a.value(), v);
            ops.push(() => { if (!dev!.brport) throw rtnetlink('EOPNOTSUPP'); dev!.brport[v] = n; });
          } else throw fail(`bridge_slave: unknown option "${v}"?`);
        }
        continue;
      }
      if (t === 'xfrm') {
        const parms = parseXfrmOptions(host, a);
        ops.push(() => xfrmChange(host, dev!, parms));
        continue;
      }
      throw fail(`Error: nfx cannot change links of type "${t}".`);
    }
    if (w === 'arp' || w === 'multicast' || w === 'promisc' || w === 'allmulticast') { a.value(); continue; }
    if (devName === undefined) { devName = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  // iplink_parse(): without a device a change request exits -1 (255), unlike `ip addr` (1).
  if (devName === undefined) throw fail('Not enough information: "dev" argument is required.', 255);
  dev = findDev(host, devName);
  for (const op of ops) { op(); bridgeSync(host); }
  return 0;
}

function del(host: Host, a: Args): number {
  let devName: string | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') { devName = a.value(); continue; }
    if (w === 'type' || w === 'group') { a.value(); continue; }
    if (devName === undefined) { devName = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (devName === undefined) throw fail('Not enough information: "dev" argument is required.', 255);
  const dev = findDev(host, devName);
  if (dev.kind === 'loopback') throw rtnetlink('EOPNOTSUPP');
  // br_dev_delete() / NETDEV_UNREGISTER: ports leave their bridge before the links go.
  const gone = [dev, ...(dev.peer !== undefined ? [linkByIndex(host, dev.peer)] : [])];
  for (const g of gone) if (g?.master !== undefined) bridgeDelPort(host, g);
  if (dev.kind === 'bridge') for (const p of bridgePorts(host, dev)) bridgeDelPort(host, p);
  linkDel(host, dev);
  bridgeSync(host);
  return 0;
}

/** Filters shared by `ip link show` and `ip addr show`: [dev] NAME, up, type KIND. */
export function selectLinks(host: Host, a: Args, extra?: (w: string) => boolean): Link[] {
  let name: string | undefined;
  let upOnly = false;
  let kind: string | undefined;
  let master: Link | undefined;
  while (!a.done) {
    const w = a.take();
    if (extra?.(w)) continue;
    if (w === 'dev') { name = a.value(); continue; }
    if (w === 'master') { master = findDev(host, a.value()); continue; }
    if (w === 'up') { upOnly = true; continue; }
    if (w === 'type') { kind = a.value(); continue; }
    if (name === undefined) { name = w; continue; }
    throw fail(`Error: either "dev" is duplicate, or "${w}" is a garbage.`);
  }
  if (name !== undefined && !host.links.some((l) => l.name === name)) throw fail(`Device "${name}" does not exist.`);
  return host.links
    .filter((l) => name === undefined || l.name === name)
    .filter((l) => !upOnly || l.up)
    .filter((l) => kind === undefined || l.kind === kind || (kind === 'bridge_slave' && l.brport !== undefined))
    .filter((l) => master === undefined || l.master === master.index)
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
    // print_linkinfo_brief(): the address only when the link has one (not an xfrm interface).
    for (const l of links) io.out(`${briefHead(host, l)}${l.kind === 'xfrm' ? '' : `${formatMac(l.mac)} `}<${linkFlags(host, l).join(',')}> \n`);
    return 0;
  }
  if (opts.json) {
    io.out(json(links.map((l) => {
      const o = linkJson(host, l, true);
      if (opts.details) detailJson(host, l, o);
      return o;
    })) + '\n');
  } else {
    for (const l of links) {
      let t = linkText(host, l, true);
      if (opts.details) t = t.slice(0, -1) + detailText(host, l) + '\n';
      io.out(t);
    }
  }
  return 0;
}
