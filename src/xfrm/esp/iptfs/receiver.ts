/**
 * IP-TFS input (tunnel egress), after net/xfrm/xfrm_iptfs.c:
 *  - iptfs_input_reorder(): decrypted AGGFRAG payloads are put back in ESP
 *    sequence order within `reorder-window` payloads; a missing payload is
 *    given up after `drop-time` (the drop timer), or as soon as a payload
 *    arrives too far ahead for the window to hold it;
 *  - iptfs_input_ordered(): the header is checked (unknown subtype or
 *    non-zero flags: XfrmInHdrError), a fragment continuing the packet under
 *    reassembly is appended (iptfs_reassem_cont()), then every block is
 *    parsed (__input_process_payload()): whole inner packets are delivered,
 *    a packet cut by the end of the payload starts a reassembly, a start too
 *    short to hold its length field is kept as a "runt", a pad block ends the
 *    payload.
 *
 * Where nfx differs from Linux 6.14, on purpose (docs/iptfs.md):
 *  - a payload with block offset 0 while a reassembly waits is checked at its
 *    first data byte (Linux tests the subtype byte, which is always 0): a new
 *    packet there abandons the reassembly (XfrmInIptfsError) and is parsed,
 *    instead of the whole payload being skipped as all-pad;
 *  - one drop deadline per missing sequence number, kept consistent when the
 *    window flushes (the kernel's __reorder_drop() shifts one slot short), and
 *    finishing a reassembly does not cancel the window's drop timer;
 *  - the reassembly deadline counts from the arrival of the payload that
 *    started it, not from when the window released that payload, so no byte
 *    waits more than drop-time in all (Linux can hold a start 2 x drop-time);
 *  - an inner length field shorter than the fixed IP header is an error
 *    (XfrmInIptfsError) rather than a zero-length block.
 */
import type { XfrmStatName } from '../reasons.js';
import { IPTFS_BASIC_HDR_LEN, IPTFS_CC_HDR_LEN, IPTFS_SUBTYPE_BASIC, IPTFS_SUBTYPE_CC, readCcHeader, u16be } from './header.js';
import type { IptfsCcHeader } from './header.js';
import type { IptfsOptions } from './options.js';
import { setCe } from './sender.js';
import type { IptfsScheduler, IptfsTimer } from './timer.js';

export interface IptfsReceiverConfig {
  options: IptfsOptions;
  scheduler: IptfsScheduler;
  /**
   * Receives each inner packet, a fresh copy, in order, with the `tag` given
   * to input() for the payload that completed it (the host path reports the
   * packet with the outer packet that carried its last bytes).
   */
  deliver: (inner: Uint8Array, tag: unknown, reassembled: boolean) => void;
  /** Counters are also added here (e.g. the namespace's XfrmStats). */
  stats?: { inc(name: XfrmStatName): void };
  /** The SA's `flag noecn` / `flag decap-dscp` (iptfs_complete_inner_skb()). */
  noecn?: boolean;
  decapDscp?: boolean;
  /**
   * Beyond Linux (congestion control, cc.ts): called for each payload taken
   * in sequence order, with how many sequence numbers before it were given up.
   */
  onOrdered?: (seq: number, lostBefore: number) => void;
  /** Beyond Linux: called with each congestion-control header (subtype 1) received. */
  onCc?: (cc: IptfsCcHeader) => void;
}

type InCounter = 'XfrmInIptfsError' | 'XfrmInHdrError' | 'XfrmInBufferError';

/** sizeof(xtfs->ra_runt): enough of an inner header to read the IPv6 payload length. */
const RUNT_MAX = 6;

interface Held {
  payload: Uint8Array;
  seq: number;
  tos: number;
  /** Arrival time (ms): drop-time is counted from here. */
  at: number;
  tag: unknown;
}

export class IptfsReceiver {
  readonly options: IptfsOptions;
  private readonly sched: IptfsScheduler;
  private readonly deliverFn: (inner: Uint8Array, tag: unknown, reassembled: boolean) => void;
  private readonly onOrdered: ((seq: number, lostBefore: number) => void) | null;
  private readonly onCc: ((cc: IptfsCcHeader) => void) | null;
  /** The tag of the payload being processed. */
  private curTag: unknown = undefined;
  private readonly stats: { inc(name: XfrmStatName): void } | null;
  private readonly noecn: boolean;
  private readonly decapDscp: boolean;
  private readonly timer: IptfsTimer;
  private readonly dropMs: number;

  /** Reorder window: slots[i] holds sequence number wantSeq + i; slots[0] is always empty between calls. */
  private readonly slots: (Held | null)[];
  /** Deadline (ms) to stop waiting for the sequence number of each slot. */
  private readonly deadlines: Float64Array;
  private savedLen = 0;
  private wantSeq = 0;
  private seqSet = false;

