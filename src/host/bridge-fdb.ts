/**
 * The bridge forwarding database (net/bridge/br_fdb.c), keyed like the
 * kernel's by (MAC, VID) — VID 0 when VLAN filtering is off.
 *
 * Local entries that follow from the configuration — each port's MAC in VID 0
 * and in each of the port's VLANs, the bridge's MAC in VID 0 and in each VLAN
 * the bridge device is a member of (fdb_add_local callers) — are derived, not
 * stored. Learnt entries and the user's (`bridge fdb add`) live in the host's
 * `bridge_fdb` section, so they persist between commands like conntrack does;
 * learnt and `dynamic` entries age on the host's virtual clock, static and
 * permanent ones do not. A user's entry for the key of a derived one overrides
 * it; a deleted derived entry leaves a tombstone (`gone`) until its port leaves.
 */
import type { Host, Link } from './types.js';
import { linkByIndex } from './links.js';
import { bridgeVlanGroup, findVlan, nextFdbSeq, portVlanGroup } from './bridge-vlan.js';

export const SECTION_BRIDGE_FDB = 'bridge_fdb';

/**
 * One stored entry. `port` is the ifindex of the port it points at (fdb->dst),
 * 0 for the bridge itself (dst NULL). Flags as the kernel's BR_FDB_*:
 * `local` (BR_FDB_LOCAL: the host's own, delivered up, "permanent"), `static`
 * (BR_FDB_STATIC: never ages), `sticky` (BR_FDB_STICKY: does not roam),
 * `user` (BR_FDB_ADDED_BY_USER). `seq` orders br->fdb_list (higher = newer).
 */
export interface FdbEntry {
  port: number;
  updated: number;
  seq?: number;
  local?: boolean;
  static?: boolean;
  sticky?: boolean;
  user?: boolean;
  /** A derived local entry the user deleted. */
  gone?: boolean;
}

/** The section: entries by `"<bridge ifindex> <mac>"` (VID 0) or `"<bridge ifindex> <mac> <vid>"`. */
export type FdbSection = Record<string, FdbEntry>;

/** What a lookup found: a port (dst, 0 = the bridge) and whether the address is the host's own (BR_FDB_LOCAL). */
export interface FdbHit { port: number; local: boolean }

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `aa:bb:cc:dd:ee:ff` of the 6 bytes at `off`. */
export function macAt(b: Uint8Array, off: number): string {
  return `${HEX[b[off]!]}:${HEX[b[off + 1]!]}:${HEX[b[off + 2]!]}:${HEX[b[off + 3]!]}:${HEX[b[off + 4]!]}:${HEX[b[off + 5]!]}`;
}

export function fdbKey(br: number, mac: string, vid: number): string {
  return vid ? `${br} ${mac} ${vid}` : `${br} ${mac}`;
}

/** A section key taken apart; undefined when malformed. */
export function parseFdbKey(k: string): { br: number; mac: string; vid: number } | undefined {
  const [b, mac, v] = k.split(' ');
  const br = Number(b), vid = v === undefined ? 0 : Number(v);
  if (!mac || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || !Number.isInteger(br) || !(vid >= 0 && vid < 4096)) return undefined;
  return { br, mac, vid };
}

/**
 * A numeric index over the section ((bridge ifindex, VID) → MAC as a 48-bit
 * number → the entry object the section holds), so the data path looks
 * entries up without building strings. Rebuilt whenever the section object is
 * replaced or entries are removed in bulk.
 */
type FdbIndex = Map<number, Map<number, FdbEntry>>;
const indexes = new WeakMap<FdbSection, FdbIndex>();

function mac48(b: Uint8Array, off: number): number {
  return b[off]! * 0x10000000000 + b[off + 1]! * 0x100000000 + (((b[off + 2]! << 24) | (b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!) >>> 0);
}

const bucket = (br: number, vid: number): number => br * 4096 + vid;

function indexOf(s: FdbSection): FdbIndex {
  let ix = indexes.get(s);
  if (ix) return ix;
  ix = new Map();
  for (const [k, e] of Object.entries(s)) {
    const key = parseFdbKey(k);
    if (!key) continue;
    const mac = Uint8Array.from(key.mac.split(':').map((h) => parseInt(h, 16)));
    let m = ix.get(bucket(key.br, key.vid));
    if (!m) { m = new Map(); ix.set(bucket(key.br, key.vid), m); }
    m.set(mac48(mac, 0), e);
  }
  indexes.set(s, ix);
  return ix;
}

function section(host: Host): FdbSection {
  let s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s || typeof s !== 'object') { s = {}; host.sections[SECTION_BRIDGE_FDB] = s; }
  return s;
}

function stored(host: Host, br: number, b: Uint8Array, off: number, vid: number): FdbEntry | undefined {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return undefined;
  return indexOf(s).get(bucket(br, vid))?.get(mac48(b, off));
}

