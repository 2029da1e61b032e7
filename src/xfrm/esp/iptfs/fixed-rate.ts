/**
 * Beyond Linux: RFC 9347's fixed-rate sending (§2.4, the non-congestion-
 * controlled mode) and the congestion-control header (§2.2.6) on output.
 *
 * Every `intervalUs` one outer packet leaves carrying exactly `mtu` bytes
 * after its header, whatever the load, so an observer learns nothing from
 * sizes or timing (traffic flow confidentiality, RFC 9347 §1):
 *  - queued packets fill it, the last one split at the end (unlike Linux,
 *    which only fragments the first packet of a payload) — the split may leave
 *    a "runt" of fewer bytes than the IP length field, which the receiver
 *    must (and nfx's does) handle; with dont-frag a packet that does not fit
 *    waits for the next interval;
 *  - the rest is a pad block (zeros: version nibble 0); with nothing queued
 *    the payload is all pad (§2.2.3).
 * With `cc`, every payload carries the 24-byte CC header (subtype 1) filled
 * from the callback (loss event rate, RTT, delays, TVal/TEcho); the rate
 * adaptation itself (RFC 9347 §6.1.2's TFRC) is left to the caller, who may
 * change `intervalUs` at any time. Linux 6.14 receivers drop non-zero flags
 * but accept subtype 1.
 */
import { Packet } from '../../../packet/packet.js';
import type { XfrmStatName } from '../reasons.js';
import { IPTFS_BASIC_HDR_LEN, IPTFS_CC_HDR_LEN, writeBasicHeader, writeCcHeader } from './header.js';
import type { IptfsCcHeader } from './header.js';
import { ecnQueueSize } from './options.js';
import type { IptfsOptions } from './options.js';
import { setCe } from './sender.js';
import type { IptfsEnqueueResult, IptfsPayloadInfo } from './sender.js';
import type { IptfsScheduler, IptfsTimer } from './timer.js';

export interface IptfsFixedRateConfig {
  options: IptfsOptions;
  scheduler: IptfsScheduler;
  /** Data bytes per outer packet after the header (iptfsPayloadMtu()). */
  mtu: number;
  /** Interval between outer packets, µs. */
  intervalUs: number;
  /** Each payload, with what it carries (`packets` 0 and `first` -1 for an all-pad payload). */
  output: (payload: Packet, info: IptfsPayloadInfo) => void;
  /** When given, each payload carries a CC header with these fields (block offset filled in here). */
  cc?: () => Omit<IptfsCcHeader, 'blockOffset' | 'flags'>;
  stats?: { inc(name: XfrmStatName): void };
}

const HEADROOM = 80;
const TAILROOM = 50;

export class IptfsFixedRateSender {
  intervalUs: number;
  private readonly cfg: IptfsFixedRateConfig;
  private readonly queue: Uint8Array[] = [];
  private qHead = 0;
  queueSize = 0;
  private readonly ecnQueueSize: number;
  /** The packet being split across payloads and how much of it went out. */
  private partial: Uint8Array | null = null;
  private partialOff = 0;
  /** Queue ordinals (as IptfsSender's): of the partial packet, and of the next packet taken off the queue. */
  private partialOrd = -1;
  private dequeued = 0;
  enqueued = 0;
  private readonly timer: IptfsTimer;
  private runningFlag = false;
  readonly totals = { payloads: 0, allPad: 0, padBytes: 0, innerBytes: 0, ceMarked: 0, noQueueSpace: 0 };

  constructor(cfg: IptfsFixedRateConfig) {
    this.cfg = cfg;
    this.intervalUs = cfg.intervalUs;
    this.ecnQueueSize = ecnQueueSize(cfg.options);
    this.timer = cfg.scheduler.timer(() => {
      this.tick();
      if (this.runningFlag) this.timer.start(this.intervalUs / 1000);
    });
  }

