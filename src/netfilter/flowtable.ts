/**
 * The flowtable's table of offloaded flows (net/netfilter/nf_flow_table_core.c).
 *
 * `flow add @ft` in a forward chain hands an established connection to the
 * flowtable: from then on its packets are looked up at the ingress hook of
 * the flowtable's devices and sent straight out (the host's fast path,
 * src/host/path/flowtable.ts), past PREROUTING, FORWARD, POSTROUTING and
 * conntrack. This module keeps the flows themselves: one entry per
 * connection with a tuple per direction, hashed by both tuples as the
 * kernel's rhashtable holds both `tuplehash`es; the timeout refreshed by
 * traffic; teardown, which hands the connection back to conntrack with its
 * state fixed up; and the garbage collector the kernel runs once a second.
 *
 * The way out of a flow (route, device, link-layer header) belongs to the
 * host: a tuple carries it as an opaque `X`.
 */
import type { Conn } from './conntrack/types.js';
import { IPS_DYING, IPS_OFFLOAD } from './conntrack/types.js';
import type { ConntrackTable } from './conntrack/table.js';
import { tcpTimeout } from './conntrack/proto-tcp.js';

/** enum flow_offload_tuple_dir */
export const FLOW_OFFLOAD_DIR_ORIGINAL = 0, FLOW_OFFLOAD_DIR_REPLY = 1;
/** enum nf_flow_flags (the ones nfx has: no hardware offload). */
export const NF_FLOW_SNAT = 1 << 0, NF_FLOW_DNAT = 1 << 1, NF_FLOW_TEARDOWN = 1 << 2;
/** NFT_FLOWTABLE_COUNTER: the flowtable counts its packets in the connection's accounting. */
export const NF_FLOWTABLE_COUNTER = 0x2;
/** The flowtable gc work runs once a second (nf_flow_offload_work_gc: HZ). */
export const FLOW_GC_INTERVAL_MS = 1000;
/** nf_ct_offload_timeout(): an offloaded connection is kept alive for a day at a time. */
const NF_CT_DAY_MS = 86_400_000;

/** struct flow_offload_tuple: what a packet is matched by, and where it goes. */
export interface FlowTuple<X> {
  /** Addresses: 4 bytes (IPv4) or 16 (IPv6), as conntrack's tuple for this direction has them. */
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  /** NFPROTO_IPV4 2 / NFPROTO_IPV6 10. */
  l3proto: number;
  l4proto: number;
  /** The device packets of this direction arrive on. */
  iifidx: number;
  dir: number;
  /** The path MTU towards this direction's destination (ip_dst_mtu_maybe_forward). */
  mtu: number;
  /** How the host sends this direction's packets (route, device, link-layer addresses). */
  xmit: X;
  /** Back to the flow (container_of in the kernel). */
  flow: FlowOffload<X>;
  /** The lookup hash, made once. */
  hash: number;
  /** The first four bytes of `src` and `dst` as integers (all of an IPv4 address), compared first. */
  s0: number;
  d0: number;
}

/** struct flow_offload */
export interface FlowOffload<X> {
  ct: Conn;
  tuple: [FlowTuple<X>, FlowTuple<X>];
  /** NF_FLOW_* */
  flags: number;
  /** Expiry on the table's clock, ms. */
  timeoutAt: number;
}

/** Four bytes at `o` as a 32-bit integer (an IPv4 address, or a word of an IPv6 one). */
function word(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) | 0;
}

/**
 * The hash of a tuple's key (jhash over the key in the kernel; any spread will do here): the
 * addresses' first words `s0`/`d0` are passed in (lookups compare them too), the rest read from `b`.
 */