function store(host: Host, br: number, b: Uint8Array, off: number, vid: number, e: FdbEntry): void {
  const s = section(host);
  const ix = indexOf(s);
  s[fdbKey(br, macAt(b, off), vid)] = e;
  let m = ix.get(bucket(br, vid));
  if (!m) { m = new Map(); ix.set(bucket(br, vid), m); }
  m.set(mac48(b, off), e);
}

function unstore(host: Host, br: number, b: Uint8Array, off: number, vid: number): void {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return;
  delete s[fdbKey(br, macAt(b, off), vid)];
  indexes.get(s)?.get(bucket(br, vid))?.delete(mac48(b, off));
}

function sameMac(a: Uint8Array, b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[off + i]) return false;
  return true;
}

function validMac(m: Uint8Array): boolean {
  if (m[0]! & 1) return false;
  for (let i = 0; i < 6; i++) if (m[i] !== 0) return true;
  return false;
}

/** hold_time(): the ageing time in ms (no topology changes without STP). */
export function ageingMs(br: Link): number { return (br.bridge?.ageingTime ?? 30000) * 10; }

/** has_expired(): only entries that are neither static nor local age. */
function expired(e: FdbEntry, br: Link, now: number): boolean {
  return !e.static && !e.local && e.updated + ageingMs(br) <= now;
}

/** A derived local entry: its port (0 = the bridge) and dump position; undefined when none. */
export interface LocalEntry { port: number; seq: number }
const localHit: LocalEntry = { port: 0, seq: 0 };

/**
 * The local entry the configuration makes for (MAC, VID): a port's MAC in
 * VID 0 and in the port's VLANs (br_add_if, __vlan_add), else the bridge's MAC
 * in VID 0 and in its brentry VLANs (br_fdb_change_mac_address) — a port that
 * has the bridge's MAC holds the entry (fdb_add_local finds it). Reused object.
 */
export function derivedLocal(host: Host, br: Link, b: Uint8Array, off: number, vid: number): LocalEntry | undefined {
  for (const l of host.links) {
    if (l.master !== br.index || !l.brport || !sameMac(l.mac, b, off)) continue;
    if (vid === 0) { localHit.port = l.index; localHit.seq = l.brport.fdbSeq ?? 0; return localHit; }
    const v = findVlan(portVlanGroup(br, l), vid);
    if (v) { localHit.port = l.index; localHit.seq = v.seq; return localHit; }
  }
  if (!sameMac(br.mac, b, off) || !validMac(br.mac)) return undefined;
  if (vid === 0) { localHit.port = 0; localHit.seq = br.bridge?.localSeq ?? 0; return localHit; }
  const v = findVlan(bridgeVlanGroup(br), vid);
  if (!v) return undefined;
  localHit.port = 0; localHit.seq = v.seq;
  return localHit;
}

/** The lookup result, reused: callers read it before the next lookup. */
const hit: FdbHit = { port: 0, local: false };

/**
 * br_fdb_find_rcu(): the entry for (the MAC at `b[off..off+6)`, `vid`). A
 * user's entry (or tombstone) comes first, then the configuration's local
 * entries, then learnt ones. An entry older than the ageing time is gone —
 * br_fdb_cleanup() would have deleted it at that instant — and is removed here.
 */
export function fdbLookup(host: Host, br: Link, b: Uint8Array, off: number, now: number, vid = 0): FdbHit | undefined {
  const e = stored(host, br.index, b, off, vid);
  if (e && (e.user || e.gone)) {
    if (e.gone) return undefined;
    if (expired(e, br, now)) { unstore(host, br.index, b, off, vid); return undefined; }
    hit.port = e.port; hit.local = e.local === true;
    return hit;
  }
  const d = derivedLocal(host, br, b, off, vid);
  if (d) { hit.port = d.port; hit.local = true; return hit; }
  if (!e) return undefined;
  if (expired(e, br, now)) { unstore(host, br.index, b, off, vid); return undefined; }
  hit.port = e.port; hit.local = e.local === true;
  return hit;
}

/**
 * br_fdb_update(): learn that the source MAC lives behind `port` in `vid`.
 * Nothing is learnt with an ageing time of 0 ("some users want to always
 * flood"), nor over a local entry (the kernel warns "received packet ... with
 * own address as source address"); an existing entry is refreshed and moves
 * to the new port (roaming) unless sticky — static entries roam too. Returns
 * 'local' for the own-address case.
 */