  /** Same queue rules as Linux's iptfs_enqueue(): max-queue-size, CE above 95%. */
  enqueue(pkt: Uint8Array): IptfsEnqueueResult {
    const newsz = this.queueSize + pkt.length;
    if (newsz > this.cfg.options.maxQueueSize) {
      this.totals.noQueueSpace++;
      this.cfg.stats?.inc('XfrmOutNoQueueSpace');
      return { ok: false, counter: 'XfrmOutNoQueueSpace', skbReason: 'SKB_DROP_REASON_FULL_RING', detail: 'IP-TFS output queue is full (max-queue-size)' };
    }
    const ce = newsz > this.ecnQueueSize && setCe(pkt);
    if (ce) this.totals.ceMarked++;
    this.queue.push(pkt);
    this.queueSize = newsz;
    this.enqueued++;
    return { ok: true, ceMarked: ce };
  }

  get queuedPackets(): number {
    return this.queue.length - this.qHead;
  }

  /** Nothing queued and no packet half sent: the next payloads are all pad. */
  get idle(): boolean {
    return this.partial === null && this.qHead === this.queue.length;
  }

  /** Whether the interval timer runs. */
  get running(): boolean {
    return this.runningFlag;
  }

  /** Starts the clock: the first packet leaves after one interval. */
  start(): void {
    this.runningFlag = true;
    this.timer.start(this.intervalUs / 1000);
  }

  stop(): void {
    this.runningFlag = false;
    this.timer.cancel();
  }

  /** Sends one outer packet now. */
  tick(): void {
    const mtu = this.cfg.mtu;
    const hdrLen = this.cfg.cc ? IPTFS_CC_HDR_LEN : IPTFS_BASIC_HDR_LEN;
    const buf = new Uint8Array(HEADROOM + hdrLen + mtu + TAILROOM);
    const d0 = HEADROOM + hdrLen;
    let o = 0;
    let blkoff = 0;
    let first = -1;
    let packets = 0;
    if (this.partial) {
      first = this.partialOrd;
      packets = 1;
      const p = this.partial;
      blkoff = p.length - this.partialOff;
      const n = Math.min(blkoff, mtu);
      buf.set(p.subarray(this.partialOff, this.partialOff + n), d0);
      o = n;
      this.partialOff += n;
      if (this.partialOff === p.length) this.partial = null;
    }
    const dontFrag = this.cfg.options.dontFrag;
    while (o < mtu && this.qHead < this.queue.length) {
      const p = this.queue[this.qHead]!;
      const room = mtu - o;
      if (dontFrag && p.length > room) {
        if (p.length > mtu) {
          // Can never fit: refuse it (Linux would have at enqueue, with XfrmOutError).
          this.qHead++;
          this.dequeued++;
          this.queueSize -= p.length;
          this.cfg.stats?.inc('XfrmOutError');
          continue;
        }
        break;
      }
      this.qHead++;
      const ord = this.dequeued++;
      if (first < 0) first = ord;
      packets++;
      this.queueSize -= p.length;
      this.totals.innerBytes += p.length;
      const n = Math.min(p.length, room);
      buf.set(p.subarray(0, n), d0 + o);
      o += n;
      if (n < p.length) {
        this.partial = p;
        this.partialOff = n;
        this.partialOrd = ord;
      }
    }
    if (this.qHead === this.queue.length) {
      this.queue.length = 0;
      this.qHead = 0;
    }
    // The rest is one pad block: zero bytes (RFC 9347 §2.2.3). The buffer is zeroed already.
    this.totals.padBytes += mtu - o;
    if (o === 0 && blkoff === 0) this.totals.allPad++;
    if (this.cfg.cc) writeCcHeader(buf, HEADROOM, { ...this.cfg.cc(), flags: 0, blockOffset: blkoff });
    else writeBasicHeader(buf, HEADROOM, blkoff);
    this.totals.payloads++;
    this.cfg.output(new Packet(buf, HEADROOM, HEADROOM + hdrLen + mtu), { first, packets, fragment: blkoff > 0, blockOffset: blkoff });
  }
}
