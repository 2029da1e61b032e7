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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class ConntrackTable {
  /** Entries by slot; slot 0 is reserved for the untracked template. */
  readonly slots: Array<Conn | null> = [null];
  private readonly free: number[] = [];
  /** Confirmed entries by tuple key (both directions). */
  readonly hash = new Map<string, Conn>();
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

  sysctl(key: string): number {
    const v = this.sysctlFn(key);
    return v ?? CT_SYSCTL_DEFAULTS[key] ?? 0;
  }

  now(): number {
    return this.clock.nowMs();
  }

  /** Hash key of a tuple in a zone; `alen` 4 or 16. */
  static key(zone: number, family: number, proto: number, t: Tuple): string {
    const alen = family === 2 ? 4 : 16;
    let s = `${zone}/${proto}/`;
    for (let i = 0; i < alen; i++) s += HEX[t.src[i]!]!;
    s += '/';
    for (let i = 0; i < alen; i++) s += HEX[t.dst[i]!]!;
    return s + '/' + t.srcPort + '/' + t.dstPort;
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
    const c = this.hash.get(ConntrackTable.key(zone, family, proto, t));
    if (c === undefined) return undefined;
    if (c.timeoutAt <= this.now()) {
      this.remove(c);
      this.stats.expired++;
      return undefined;
    }
    const alen = family === 2 ? 4 : 16;
    dirOut[0] = tupleEq(c.tuple[0], t, alen) ? 0 : 1;
    return c;
  }

  /** True when a confirmed, live entry uses tuple `t` in either direction (nf_conntrack_tuple_taken, minus the ignored entry). */
  tupleTaken(zone: number, family: number, proto: number, t: Tuple, ignore?: Conn): boolean {
    const c = this.hash.get(ConntrackTable.key(zone, family, proto, t));
    if (c === undefined || c === ignore) return false;
    if (c.timeoutAt <= this.now()) {
      this.remove(c);
      return false;
    }
    return true;
  }

  /** Inserts a new entry in the hash under both tuples (__nf_conntrack_hash_insert). */
  insert(c: Conn): void {
    this.hash.set(ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[0]), c);
    this.hash.set(ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[1]), c);
    c.status |= IPS_CONFIRMED;
    this.count++;
  }

  /** Re-keys the reply tuple after NAT changed it (before confirmation only). */
  rehashReply(c: Conn, oldReply: Tuple): void {
    if (!(c.status & IPS_CONFIRMED)) return;
    this.hash.delete(ConntrackTable.key(c.zone, c.family, c.proto, oldReply));
    this.hash.set(ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[1]), c);
  }

  /** Removes an entry (expiry, table flush, unconfirmed release). */
  remove(c: Conn): void {
    if (c.status & IPS_CONFIRMED) {
      const k0 = ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[0]);
      const k1 = ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[1]);
      if (this.hash.get(k0) === c) this.hash.delete(k0);
      if (this.hash.get(k1) === c) this.hash.delete(k1);
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
      const k0 = ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[0]);
      const k1 = ConntrackTable.key(c.zone, c.family, c.proto, c.tuple[1]);
      if (this.hash.get(k0) === c) this.hash.delete(k0);
      if (this.hash.get(k1) === c) this.hash.delete(k1);
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
  for (let i = 0; i < alen; i++) if (a.src[i] !== b.src[i] || a.dst[i] !== b.dst[i]) return false;
  return true;
}

/** The packet's ctSlot value for an entry and ctinfo. */
export function ctSlotValue(c: Conn, ctinfo: number): number {
  return (c.slot << 3) | ctinfo;
}

export const UNTRACKED_SLOT = IP_CT_UNTRACKED;
