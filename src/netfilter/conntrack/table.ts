/**
 * The conntrack table (struct netns_ct + nf_conntrack_hash): entries in a slot
 * array so packets can point at them by index, a hash keyed by both tuples of
 * every confirmed entry, lazy expiry on the table's clock and the sysctls.
 */
import type { Clock } from '../clock.js';
import type { Packet } from '../../packet/packet.js';
import type { Conn, Tuple } from './types.js';
import { IPS_ASSURED, IPS_CONFIRMED, IPS_DYING, IP_CT_UNTRACKED } from './types.js';

/** Reads `net.netfilter.nf_conntrack_*` (full sysctl names); undefined = the kernel default. */
export type CtSysctl = (key: string) => number | undefined;

/** Kernel defaults (Documentation/networking/nf_conntrack-sysctl.rst, Linux 6.x); timeouts in seconds. */
export const CT_SYSCTL_DEFAULTS: Readonly<Record<string, number>> = {
  'net.netfilter.nf_conntrack_max': 262144,
  'net.netfilter.nf_conntrack_checksum': 1,
  'net.netfilter.nf_conntrack_acct': 0,
  'net.netfilter.nf_conntrack_tcp_loose': 1,
  'net.netfilter.nf_conntrack_tcp_be_liberal': 0,
  'net.netfilter.nf_conntrack_tcp_ignore_invalid_rst': 0,
  'net.netfilter.nf_conntrack_tcp_max_retrans': 3,
  'net.netfilter.nf_conntrack_tcp_timeout_syn_sent': 120,
  'net.netfilter.nf_conntrack_tcp_timeout_syn_recv': 60,
  'net.netfilter.nf_conntrack_tcp_timeout_established': 432000,
  'net.netfilter.nf_conntrack_tcp_timeout_fin_wait': 120,
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait': 60,
  'net.netfilter.nf_conntrack_tcp_timeout_last_ack': 30,
  'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 120,
  'net.netfilter.nf_conntrack_tcp_timeout_close': 10,
  'net.netfilter.nf_conntrack_tcp_timeout_max_retrans': 300,
  'net.netfilter.nf_conntrack_tcp_timeout_unacknowledged': 300,
  'net.netfilter.nf_conntrack_udp_timeout': 30,
  'net.netfilter.nf_conntrack_udp_timeout_stream': 120,
  'net.netfilter.nf_conntrack_icmp_timeout': 30,
  'net.netfilter.nf_conntrack_icmpv6_timeout': 30,
  'net.netfilter.nf_conntrack_generic_timeout': 600,
  'net.netfilter.nf_conntrack_gre_timeout': 30,
  'net.netfilter.nf_conntrack_gre_timeout_stream': 180,
  'net.netfilter.nf_conntrack_frag6_timeout': 60,
  'net.ipv4.ipfrag_time': 30,
  'net.ipv4.ipfrag_high_thresh': 4194304,
  'net.netfilter.nf_conntrack_frag6_high_thresh': 4194304,
};

export interface ConntrackTableOptions {
  /** Source of randomness for NAT (`random`, `fully-random`) and ct ids; [0, 1) like Math.random. Deterministic by default. */
  random?: () => number;
}

/** The ctinfo a packet carries (IP_CT_*), IP_CT_UNTRACKED, or -1 when it has no entry. */
export function ctInfoOf(pkt: Packet): number {
  const s = pkt.meta.ctSlot;
  return s < 0 ? -1 : s & 7;
}

/** The packet's entry, or undefined (no entry, untracked, or expired and reaped). */
export function connOf(table: ConntrackTable, pkt: Packet): Conn | undefined {
  const s = pkt.meta.ctSlot;
  if (s < 8) return undefined;
  return table.slots[s >> 3] ?? undefined;
}