  /** Reassembly: the inner packet being rebuilt (ra_newskb), its fill, the payload it waits for (ra_wantseq). */
  private ra: Uint8Array | null = null;
  private raLen = 0;
  private raDeadline = Infinity;
  private raTos = 0;
  private raWantSeq = 0;
  private readonly runt = new Uint8Array(RUNT_MAX);
  private runtLen = 0;
  private lastOrdered = -1;

  /** The /proc/net/xfrm_stat counters this receiver incremented. */
  readonly counters = { XfrmInIptfsError: 0, XfrmInHdrError: 0, XfrmInBufferError: 0 };
  /** nfx counters, for `why` and the tests. */
  readonly totals = {
    payloads: 0,
    delivered: 0,
    /** Payloads skipped in the ordered stream (lost or given up on). */
    payloadsLost: 0,
    /** Payloads older than the window (or duplicates of held ones): freed uncounted by Linux. */
    tooOld: 0,
    duplicates: 0,
    /** Reassemblies abandoned for a missing or inconsistent fragment. */
    reassemblyAbandoned: 0,
    /** Reassemblies dropped by the drop timer (SKB_DROP_REASON_FRAG_REASM_TIMEOUT). */
    reassemblyTimeouts: 0,
    /** Continuation bytes skipped because their start was never seen. */
    orphanFragments: 0,
    ccHeaders: 0,
  };
  /** The last congestion-control header seen (subtype 1), parsed. */
  lastCc: IptfsCcHeader | null = null;

  constructor(cfg: IptfsReceiverConfig) {
    this.options = cfg.options;
    this.sched = cfg.scheduler;
    this.deliverFn = cfg.deliver;
    this.onOrdered = cfg.onOrdered ?? null;
    this.onCc = cfg.onCc ?? null;
    this.stats = cfg.stats ?? null;
    this.noecn = cfg.noecn ?? false;
    this.decapDscp = cfg.decapDscp ?? false;
    this.dropMs = cfg.options.dropTimeUs / 1000;
    const n = cfg.options.reorderWindow + 1;
    this.slots = new Array<Held | null>(n).fill(null);
    this.deadlines = new Float64Array(n).fill(Infinity);
    this.timer = cfg.scheduler.timer(() => this.onDropTimer());
  }

  /** Payloads held in the window plus the reassembly in progress: what is waiting. */
  get waiting(): { payloads: number; reassembling: boolean } {
    let n = 0;
    for (let i = 0; i < this.savedLen; i++) if (this.slots[i]) n++;
    return { payloads: n, reassembling: this.ra !== null || this.runtLen > 0 };
  }

  private count(name: InCounter): void {
    this.counters[name]++;
    this.stats?.inc(name);
  }

  /**
   * iptfs_input(): one decrypted AGGFRAG payload (from its basic header to
   * the end of the ESP payload), its 64-bit ESP sequence number and the
   * outer DS field. The receiver keeps `payload` if it must wait for order.
   */
  input(payload: Uint8Array, seq: number, outerTos = 0, tag?: unknown): void {
    this.totals.payloads++;
    const h: Held = { payload, seq, tos: outerTos, at: this.sched.nowMs(), tag };
    if (this.slots.length === 1) {
      this.ordered(h);
    } else {
      if (!this.seqSet) {
        this.seqSet = true;
        this.wantSeq = seq;
      }
      const d = seq - this.wantSeq;
      if (d < 0) {
        this.totals.tooOld++;
      } else if (d === 0) {
        this.wantSeq++;
        this.shift();
        this.ordered(h);
        this.flushConsecutive();
      } else {
        // __reorder_future_shifts(): too far ahead; give up on the oldest until it fits.
        while (seq - this.wantSeq > this.slots.length - 1) this.giveUp();
        this.store(h, seq - this.wantSeq);
      }
    }
    this.arm();
  }

  /** __reorder_future_fits(): hold a future payload, setting drop times for the gap below it. */
  private store(h: Held, d: number): void {
    if (d === 0) {
      // Giving up on older numbers made this the one we want.
      this.wantSeq++;
      this.shift();
      this.ordered(h);
      this.flushConsecutive();
      return;
    }
    if (this.slots[d]) {
      this.totals.duplicates++;
      return;
    }
    this.slots[d] = h;
    if (this.savedLen > d + 1) return; // below another held payload: drop times already set
    this.savedLen = d + 1;
    // iptfs_set_window_drop_times(): the newest payload sets the deadline of every empty slot below it.
    const t = this.sched.nowMs() + this.dropMs;
    this.deadlines[d] = t;
    for (let j = d - 1; j >= 0 && !this.slots[j]; j--) this.deadlines[j] = t;
  }

