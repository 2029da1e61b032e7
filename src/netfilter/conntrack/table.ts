/**
 * The conntrack table (struct netns_ct + nf_conntrack_hash): entries in a slot
 * array so packets can point at them by index, a hash keyed by both tuples of
 * every confirmed entry, lazy expiry on the table's clock and the sysctls.
 */
import type { Clock } from '../clock.js';
import type { Packet } from '../../packet/packet.js';
import type { Conn, Tuple } from './types.js';
import { IPS_ASSURED, IPS_CONFIRMED, IPS_DYING, IP_CT_UNTRACKED } from './types.js';
import { TupleHash } from './tuple-hash.js';
import type { L4Info } from './tuple.js';
import { mulberry32Float } from '../random.js';

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
  // tn->offload_timeout: how long a flowtable entry lives without packets (nf_flow_table_core.c).
  'net.netfilter.nf_flowtable_tcp_timeout': 30,
  'net.netfilter.nf_flowtable_udp_timeout': 30,
  'net.ipv4.ipfrag_time': 30,
  'net.ipv4.ipfrag_high_thresh': 4194304,
  'net.netfilter.nf_conntrack_frag6_high_thresh': 4194304,
};

/**
 * tcp_timeouts[] by enum tcp_conntrack (NONE has none; SYN_SENT2 uses
 * syn_sent's, as the kernel's table does).
 */
const TCP_TIMEOUT_NAMES = ['', 'syn_sent', 'syn_recv', 'established', 'fin_wait', 'close_wait', 'last_ack', 'time_wait', 'close', 'syn_sent'];

/** The per-packet conntrack sysctls (`ConntrackTable.knobs()`); timeouts in ms. */
export interface CtKnobs {
  readonly max: number;
  readonly checksum: boolean;
  readonly tcpLoose: boolean;
  readonly tcpBeLiberal: boolean;
  readonly tcpIgnoreInvalidRst: boolean;
  readonly tcpMaxRetrans: number;
  /** By TCP_CONNTRACK_* state. */
  readonly tcpTimeoutMs: Float64Array;
  readonly tcpTimeoutMaxRetransMs: number;
  readonly tcpTimeoutUnackMs: number;
  readonly udpTimeoutMs: number;
  readonly udpTimeoutStreamMs: number;
  readonly icmpTimeoutMs: number;
  readonly icmpv6TimeoutMs: number;
  readonly greTimeoutMs: number;
  readonly greTimeoutStreamMs: number;
  readonly genericTimeoutMs: number;
}

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



