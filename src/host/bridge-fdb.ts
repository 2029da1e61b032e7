/**
 * The bridge forwarding database (net/bridge/br_fdb.c). Local entries — each
 * port's own MAC and the bridge's — follow from the configuration and are
 * never stored; learnt entries live in the host's `bridge_fdb` section, so
 * they persist between commands like conntrack does, and age on the host's
 * virtual clock.
 */
import type { Host, Link } from './types.js';
import { linkByIndex } from './links.js';

export const SECTION_BRIDGE_FDB = 'bridge_fdb';

/** One learnt entry: the port the MAC was last seen on, and when (ms of the host clock). */
export interface FdbEntry { port: number; updated: number }

/** The section: entries by `"<bridge ifindex> <mac>"`. */
export type FdbSection = Record<string, FdbEntry>;

/** What a lookup found: a port (dst) and whether the address is the host's own (BR_FDB_LOCAL). */
export interface FdbHit { port: number; local: boolean }

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `aa:bb:cc:dd:ee:ff` of the 6 bytes at `off`. */
export function macAt(b: Uint8Array, off: number): string {
  return `${HEX[b[off]!]}:${HEX[b[off + 1]!]}:${HEX[b[off + 2]!]}:${HEX[b[off + 3]!]}:${HEX[b[off + 4]!]}:${HEX[b[off + 5]!]}`;
}

/**
 * A numeric index over the section (bridge ifindex → MAC as a 48-bit number →
 * the entry object the section holds), so the data path looks entries up
 * without building strings. Rebuilt whenever the section object is replaced.
 */
type FdbIndex = Map<number, Map<number, FdbEntry>>;
const indexes = new WeakMap<FdbSection, FdbIndex>();

function mac48(b: Uint8Array, off: number): number {
  return b[off]! * 0x10000000000 + b[off + 1]! * 0x100000000 + (((b[off + 2]! << 24) | (b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!) >>> 0);
}

function indexOf(s: FdbSection): FdbIndex {
  let ix = indexes.get(s);
  if (ix) return ix;
  ix = new Map();
  for (const [k, e] of Object.entries(s)) {
    const sp = k.indexOf(' ');
    const br = Number(k.slice(0, sp));
    const mac = k.slice(sp + 1).split(':').map((h) => parseInt(h, 16));
    if (mac.length !== 6 || mac.some((x) => !(x >= 0 && x <= 255))) continue;
    let m = ix.get(br);
    if (!m) { m = new Map(); ix.set(br, m); }
    m.set(mac48(Uint8Array.from(mac), 0), e);
  }
  indexes.set(s, ix);
  return ix;
}

function section(host: Host): FdbSection {
  let s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s || typeof s !== 'object') { s = {}; host.sections[SECTION_BRIDGE_FDB] = s; }
  return s;
}

function sameMac(a: Uint8Array, b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[off + i]) return false;
  return true;
}

/** hold_time(): the ageing time in ms (no topology changes without STP). */
export function ageingMs(br: Link): number { return (br.bridge?.ageingTime ?? 30000) * 10; }

/**
 * br_fdb_find_rcu(): the entry for the MAC at `b[off..off+6)`. A learnt entry
 * older than the ageing time is gone — br_fdb_cleanup() would have deleted it
 * at that instant — and is removed here.
 */
export function fdbLookup(host: Host, br: Link, b: Uint8Array, off: number, now: number): FdbHit | undefined {
  for (const l of host.links) if (l.master === br.index && l.brport && sameMac(l.mac, b, off)) return { port: l.index, local: true };
  if (sameMac(br.mac, b, off)) return { port: 0, local: true };
  return learntLookup(host, br, b, off, now);
}

function learntLookup(host: Host, br: Link, b: Uint8Array, off: number, now: number): FdbHit | undefined {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return undefined;
  const m = indexOf(s).get(br.index);
  const n = mac48(b, off);
  const e = m?.get(n);
  if (!e) return undefined;
  if (e.updated + ageingMs(br) <= now) { m!.delete(n); delete s[`${br.index} ${macAt(b, off)}`]; return undefined; }
  hit.port = e.port;
  return hit;
}

/** The lookup result, reused: callers read it before the next lookup. */
const hit: FdbHit = { port: 0, local: false };

/**
 * br_fdb_update(): learn that the source MAC lives behind `port`. Nothing is
 * learnt with an ageing time of 0 ("some users want to always flood"), nor
 * over a local entry (the kernel warns "received packet ... with own address
 * as source address"); an existing entry is refreshed and moves to the new
 * port (roaming). Returns 'local' for the own-address case.
 */
export function fdbLearn(host: Host, br: Link, port: number, b: Uint8Array, off: number, now: number): 'learnt' | 'refreshed' | 'moved' | 'local' | 'off' {
  if (ageingMs(br) === 0) return 'off';
  const h = fdbLookup(host, br, b, off, now);
  if (h?.local) return 'local';
  const s = section(host);
  const ix = indexOf(s);
  let m = ix.get(br.index);
  const n = mac48(b, off);
  const e = m?.get(n);
  if (!e) {
    const entry = { port, updated: now };
    s[`${br.index} ${macAt(b, off)}`] = entry;
    if (!m) { m = new Map(); ix.set(br.index, m); }
    m.set(n, entry);
    return 'learnt';
  }
  e.updated = now;
  if (e.port !== port) { e.port = port; return 'moved'; }
  return 'refreshed';
}

/** br_fdb_delete_by_port(): a port that leaves takes its learnt entries with it. */
export function fdbFlushPort(host: Host, br: number, port: number): void {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return;
  const prefix = `${br} `;
  for (const k of Object.keys(s)) if (k.startsWith(prefix) && s[k]!.port === port) delete s[k];
  indexes.delete(s);
}

/** The learnt entries of a bridge still alive at `now`, as [mac, port name, age in ms]. */
export function fdbEntries(host: Host, br: Link, now: number): Array<{ mac: string; dev: string; ageMs: number }> {
  const s = host.sections[SECTION_BRIDGE_FDB] as FdbSection | undefined;
  if (!s) return [];
  const prefix = `${br.index} `;
  const out: Array<{ mac: string; dev: string; ageMs: number }> = [];
  for (const [k, e] of Object.entries(s)) {
    if (!k.startsWith(prefix) || e.updated + ageingMs(br) <= now) continue;
    out.push({ mac: k.slice(prefix.length), dev: linkByIndex(host, e.port)?.name ?? String(e.port), ageMs: now - e.updated });
  }
  return out;
}
