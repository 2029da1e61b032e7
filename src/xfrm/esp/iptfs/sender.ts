/**
 * IP-TFS output (tunnel ingress), as net/xfrm/xfrm_iptfs.c does it:
 * iptfs_output_collect() queues inner packets (queue limit, ECN CE above
 * 95%, dont-frag check) and arms the output timer with init-delay; when it
 * fires, iptfs_output_queued() turns the queue into AGGFRAG payloads:
 *  - the first packet of a payload is fragmented across as many payloads as
 *    it needs (unless dont-frag), each continuation's block offset being the
 *    bytes of that packet still to come;
 *  - whole packets that fit in the room left are appended; the first packet
 *    that does not fit starts the next payload (Linux never splits a packet
 *    to fill the tail of a payload, and never pads: the payload is simply
 *    shorter, ESP's padding does the rest).
 */
import { Packet } from '../../../packet/packet.js';
import { checksumReplace16 } from '../../../packet/checksum.js';
import type { EspSa } from '../sa.js';
import type { XfrmStatName } from '../reasons.js';
import { IPTFS_BASIC_HDR_LEN, writeBasicHeader } from './header.js';
import { ecnQueueSize, IptfsConfigError } from './options.js';
import type { IptfsOptions } from './options.js';
import type { IptfsScheduler, IptfsTimer } from './timer.js';

/** What the SA adds around an AGGFRAG payload (x->props of an IP-TFS state). */
export interface IptfsOverhead {
  /** x->props.header_len: outer IP (+ UDP) + ESP header + IV + the 4-byte basic header. */
  headerLen: number;
  /** crypto_aead_authsize(). */
  icvLen: number;
  /** crypto_aead_blocksize(), before ALIGN(..., 4). */
  blockSize: number;
}

/** __iptfs_init_state(): tunnel-mode ESP header_len plus sizeof(struct ip_iptfs_hdr). */
export function iptfsOverhead(sa: EspSa): IptfsOverhead {
  // EspSa.headerLen already counts the outer header for tunnel mode; an IP-TFS SA is built as one.
  const outer = sa.mode === 'tunnel' ? 0 : sa.family === 4 ? 20 : 40;
  return { headerLen: sa.headerLen + outer + IPTFS_BASIC_HDR_LEN, icvLen: sa.crypto.icvLen, blockSize: sa.crypto.blockSize };
}

/**
 * The inner bytes one outer packet carries after its basic header: the
 * kernel's `mtu` in iptfs_output_queued() (iptfs_get_cur_pmtu()): the path
 * MTU minus all overhead (__iptfs_get_inner_mtu()), capped by
 * payload_mtu = pkt-size - header_len. Note Linux does not subtract the ESP
 * trailer from pkt-size, so outer packets come out a little larger than
 * pkt-size (by pad + 2 + ICV); nfx does the same.
 */
export function iptfsPayloadMtu(ov: IptfsOverhead, opts: IptfsOptions, pathMtu = 1500): number {
  if (opts.pktSize !== 0 && opts.pktSize <= ov.headerLen) {
    throw new IptfsConfigError('Packet size must be 0 or greater than IPTFS/ESP header length');
  }
  const blksize = (ov.blockSize + 3) & ~3;
  let mtu = ((pathMtu - ov.headerLen - ov.icvLen) & ~(blksize - 1)) - 2;
  if (opts.pktSize !== 0 && opts.pktSize - ov.headerLen < mtu) mtu = opts.pktSize - ov.headerLen;
  if (mtu < 1) throw new IptfsConfigError(`path MTU ${pathMtu} leaves no room for IP-TFS data`);
  return mtu;
}

/** A refused inner packet, with the counter and skb drop reason Linux uses. */
export interface IptfsOutputDrop {
  readonly ok: false;
  readonly counter: XfrmStatName;
  readonly skbReason: 'SKB_DROP_REASON_FULL_RING' | 'SKB_DROP_REASON_PKT_TOO_BIG' | 'SKB_DROP_REASON_NOT_SPECIFIED';
  readonly detail: string;
  /** dont-frag: the MTU an ICMP "fragmentation needed"/"packet too big" would carry. */
  readonly mtu?: number;
}
export type IptfsEnqueueResult = { readonly ok: true; readonly ceMarked: boolean } | IptfsOutputDrop;