  /** Moves the window one sequence number on (slot 1 becomes slot 0). */
  private shift(): void {
    const s = this.slots;
    const dl = this.deadlines;
    for (let i = 1; i < s.length; i++) {
      s[i - 1] = s[i]!;
      dl[i - 1] = dl[i]!;
    }
    s[s.length - 1] = null;
    dl[s.length - 1] = Infinity;
    if (this.savedLen > 0) this.savedLen--;
  }

  /** __reorder_this(): after the wanted payload, pass on the held ones that follow without a gap. */
  private flushConsecutive(): void {
    while (this.savedLen > 0 && this.slots[0]) {
      const h = this.slots[0]!;
      this.wantSeq++;
      this.shift();
      this.ordered(h);
    }
  }

  /** The wanted payload is lost: move past it. */
  private giveUp(): void {
    this.wantSeq++;
    this.shift();
    this.flushConsecutive();
  }

  /** iptfs_drop_timer(): time out the reassembly and the window's missing payloads. */
  private onDropTimer(): void {
    const now = this.sched.nowMs();
    if (this.ra && this.raDeadline <= now) {
      this.ra = null;
      this.raDeadline = Infinity;
      this.totals.reassemblyTimeouts++;
    }
    for (let guard = this.slots.length + 1; this.savedLen > 0 && this.deadlines[0]! <= now && guard > 0; guard--) this.giveUp();
    this.arm();
  }

  private arm(): void {
    let t = this.ra ? this.raDeadline : Infinity;
    if (this.savedLen > 0 && this.deadlines[0]! < t) t = this.deadlines[0]!;
    if (t === Infinity) this.timer.cancel();
    else this.timer.start(Math.max(0, t - this.sched.nowMs()));
  }

  /** iptfs_input_ordered(): one payload, in sequence order. */
  private ordered(h: Held): void {
    const b = h.payload;
    this.curTag = h.tag;
    const seq = h.seq;
    const lost = this.lastOrdered >= 0 && seq > this.lastOrdered + 1 ? seq - this.lastOrdered - 1 : 0;
    this.totals.payloadsLost += lost;
    if (seq > this.lastOrdered) this.lastOrdered = seq;
    this.onOrdered?.(seq, lost);
    if (b.length < IPTFS_BASIC_HDR_LEN) {
      this.count('XfrmInBufferError');
      return;
    }
    let data = IPTFS_BASIC_HDR_LEN;
    const subtype = b[0]!;
    if (subtype === IPTFS_SUBTYPE_CC) {
      if (b.length < IPTFS_CC_HDR_LEN) {
        this.count('XfrmInBufferError');
        return;
      }
      this.lastCc = readCcHeader(b, 0);
      this.totals.ccHeaders++;
      this.onCc?.(this.lastCc);
      data = IPTFS_CC_HDR_LEN;
    } else if (subtype !== IPTFS_SUBTYPE_BASIC) {
      this.count('XfrmInHdrError');
      return;
    }
    if (b[1] !== 0) {
      this.count('XfrmInHdrError');
      return;
    }
    const blkoff = u16be(b, 2);
    if (blkoff || this.runtLen || this.ra) data = this.reassemCont(b, data, seq, blkoff, h.at);
    this.processPayload(b, data, seq, h.tos, h.at);
  }

  private abandon(): void {
    if (this.ra) {
      this.ra = null;
      this.raDeadline = Infinity;
      this.totals.reassemblyAbandoned++;
    } else {
      if (this.runtLen) this.totals.reassemblyAbandoned++;
      this.runtLen = 0;
      this.raWantSeq = 0;
    }
  }