function tupleHash(l3: number, l4: number, iif: number, sport: number, dport: number, s0: number, d0: number, b: Uint8Array, so: number, dof: number, alen: number): number {
  let h = Math.imul(0x811c9dc5 ^ ((l3 << 24) | (l4 << 16) | iif), 0x01000193);
  h = Math.imul(h ^ ((sport << 16) | dport), 0x01000193);
  h = Math.imul(h ^ s0, 0x01000193);
  h = Math.imul(h ^ d0, 0x01000193);
  for (let i = 4; i < alen; i += 4) {
    h = Math.imul(h ^ word(b, so + i), 0x01000193);
    h = Math.imul(h ^ word(b, dof + i), 0x01000193);
  }
  // 30 bits: a small integer (Smi) in V8, which Map hashes without boxing a heap number.
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** One flowtable's flows (struct nf_flowtable), over the host's conntrack table. */
export class FlowTable<X> {
  /** Both tuples of every flow, by hash. */
  private readonly buckets = new Map<number, Array<FlowTuple<X>>>();
  /** Every flow, in the order offloaded (the gc and listings walk it). */
  readonly flows = new Set<FlowOffload<X>>();
  /** Packets the fast path forwarded (an nfx statistic: the kernel counts them only in conntrack's accounting). */
  packets = 0;
  /** When the gc work runs next, ms. */
  private nextGcAt: number;
  /** The offload timeouts (TCP, UDP, ms), read again at every gc run: traffic refreshes flows between runs. */
  private tcpTimeoutMs = 0;
  private udpTimeoutMs = 0;

  constructor(
    readonly family: number,
    readonly table: string,
    readonly name: string,
    readonly ct: ConntrackTable,
    /** NFT_FLOWTABLE_* of the flowtable. */
    public flags: number,
  ) {
    this.nextGcAt = ct.now() + FLOW_GC_INTERVAL_MS;
    this.readTimeouts();
  }

  private readTimeouts(): void {
    this.tcpTimeoutMs = this.ct.sysctl('net.netfilter.nf_flowtable_tcp_timeout') * 1000;
    this.udpTimeoutMs = this.ct.sysctl('net.netfilter.nf_flowtable_udp_timeout') * 1000;
  }

  /**
   * flow_offload_alloc() + flow_offload_add(): a flow for `ct` with each
   * direction's way out (`xmit[dir]`, `mtu[dir]`, `iif[dir]`). The caller has
   * checked the connection qualifies (nft_flow_offload_eval).
   */
  add(ct: Conn, iif: [number, number], mtu: [number, number], xmit: [X, X], flags: number): FlowOffload<X> | undefined {
    const flow = { ct, flags, timeoutAt: this.ct.now() + this.timeoutOf(ct) } as FlowOffload<X>;
    const alen = ct.family === 2 ? 4 : 16;
    const mk = (dir: number): FlowTuple<X> => {
      const t = ct.tuple[dir]!;
      const src = t.src.slice(0, alen), dst = t.dst.slice(0, alen);
      return {
        src, dst, srcPort: t.srcPort, dstPort: t.dstPort, l3proto: ct.family, l4proto: ct.proto,
        iifidx: iif[dir]!, dir, mtu: mtu[dir]!, xmit: xmit[dir]!, flow,
        hash: keyHash(ct.family, ct.proto, iif[dir]!, t.srcPort, t.dstPort, src, dst, alen), s0: word(src, 0), d0: word(dst, 0),
      };
    };
    flow.tuple = [mk(FLOW_OFFLOAD_DIR_ORIGINAL), mk(FLOW_OFFLOAD_DIR_REPLY)];
    // rhashtable_insert_fast() refuses a key already there (-EEXIST): a flow torn down but not
    // yet collected keeps its connection from being offloaded again until the gc removed it.
    if (this.holds(flow.tuple[0]) || this.holds(flow.tuple[1])) return undefined;
    for (const t of flow.tuple) {
      const b = this.buckets.get(t.hash);
      if (b === undefined) this.buckets.set(t.hash, [t]);
      else b.push(t);
    }
    this.flows.add(flow);
    ct.status |= IPS_OFFLOAD;
    offloadTimeout(this.ct, ct);
    return flow;
  }

  /** Whether a tuple with `t`'s key is in the table (live or torn down). */
  private holds(t: FlowTuple<X>): boolean {
    const b = this.buckets.get(t.hash);
    if (b === undefined) return false;
    const alen = t.l3proto === 2 ? 4 : 16;
    return b.some((x) => x.srcPort === t.srcPort && x.dstPort === t.dstPort && x.iifidx === t.iifidx && x.l4proto === t.l4proto &&
      x.l3proto === t.l3proto && sameAt(x.src, t.src, 0, alen) && sameAt(x.dst, t.dst, 0, alen));
  }

  /**
   * flow_offload_lookup(): the live tuple a packet's key matches — addresses
   * read in place (`b` at `so`/`dof`), ports in host order. A flow being torn
   * down, or whose connection is dying, matches nothing.
   */
  lookup(l3: number, l4: number, iif: number, sport: number, dport: number, b: Uint8Array, so: number, dof: number): FlowTuple<X> | undefined {
    const alen = l3 === 2 ? 4 : 16;
    const s0 = word(b, so), d0 = word(b, dof);
    const bucket = this.buckets.get(tupleHash(l3, l4, iif, sport, dport, s0, d0, b, so, dof, alen));
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const t = bucket[i]!;
      if (t.s0 !== s0 || t.d0 !== d0 || t.srcPort !== sport || t.dstPort !== dport || t.iifidx !== iif || t.l4proto !== l4 || t.l3proto !== l3) continue;
      if (alen > 4 && (!sameAt(t.src, b, so, alen) || !sameAt(t.dst, b, dof, alen))) continue;
      const flow = t.flow;
      if ((flow.flags & NF_FLOW_TEARDOWN) !== 0 || this.dying(flow.ct)) return undefined;
      return t;
    }
    return undefined;
  }

  /** flow_offload_refresh(): traffic keeps the flow; the timeout moves only when it gains over a second (HZ). */
  refresh(flow: FlowOffload<X>): void {
    this.packets++;
    const t = this.ct.now() + this.timeoutOf(flow.ct);
    if (t - flow.timeoutAt > 1000) flow.timeoutAt = t;
  }

  /**
   * flow_offload_teardown(): the flow stops matching at once and conntrack
   * takes the connection back (flow_offload_fixup_ct); the gc removes the
   * entry at its next run.
   */
  teardown(flow: FlowOffload<X>): void {
    flow.ct.status &= ~IPS_OFFLOAD;
    flow.flags |= NF_FLOW_TEARDOWN;
    fixupCt(this.ct, flow.ct);
  }

  /**
   * Runs the gc work for every second of the clock that has passed
   * (nf_flow_offload_work_gc): expired flows and flows of dying connections
   * are torn down, torn-down flows removed; live ones keep their
   * connection alive as conntrack's own gc does for offloaded entries.
   */
  gc(): void {
    const now = this.ct.now();
    if (now < this.nextGcAt) return;
    // One pass does what any number of missed runs would: expiry is a comparison with now.
    this.nextGcAt = now - ((now - this.nextGcAt) % FLOW_GC_INTERVAL_MS) + FLOW_GC_INTERVAL_MS;
    this.gcRun(now);
  }

  /** nf_flow_table_gc_run(): one pass over every flow. */
  gcRun(now = this.ct.now()): void {
    this.readTimeouts();
    for (const flow of this.flows) {
      if (flow.timeoutAt <= now || this.dying(flow.ct)) { if ((flow.flags & NF_FLOW_TEARDOWN) === 0) this.teardown(flow); }
      if ((flow.flags & NF_FLOW_TEARDOWN) !== 0) this.del(flow);
      // gc_worker() in nf_conntrack_core.c: an offloaded entry's timeout is pushed on (nf_ct_offload_timeout).
      else offloadTimeout(this.ct, flow.ct);
    }
  }

  /** nf_flow_table_free(): the flowtable is gone; every flow is torn down and removed. */
  cleanup(): void {
    for (const flow of this.flows) {
      if ((flow.flags & NF_FLOW_TEARDOWN) === 0) this.teardown(flow);
      this.del(flow);
    }
  }

  /** flow_offload_del() */
  private del(flow: FlowOffload<X>): void {
    for (const t of flow.tuple) {
      const b = this.buckets.get(t.hash);
      if (b === undefined) continue;
      const i = b.indexOf(t);
      if (i >= 0) b.splice(i, 1);
      if (b.length === 0) this.buckets.delete(t.hash);
    }
    this.flows.delete(flow);
  }

  /** nf_ct_is_dying(): the connection was deleted (expired, `conntrack -D`, flushed). */
  private dying(c: Conn): boolean {
    return (c.status & IPS_DYING) !== 0 || this.ct.slots[c.slot] !== c;
  }

  /** flow_offload_get_timeout(): nf_flowtable_tcp_timeout / nf_flowtable_udp_timeout. */
  private timeoutOf(c: Conn): number {
    return c.proto === 6 ? this.tcpTimeoutMs : c.proto === 17 ? this.udpTimeoutMs : 30_000; // NF_FLOW_TIMEOUT
  }
}