const QUEUED: IptfsEnqueueResult = Object.freeze({ ok: true as const, ceMarked: false });
const QUEUED_CE: IptfsEnqueueResult = Object.freeze({ ok: true as const, ceMarked: true });
const NO_SPACE: IptfsOutputDrop = Object.freeze({ ok: false as const, counter: 'XfrmOutNoQueueSpace' as const, skbReason: 'SKB_DROP_REASON_FULL_RING' as const, detail: 'IP-TFS output queue is full (max-queue-size)' });

/** What one payload carries, for reports (`why`) and for matching payloads to the packets queued. */
export interface IptfsPayloadInfo {
  /** Queue ordinal (0 = the first packet ever enqueued) of the first inner packet with bytes here. */
  first: number;
  /** Inner packets with bytes in this payload (the first one's piece included). */
  packets: number;
  /** The first block is a fragment (a piece of a packet larger than the payload). */
  fragment: boolean;
  /** The basic header's block offset. */
  blockOffset: number;
}

export interface IptfsSenderConfig {
  options: IptfsOptions;
  scheduler: IptfsScheduler;
  /** Inner bytes per outer packet (iptfsPayloadMtu()). */
  mtu: number;
  /** Receives each AGGFRAG payload, at `head` of a Packet with headroom for the outer headers. */
  output: (payload: Packet, info: IptfsPayloadInfo) => void;
  /** Counters are also added here (e.g. the namespace's XfrmStats). */
  stats?: { inc(name: XfrmStatName): void };
}

/** Headroom for outer IPv6 + UDP + ESP + a 16-byte IV; tailroom for the ESP trailer. */
const HEADROOM = 40 + 8 + 8 + 16 + 8;
const TAILROOM = 16 + 2 + 32;

export class IptfsSender {
  readonly options: IptfsOptions;
  mtu: number;
  /** The inner packets waiting, oldest first, from index `qHead`. The sender owns them once queued. */
  private readonly queue: Uint8Array[] = [];
  private qHead = 0;
  /** xtfs->queue_size: octets queued. */
  queueSize = 0;
  readonly ecnQueueSize: number;
  private readonly timer: IptfsTimer;
  private readonly output: (payload: Packet, info: IptfsPayloadInfo) => void;
  /** Packets taken off the queue so far: the queue ordinal of the packet at qHead. */
  private dequeued = 0;
  /** Packets accepted by enqueue() so far: the ordinal the next one gets. */
  enqueued = 0;
  private readonly stats: { inc(name: XfrmStatName): void } | null;
  /** Counters this sender incremented (a subset of /proc/net/xfrm_stat). */
  readonly counters = { XfrmOutError: 0, XfrmOutNoQueueSpace: 0 };
  /** nfx counters: payloads made, inner packets sent whole or fragmented, CE marks. */
  readonly totals = { payloads: 0, innerPackets: 0, fragmented: 0, ceMarked: 0, innerBytes: 0 };

  constructor(cfg: IptfsSenderConfig) {
    this.options = cfg.options;
    this.mtu = cfg.mtu;
    this.ecnQueueSize = ecnQueueSize(cfg.options);
    this.output = cfg.output;
    this.stats = cfg.stats ?? null;
    this.timer = cfg.scheduler.timer(() => this.flush());
  }

  /** Nothing queued. */
  get idle(): boolean {
    return this.qHead === this.queue.length;
  }

  get queuedPackets(): number {
    return this.queue.length - this.qHead;
  }

  private count(name: 'XfrmOutError' | 'XfrmOutNoQueueSpace'): void {
    this.counters[name]++;
    this.stats?.inc(name);
  }

  /**
   * iptfs_output_collect() for one inner IPv4/IPv6 packet. The bytes are
   * queued without a copy and may be CE-marked in place.
   */
  enqueue(pkt: Uint8Array): IptfsEnqueueResult {
    const len = pkt.length;
    // iptfs_is_too_big(): only dont-frag SAs refuse big packets (ICMP with our MTU).
    if (this.options.dontFrag && len > this.mtu) {
      this.count('XfrmOutError');
      return { ok: false, counter: 'XfrmOutError', skbReason: 'SKB_DROP_REASON_PKT_TOO_BIG', detail: `${len}-byte packet exceeds the IP-TFS MTU ${this.mtu} with dont-frag`, mtu: this.mtu };
    }
    // iptfs_enqueue(): refuse above max-queue-size; mark CE above 95% of it.
    const newsz = this.queueSize + len;
    if (newsz > this.options.maxQueueSize) {
      this.count('XfrmOutNoQueueSpace');
      return NO_SPACE;
    }
    let ce = false;
    if (newsz > this.ecnQueueSize) ce = setCe(pkt);
    if (ce) this.totals.ceMarked++;
    this.queue.push(pkt);
    this.queueSize = newsz;
    this.enqueued++;
    if (!this.timer.queued) this.timer.start(this.options.initDelayUs / 1000);
    return ce ? QUEUED_CE : QUEUED;
  }