  /** iptfs_reassem_cont(): the block at the front of the payload continues a packet. Returns the new data offset. */
  private reassemCont(b: Uint8Array, data: number, seq: number, blkoff: number, at: number): number {
    const remaining = b.length - data;
    if (!this.runtLen && !this.ra) {
      // A continuation whose start we never saw.
      if (blkoff) this.totals.orphanFragments++;
      return data + Math.min(blkoff, remaining);
    }
    if (seq < this.raWantSeq) return data + remaining;
    if (seq > this.raWantSeq) {
      // The payload holding the next fragment is gone.
      this.count('XfrmInIptfsError');
      this.abandon();
      return data + Math.min(blkoff, remaining);
    }
    if (blkoff === 0) {
      if (remaining === 0 || b[data]! >>> 4 === 0) {
        // RFC 9347 §2.2.3: an all-pad payload; keep waiting for the next one.
        this.raWantSeq++;
        return data + remaining;
      }
      // A new packet where our continuation should be.
      this.count('XfrmInIptfsError');
      this.abandon();
      return data;
    }
    if (this.runtLen) {
      const rrem = RUNT_MAX - this.runtLen;
      if (remaining < rrem || blkoff < rrem) {
        this.runtLen = 0;
        this.count('XfrmInIptfsError');
        this.abandon();
        return data + Math.min(blkoff, remaining);
      }
      this.runt.set(b.subarray(data, data + rrem), this.runtLen);
      const iplen = ipLength(this.runt, 0);
      const runtLen = this.runtLen;
      this.runtLen = 0;
      if (iplen < minHeader(this.runt[0]!)) {
        this.count('XfrmInIptfsError');
        this.abandon();
        return data + Math.min(blkoff, remaining);
      }
      this.ra = new Uint8Array(iplen);
      this.ra.set(this.runt.subarray(0, runtLen));
      this.raLen = runtLen;
      this.raDeadline = at + this.dropMs;
    }
    const ra = this.ra!;
    const ipremain = ra.length - this.raLen;
    if (blkoff < ipremain) {
      this.count('XfrmInIptfsError');
      this.abandon();
      return data + Math.min(blkoff, remaining);
    }
    const fraglen = Math.min(blkoff, remaining);
    const copylen = Math.min(fraglen, ipremain);
    ra.set(b.subarray(data, data + copylen), this.raLen);
    this.raLen += copylen;
    if (copylen < ipremain) {
      this.raWantSeq++;
    } else {
      this.ra = null;
      this.raDeadline = Infinity;
      this.complete(ra, this.raTos, true);
    }
    return data + fraglen;
  }

  /** __input_process_payload(): the blocks from `data` on. */
  private processPayload(b: Uint8Array, data: number, seq: number, tos: number, at: number): void {
    const tail = b.length;
    while (data < tail) {
      const remaining = tail - data;
      const ver = b[data]! >>> 4;
      let iplen: number;
      if (ver === 4 || ver === 6) {
        const need = ver === 4 ? 4 : 6;
        if (remaining < need) {
          // iptfs_input_save_runt(): too short to read the length; finish with the next payload.
          this.runt.set(b.subarray(data, tail));
          this.runtLen = remaining;
          this.raWantSeq = seq + 1;
          return;
        }
        iplen = ipLength(b, data);
        if (iplen < minHeader(b[data]!)) {
          this.count('XfrmInIptfsError');
          return;
        }
      } else if (ver === 0) {
        return; // a pad block runs to the end of the payload
      } else {
        this.count('XfrmInBufferError');
        return;
      }
      if (remaining < iplen) {
        // Start reassembly; the drop timer bounds the wait.
        const ra = new Uint8Array(iplen);
        ra.set(b.subarray(data, tail));
        this.ra = ra;
        this.raLen = remaining;
        this.raTos = tos;
        this.raWantSeq = seq + 1;
        this.raDeadline = at + this.dropMs;
        return;
      }
      this.complete(b.slice(data, data + iplen), tos);
      data += iplen;
    }
  }

  /** iptfs_complete_inner_skb(): DSCP/ECN from the outer header, then hand the packet on. */
  private complete(p: Uint8Array, outerTos: number, reassembled = false): void {
    if (this.decapDscp) copyDscp(p, outerTos);
    if (!this.noecn && (outerTos & 3) === 3) setCe(p);
    this.totals.delivered++;
    this.deliverFn(p, this.curTag, reassembled);
  }

  /** iptfs_destroy_state(): forget everything held. */
  destroy(): void {
    this.timer.cancel();
    this.slots.fill(null);
    this.savedLen = 0;
    this.ra = null;
    this.runtLen = 0;
  }
}

/** __iptfs_iplen(): IPv4 total length, or IPv6 payload length + 40. */
function ipLength(b: Uint8Array, o: number): number {
  return b[o]! >>> 4 === 4 ? u16be(b, o + 2) : u16be(b, o + 4) + 40;
}

function minHeader(firstByte: number): number {
  return firstByte >>> 4 === 4 ? 20 : 40;
}

/** ipv4_copy_dscp()/ipv6_copy_dscp(): the outer DSCP onto the inner header, ECN kept. */
function copyDscp(p: Uint8Array, outerTos: number): void {
  const dscp = outerTos & 0xfc;
  if (p[0]! >>> 4 === 4) {
    const old = (p[0]! << 8) | p[1]!;
    p[1] = dscp | (p[1]! & 3);
    let sum = (~((p[10]! << 8) | p[11]!) & 0xffff) + (~old & 0xffff) + ((p[0]! << 8) | p[1]!);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const check = ~sum & 0xffff;
    p[10] = check >>> 8;
    p[11] = check & 0xff;
  } else {
    const tc = dscp | (((p[1]! >>> 4) & 3));
    p[0] = (p[0]! & 0xf0) | (tc >>> 4);
    p[1] = ((tc & 0x0f) << 4) | (p[1]! & 0x0f);
  }
}