export function fdbLearn(host: Host, br: Link, port: number, b: Uint8Array, off: number, now: number, vid = 0): 'learnt' | 'refreshed' | 'moved' | 'local' | 'off' {
  if (ageingMs(br) === 0) return 'off';
  const h = fdbLookup(host, br, b, off, now, vid);
  if (h?.local) return 'local';
  const e = stored(host, br.index, b, off, vid);
  if (!h || !e || e.gone) {
    // Over a deleted local entry the learnt one must keep precedence over the configuration's (marked as the user's).
    store(host, br.index, b, off, vid, { port, updated: now, seq: nextFdbSeq(br), ...(e?.gone ? { user: true } : {}) });
    return 'learnt';
  }
  e.updated = now;
  if (e.port !== port && !e.sticky) { e.port = port; return 'moved'; }
  return 'refreshed';
}

/**
 * br_fdb_delete_by_port(br, p, vid, do_all): the entries pointing at `port`
 * (0: the bridge) go — with `doAll` (the port leaves) every one, tombstones
 * included; else (the port stops forwarding, a VLAN is deleted) all but
 * static and local ones, and only those of `vid` when given.
 */
export function fdbFlushPort(host: Host, br: number, port: number, doAll = true, vid = 0): void {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return;
  for (const [k, e] of Object.entries(s)) {
    if (e.port !== port) continue;
    const key = parseFdbKey(k);
    if (!key || key.br !== br) continue;
    if (!doAll && (e.static || e.local || e.gone || (vid && key.vid !== vid))) continue;
    delete s[k];
  }
  indexes.delete(s);
}

/** One entry of a bridge as `bridge fdb show` lists it. */
export interface FdbListed {
  mac: string;
  vid: number;
  /** ifindex of the port, 0 for the bridge itself. */
  port: number;
  state: 'permanent' | 'static' | '';
  sticky: boolean;
  /** BR_FDB_ADDED_BY_USER. */
  user: boolean;
  seq: number;
  ageMs: number;
}

/** The VLANs a local entry is derived in: VID 0 and the group's. */
function localVids(g: { vlans: Array<{ vid: number; seq: number }> }, seq0: number): Array<[number, number]> {
  return [[0, seq0], ...g.vlans.map((v): [number, number] => [v.vid, v.seq])];
}

/**
 * Every live entry of `br` (br->fdb_list), newest first: the derived local
 * entries not overridden by a stored one, and the stored ones.
 */
export function fdbList(host: Host, br: Link, now: number): FdbListed[] {
  const out: FdbListed[] = [];
  const s = (host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined) ?? {};
  const seen = new Set<string>();
  const ports = host.links.filter((l) => l.master === br.index && l.brport);
  const addLocal = (mac: Uint8Array, vid: number, port: number, seq: number): void => {
    const text = macAt(mac, 0);
    const k = fdbKey(br.index, text, vid);
    if (seen.has(k)) return;
    seen.add(k);
    const e = s[k];
    if (e && (e.user || e.gone)) return;
    out.push({ mac: text, vid, port, state: 'permanent', sticky: false, user: false, seq, ageMs: 0 });
  };
  for (const p of ports) for (const [vid, seq] of localVids(portVlanGroup(br, p), p.brport!.fdbSeq ?? 0)) addLocal(p.mac, vid, p.index, seq);
  if (validMac(br.mac)) for (const [vid, seq] of localVids(bridgeVlanGroup(br), br.bridge?.localSeq ?? 0)) addLocal(br.mac, vid, 0, seq);
  for (const [k, e] of Object.entries(s)) {
    const key = parseFdbKey(k);
    if (!key || key.br !== br.index || e.gone || expired(e, br, now)) continue;
    // A learnt entry the configuration's local one has since taken over (fdb_add_local deletes it).
    if (!e.user && seen.has(k)) continue;
    out.push({
      mac: key.mac, vid: key.vid, port: e.port, state: e.local ? 'permanent' : e.static ? 'static' : '', sticky: e.sticky === true,
      user: e.user === true, seq: e.seq ?? 0, ageMs: now - e.updated,
    });
  }
  return out.sort((a, b) => b.seq - a.seq);
}

/** The learnt entries of a bridge still alive at `now`, as [mac, port name, age in ms]. */
export function fdbEntries(host: Host, br: Link, now: number): Array<{ mac: string; dev: string; ageMs: number; vid: number }> {
  return fdbList(host, br, now).filter((e) => e.state !== 'permanent' && e.state !== 'static')
    .map((e) => ({ mac: e.mac, dev: linkByIndex(host, e.port)?.name ?? String(e.port), ageMs: e.ageMs, vid: e.vid }));
}

/** NUD_PERMANENT / NUD_NOARP / NUD_REACHABLE (include/uapi/linux/neighbour.h): the states `bridge fdb add` asks for. */
export type FdbState = 'permanent' | 'static' | 'dynamic';

/** NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE as `bridge fdb add|append|replace` send them. */
export interface FdbAddFlags { create: boolean; excl: boolean }

export type FdbErrno = 'EINVAL' | 'EEXIST' | 'ENOENT' | 'EPERM';