/** A small deterministic generator (mulberry32) so replays are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


export class ConntrackTable {
  /** Entries by slot; slot 0 is reserved for the untracked template. */
  readonly slots: Array<Conn | null> = [null];
  private readonly free: number[] = [];
  /** Confirmed entries by tuple hash (both directions); a bucket holds the entries whose tuples share a hash. */
  readonly hash = new Map<number, Conn[]>();
  /** Confirmed entry count (nf_conntrack_count). */
  count = 0;
  nextId = 1;
  serial = 0;
  readonly random: () => number;
  /** Drop statistics like /proc/net/stat/nf_conntrack. */
  readonly stats = { found: 0, invalid: 0, insert: 0, insertFailed: 0, drop: 0, earlyDrop: 0, expired: 0 };
  /** Per-expression connlimit lists (nft_connlimit's nf_conncount_list). */
  readonly connlimitLists = new WeakMap<object, Set<number>>();

  constructor(readonly clock: Clock, private readonly sysctlFn: CtSysctl = () => undefined, opts: ConntrackTableOptions = {}) {
    this.random = opts.random ?? seeded(0x6e6678);
  }

  private readonly sysctlCache = new Map<string, number>();

  /**
   * A conntrack sysctl's value. Values are cached (this is read several
   * times per packet): call `reloadSysctls()` after changing one.
   */
  sysctl(key: string): number {
    let v = this.sysctlCache.get(key);
    if (v === undefined) {
      v = this.sysctlFn(key) ?? CT_SYSCTL_DEFAULTS[key] ?? 0;
      this.sysctlCache.set(key, v);
    }
    return v;
  }

  /** Forgets cached sysctl values (after `sysctl -w net.netfilter.nf_conntrack_*`). */
  reloadSysctls(): void {
    this.sysctlCache.clear();
  }

  now(): number {
    return this.clock.nowMs();
  }

  /** FNV-1a hash of a tuple in a zone (the kernel uses siphash with a boot-time seed; any spread will do). */
  static hashOf(zone: number, proto: number, alen: number, t: Tuple): number {
    let h = 0x811c9dc5 ^ zone;
    h = Math.imul(h ^ proto, 0x01000193);
    h = Math.imul(h ^ t.srcPort, 0x01000193);
    h = Math.imul(h ^ t.dstPort, 0x01000193);
    const s = t.src, d = t.dst;
    for (let i = 0; i < alen; i++) {
      h = Math.imul(h ^ s[i]!, 0x01000193);
      h = Math.imul(h ^ d[i]!, 0x01000193);
    }
    return h | 0;
  }

  /** The confirmed entry holding tuple `t` in either direction, and that direction in `dirOut[0]`. */
  private find(zone: number, family: number, proto: number, t: Tuple, dirOut: number[] | null): Conn | undefined {
    const alen = family === 2 ? 4 : 16;
    const bucket = this.hash.get(ConntrackTable.hashOf(zone, proto, alen, t));
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const c = bucket[i]!;
      if (c.zone !== zone || c.proto !== proto || c.family !== family) continue;
      if (tupleEq(c.tuple[0], t, alen)) { if (dirOut !== null) dirOut[0] = 0; return c; }
      if (tupleEq(c.tuple[1], t, alen)) { if (dirOut !== null) dirOut[0] = 1; return c; }
    }
    return undefined;
  }

  private hashAdd(c: Conn, t: Tuple): void {
    const h = ConntrackTable.hashOf(c.zone, c.proto, c.family === 2 ? 4 : 16, t);
    const b = this.hash.get(h);
    if (b === undefined) this.hash.set(h, [c]);
    else if (!b.includes(c)) b.push(c);
  }

  private hashDel(c: Conn, t: Tuple): void {
    const h = ConntrackTable.hashOf(c.zone, c.proto, c.family === 2 ? 4 : 16, t);
    const b = this.hash.get(h);
    if (b === undefined) return;
    const i = b.indexOf(c);
    if (i >= 0) b.splice(i, 1);
    if (b.length === 0) this.hash.delete(h);
  }

  /** Allocates a slot for a new (unconfirmed) entry. */
  allocSlot(c: Conn): number {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = c;
    c.slot = slot;
    return slot;
  }

  /**
   * Finds the confirmed entry for a tuple; returns it and writes the direction
   * the tuple has in it to `dirOut[0]`. An expired entry is reaped first (the
   * kernel's lazy nf_ct_gc_expired() during lookup).
   */
  lookup(zone: number, family: number, proto: number, t: Tuple, dirOut: number[]): Conn | undefined {
    const c = this.find(zone, family, proto, t, dirOut);
    if (c === undefined) return undefined;
    if (c.timeoutAt <= this.now()) {
      this.remove(c);
      this.stats.expired++;
      return undefined;
    }
    return c;
  }

  /** True when a confirmed, live entry uses tuple `t` in either direction (nf_conntrack_tuple_taken, minus the ignored entry). */
  tupleTaken(zone: number, family: number, proto: number, t: Tuple, ignore?: Conn): boolean {
    const c = this.find(zone, family, proto, t, null);
    if (c === undefined || c === ignore) return false;
    if (c.timeoutAt <= this.now()) {
      this.remove(c);
      return false;
    }
    return true;
  }

  /** Inserts a new entry in the hash under both tuples (__nf_conntrack_hash_insert). */
  insert(c: Conn): void {
    this.hashAdd(c, c.tuple[0]);
    this.hashAdd(c, c.tuple[1]);
    c.status |= IPS_CONFIRMED;
    this.count++;
  }

  /** Removes an entry (expiry, table flush, unconfirmed release). */
  remove(c: Conn): void {
    if (c.status & IPS_CONFIRMED) {
      this.hashDel(c, c.tuple[0]);
      this.hashDel(c, c.tuple[1]);
      this.count--;
    }
    if (c.slot > 0 && this.slots[c.slot] === c) {
      this.slots[c.slot] = null;
      this.free.push(c.slot);
    }
  }

  /**
   * nf_ct_kill(): takes a confirmed entry out of the hash at once; its slot
   * stays valid for the packet in flight until confirm or release frees it.
   */
  kill(c: Conn): void {
    if (c.status & IPS_CONFIRMED) {
      this.hashDel(c, c.tuple[0]);
      this.hashDel(c, c.tuple[1]);
      this.count--;
      c.status &= ~IPS_CONFIRMED;
    }
    c.status |= IPS_DYING;
  }

  /** Reaps every expired entry (the kernel's gc worker); returns how many went. */
  gc(): number {
    const now = this.now();
    let n = 0;
    for (const c of this.confirmed()) {
      if (c.timeoutAt <= now) {
        this.remove(c);
        n++;
      }
    }
    this.stats.expired += n;
    return n;
  }

  /**
   * early_drop(): with the table full, drop one not-yet-assured entry (the
   * oldest we can find) to make room. Returns false when every entry is assured.
   */
  earlyDrop(): boolean {
    if (this.gc() > 0) return true;
    let victim: Conn | undefined;
    for (const c of this.confirmed()) {
      if (c.status & IPS_ASSURED) continue;
      if (victim === undefined || c.serial < victim.serial) victim = c;
    }
    if (victim === undefined) return false;
    this.remove(victim);
    this.stats.earlyDrop++;
    return true;
  }

  /** Confirmed entries, each once, oldest first. */
  confirmed(): Conn[] {
    const out: Conn[] = [];
    for (const c of this.slots) if (c !== null && (c.status & IPS_CONFIRMED)) out.push(c);
    return out.sort((a, b) => a.serial - b.serial);
  }

  /** `conntrack -F`. */
  flush(): void {
    for (const c of this.confirmed()) this.remove(c);
  }
}

function tupleEq(a: Tuple, b: Tuple, alen: number): boolean {
  if (a.srcPort !== b.srcPort || a.dstPort !== b.dstPort) return false;
  const as = a.src, bs = b.src, ad = a.dst, bd = b.dst;
  for (let i = 0; i < alen; i++) if (as[i] !== bs[i] || ad[i] !== bd[i]) return false;
  return true;
}

/** The packet's ctSlot value for an entry and ctinfo. */
export function ctSlotValue(c: Conn, ctinfo: number): number {
  return (c.slot << 3) | ctinfo;
}

export const UNTRACKED_SLOT = IP_CT_UNTRACKED;