  /** iptfs_delay_timer(): take the whole queue and send it (also callable directly). */
  flush(): void {
    this.timer.cancel();
    const mtu = this.mtu;
    while (this.qHead < this.queue.length) {
      const first = this.queue[this.qHead]!;
      this.queue[this.qHead++] = EMPTY;
      this.queueSize -= first.length;
      const ord = this.dequeued++;
      if (first.length > mtu && this.options.dontFrag) {
        // The MTU shrank after the packet was queued (iptfs_output_queued()).
        this.count('XfrmOutError');
        continue;
      }
      this.totals.innerPackets++;
      this.totals.innerBytes += first.length;
      // iptfs_first_skb()/iptfs_copy_create_frags(): all but the last fragment go out now.
      let off = 0;
      let blkoff = 0;
      if (first.length > mtu) {
        this.totals.fragmented++;
        while (first.length - off > mtu) {
          this.emit(first, ord, off, mtu, blkoff, 0);
          off += mtu;
          blkoff = first.length - off;
        }
      }
      // The last (or only) piece starts a payload other packets may join.
      const tailLen = first.length - off;
      let remaining = mtu - tailLen;
      let end = this.qHead;
      let bytes = 0;
      while (end < this.queue.length && this.queue[end]!.length <= remaining) {
        remaining -= this.queue[end]!.length;
        bytes += this.queue[end]!.length;
        end++;
      }
      this.emit(first, ord, off, tailLen, blkoff, end - this.qHead, bytes);
    }
    this.queue.length = 0;
    this.qHead = 0;
  }

  /** Builds one payload: header, `len` bytes of `pkt` from `off`, then `more` whole queued packets. */
  private emit(pkt: Uint8Array, ord: number, off: number, len: number, blkoff: number, more: number, moreBytes = 0): void {
    const plen = IPTFS_BASIC_HDR_LEN + len + moreBytes;
    const buf = new Uint8Array(HEADROOM + plen + TAILROOM);
    let o = HEADROOM;
    writeBasicHeader(buf, o, blkoff);
    o += IPTFS_BASIC_HDR_LEN;
    buf.set(pkt.subarray(off, off + len), o);
    o += len;
    for (let i = 0; i < more; i++) {
      const p = this.queue[this.qHead]!;
      this.queue[this.qHead++] = EMPTY;
      this.queueSize -= p.length;
      this.dequeued++;
      this.totals.innerPackets++;
      this.totals.innerBytes += p.length;
      buf.set(p, o);
      o += p.length;
    }
    this.totals.payloads++;
    this.output(new Packet(buf, HEADROOM, HEADROOM + plen), { first: ord, packets: 1 + more, fragment: len < pkt.length, blockOffset: blkoff });
  }

  /** Drops everything queued (iptfs_destroy_state()). */
  destroy(): void {
    this.timer.cancel();
    this.dequeued += this.queue.length - this.qHead;
    this.queue.length = 0;
    this.qHead = 0;
    this.queueSize = 0;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * IP_ECN_set_ce() / IP6_ECN_set_ce(): ECT(0) or ECT(1) becomes CE; Not-ECT
 * and CE are left alone. IPv4's header checksum is updated incrementally.
 * Returns whether the packet was changed.
 */
export function setCe(p: Uint8Array): boolean {
  if (p.length < 2) return false;
  const ver = p[0]! >>> 4;
  if (ver === 4) {
    if (p.length < 12) return false;
    const tos = p[1]!;
    const ecn = tos & 3;
    if (ecn === 0 || ecn === 3) return false;
    const oldWord = (p[0]! << 8) | tos;
    p[1] = tos | 3;
    const check = checksumReplace16((p[10]! << 8) | p[11]!, oldWord, (p[0]! << 8) | p[1]!);
    p[10] = check >>> 8;
    p[11] = check & 0xff;
    return true;
  }
  if (ver === 6) {
    // Traffic class straddles bytes 0 and 1: ECN is bits 4-5 of byte 1.
    const ecn = (p[1]! >>> 4) & 3;
    if (ecn === 0 || ecn === 3) return false;
    p[1] = p[1]! | 0x30;
    return true;
  }
  return false;
}