/**
 * fdb_add_entry() for one VID: `port` undefined is the bridge itself. Returns
 * an errno when the kernel refuses: a bridge entry must be permanent
 * (EINVAL), a dynamic entry needs a port that learns (EPERM), sticky cannot be
 * local (EINVAL), an existing entry with NLM_F_EXCL is EEXIST.
 */
export function fdbUserAdd(host: Host, br: Link, port: Link | undefined, mac: Uint8Array, vid: number, state: FdbState, sticky: boolean,
  flags: FdbAddFlags, now: number): FdbErrno | undefined {
  const src = port?.index ?? 0;
  if (port && state === 'dynamic' && !(port.brport!.state === 2 || port.brport!.state === 3)) return 'EPERM';
  if (!port && state !== 'permanent') return 'EINVAL';
  if (sticky && state === 'permanent') return 'EINVAL';
  const e = stored(host, br.index, mac, 0, vid);
  const live = e && !e.gone && !expired(e, br, now) ? e : undefined;
  // A user's entry or tombstone hides the configuration's local one.
  const d = !e || !(e.user || e.gone) ? derivedLocal(host, br, mac, 0, vid) : undefined;
  if (!live && !d) {
    if (!flags.create) return 'ENOENT';
    store(host, br.index, mac, 0, vid, {
      port: src, updated: now, seq: nextFdbSeq(br), user: true,
      ...(state === 'permanent' ? { local: true, static: true } : state === 'static' ? { static: true } : {}), ...(sticky ? { sticky: true } : {}),
    });
    return undefined;
  }
  if (flags.excl) return 'EEXIST';
  // The existing entry changes in place (it keeps its position in the list).
  const cur: FdbEntry = d ? { port: d.port, updated: now, seq: d.seq, local: true, static: true } : { ...live! };
  const wasStatic = cur.static === true;
  let modified = cur.port !== src || (cur.sticky === true) !== sticky;
  cur.port = src;
  // fdb_to_nud() never equals the NUD_NOARP-carrying state iproute2 sends for permanent and static.
  if (state === 'permanent') { cur.local = true; cur.static = true; modified = true; }
  else if (state === 'static') { delete cur.local; cur.static = true; modified = true; }
  else { delete cur.local; delete cur.static; if (wasStatic) modified = true; }
  if (sticky) cur.sticky = true; else delete cur.sticky;
  cur.user = true;
  delete cur.gone;
  if (modified) cur.updated = now;
  store(host, br.index, mac, 0, vid, cur);
  return undefined;
}

/**
 * fdb_delete_by_addr_and_port(): the entry for (MAC, VID) must point at
 * `port` (undefined: the bridge), else ENOENT. A derived local entry that
 * goes leaves a tombstone so the configuration does not bring it back.
 */
export function fdbUserDel(host: Host, br: Link, port: Link | undefined, mac: Uint8Array, vid: number, now: number): boolean {
  const src = port?.index ?? 0;
  const h = fdbLookup(host, br, mac, 0, now, vid);
  if (!h || h.port !== src) return false;
  if (derivedLocal(host, br, mac, 0, vid)) store(host, br.index, mac, 0, vid, { port: src, updated: now, gone: true });
  else unstore(host, br.index, mac, 0, vid);
  return true;
}

/** BR_FDB_* bits (net/bridge/br_private.h) a flush filters on. */
export const BR_FDB_LOCAL = 1 << 0, BR_FDB_STATIC = 1 << 1, BR_FDB_STICKY = 1 << 2, BR_FDB_ADDED_BY_USER = 1 << 3;

/** struct net_bridge_fdb_flush_desc: 0 = any port / VID; `port` -1 = any, 0 = the bridge itself. */
export interface FdbFlushDesc { port: number; vid: number; flags: number; mask: number }

function fdbFlags(e: FdbListed): number {
  return (e.state === 'permanent' ? BR_FDB_LOCAL | BR_FDB_STATIC : e.state === 'static' ? BR_FDB_STATIC : 0) |
    (e.sticky ? BR_FDB_STICKY : 0) | (e.user ? BR_FDB_ADDED_BY_USER : 0);
}

/**
 * br_fdb_flush() (`bridge fdb flush`): every entry that matches the
 * description goes — local ones too (fdb_delete, no exception for a port's
 * own address).
 */
export function fdbFlush(host: Host, br: Link, d: FdbFlushDesc, now: number): void {
  for (const e of fdbList(host, br, now)) {
    if (d.vid && d.vid !== e.vid) continue;
    if (d.port >= 0 && d.port !== e.port) continue;
    if (d.mask && (fdbFlags(e) & d.mask) !== d.flags) continue;
    const mac = Uint8Array.from(e.mac.split(':').map((h) => parseInt(h, 16)));
    fdbUserDel(host, br, e.port ? linkByIndex(host, e.port) : undefined, mac, e.vid, now);
  }
}