function keyHash(l3: number, l4: number, iif: number, sport: number, dport: number, src: Uint8Array, dst: Uint8Array, alen: number): number {
  // The same hash lookup() computes from a packet: the addresses side by side as in a header.
  const b = new Uint8Array(32);
  b.set(src.subarray(0, alen), 0);
  b.set(dst.subarray(0, alen), 16);
  return tupleHash(l3, l4, iif, sport, dport, word(b, 0), word(b, 16), b, 0, 16, alen);
}

function sameAt(a: Uint8Array, b: Uint8Array, o: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[o + i]) return false;
  return true;
}

/** nf_ct_offload_timeout(): keep an offloaded connection for a day, pushed on when half of it is gone. */
function offloadTimeout(table: ConntrackTable, c: Conn): void {
  const now = table.now();
  if (c.timeoutAt - now < NF_CT_DAY_MS / 2) c.timeoutAt = now + NF_CT_DAY_MS;
}

/**
 * flow_offload_fixup_ct(): conntrack saw none of the flow's packets, so TCP
 * window tracking starts over (td_maxwin 0: the next packets are picked up)
 * and the timeout becomes the state's, less the time the flow already waited
 * without traffic (the offload timeout), if that is shorter.
 */
function fixupCt(table: ConntrackTable, c: Conn): void {
  let timeout: number;
  if (c.proto === 6 && c.tcp !== null) {
    c.tcp.seen[0].maxwin = 0;
    c.tcp.seen[1].maxwin = 0;
    timeout = tcpTimeout(table, c.tcp.state) - table.sysctl('net.netfilter.nf_flowtable_tcp_timeout') * 1000;
  } else if (c.proto === 17) {
    // timeouts[UDP_CT_REPLIED]: an offloaded UDP flow has seen both directions.
    timeout = table.sysctl('net.netfilter.nf_conntrack_udp_timeout_stream') * 1000 - table.sysctl('net.netfilter.nf_flowtable_udp_timeout') * 1000;
  } else {
    return;
  }
  if (timeout < 0) timeout = 0;
  const now = table.now();
  if (c.timeoutAt - now > timeout) c.timeoutAt = now + timeout;
}