export class ConntrackTable {
  /** Entries by slot; slot 0 is reserved for the untracked template. */
  readonly slots: Array<Conn | null> = [null];
  private readonly free: number[] = [];
  /** Confirmed entries by tuple (both directions), as entry numbers slot * 2 + dir. */
  private readonly hash = new TupleHash();
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
    this.random = opts.random ?? mulberry32Float(0x6e6678);
  }

  private readonly sysctlCache = new Map<string, number>();
  private knobsCache: CtKnobs | null = null;

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

  /**
   * The sysctls the trackers read for every packet, resolved once per
   * generation of the sysctl cache (a field load instead of a string-keyed
   * Map lookup per read); `reloadSysctls()` starts a new generation.
   */
  knobs(): CtKnobs {
    return this.knobsCache ?? (this.knobsCache = this.loadKnobs());
  }

  private loadKnobs(): CtKnobs {
    const ms = (k: string): number => this.sysctl(`net.netfilter.nf_conntrack_${k}`) * 1000;
    const tcp = new Float64Array(TCP_TIMEOUT_NAMES.length);
    for (let i = 0; i < tcp.length; i++) tcp[i] = TCP_TIMEOUT_NAMES[i] === '' ? 0 : ms(`tcp_timeout_${TCP_TIMEOUT_NAMES[i]}`);
    return {
      max: this.sysctl('net.netfilter.nf_conntrack_max'),
      checksum: this.sysctl('net.netfilter.nf_conntrack_checksum') !== 0,
      tcpLoose: this.sysctl('net.netfilter.nf_conntrack_tcp_loose') !== 0,
      tcpBeLiberal: this.sysctl('net.netfilter.nf_conntrack_tcp_be_liberal') !== 0,
      tcpIgnoreInvalidRst: this.sysctl('net.netfilter.nf_conntrack_tcp_ignore_invalid_rst') !== 0,
      tcpMaxRetrans: this.sysctl('net.netfilter.nf_conntrack_tcp_max_retrans'),
      tcpTimeoutMs: tcp,
      tcpTimeoutMaxRetransMs: ms('tcp_timeout_max_retrans'),
      tcpTimeoutUnackMs: ms('tcp_timeout_unacknowledged'),
      udpTimeoutMs: ms('udp_timeout'),
      udpTimeoutStreamMs: ms('udp_timeout_stream'),
      icmpTimeoutMs: ms('icmp_timeout'),
      icmpv6TimeoutMs: ms('icmpv6_timeout'),
      greTimeoutMs: ms('gre_timeout'),
      greTimeoutStreamMs: ms('gre_timeout_stream'),
      genericTimeoutMs: ms('generic_timeout'),
    };
  }

  /** Forgets cached sysctl values (after `sysctl -w net.netfilter.nf_conntrack_*`). */
  reloadSysctls(): void {
    this.sysctlCache.clear();
    this.knobsCache = null;
  }

  now(): number {
    return this.clock.nowMs();
  }

  /** The confirmed entry holding tuple `t` in either direction, and that direction in `dirOut[0]`. */
  private find(zone: number, family: number, proto: number, t: Tuple, dirOut: number[] | null): Conn | undefined {
    const e = this.hash.find(zone, family, proto, t);
    if (e < 0) return undefined;
    if (dirOut !== null) dirOut[0] = e & 1;
    return this.slots[e >> 1]!;
  }

  /** Hashes both tuples of `c` under its slot, the original direction's first. */
  private hashAdd(c: Conn): void {
    this.hash.add(c.slot * 2, c.zone, c.family, c.proto, c.tuple[0]);
    this.hash.add(c.slot * 2 + 1, c.zone, c.family, c.proto, c.tuple[1]);
  }

  private hashDel(c: Conn): void {
    // A stale reference to an entry already removed (its slot since reused) must not unhash the new occupant.
    if (this.slots[c.slot] !== c) return;
    this.hash.del(c.slot * 2);
    this.hash.del(c.slot * 2 + 1);
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

  /**
   * lookup() for the tuple of the datagram `info` describes, without making
   * the Tuple (most packets find their entry and never need it). Returns
   * null when the layer-4 header is too short for a tuple (getTuple() fails).
   */
  lookupPacket(zone: number, family: number, buf: Uint8Array, info: L4Info, dirOut: number[]): Conn | undefined | null {
    const e = this.hash.findPacket(zone, family, buf, info);
    if (e === -2) return null;
    if (e < 0) return undefined;
    const c = this.slots[e >> 1]!;
    if (c.timeoutAt <= this.now()) {
      this.remove(c);
      this.stats.expired++;
      return undefined;
    }
    dirOut[0] = e & 1;
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
    this.hashAdd(c);
    c.status |= IPS_CONFIRMED;
    this.count++;
  }

  /** Removes an entry (expiry, table flush, unconfirmed release). */
  remove(c: Conn): void {
    if (c.status & IPS_CONFIRMED) {
      this.hashDel(c);
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
      this.hashDel(c);
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

/** The packet's ctSlot value for an entry and ctinfo. */
export function ctSlotValue(c: Conn, ctinfo: number): number {
  return (c.slot << 3) | ctinfo;
}

export const UNTRACKED_SLOT = IP_CT_UNTRACKED;
