/**
 * Beyond Linux: RFC 9347's congestion-controlled mode (§2.4.2) with the
 * congestion-control header (§2.2.6). Linux 6.14 sends only demand-driven
 * IP-TFS; nfx adds, as library options (not `ip xfrm` words):
 *
 *  - the receiver measures the loss event rate of the payloads it gets
 *    (RFC 5348 §5: loss events, the average loss interval over the last 8
 *    intervals with TFRC's weights) and echoes the peer's TVal in TEcho,
 *    with the time it held it in Delay;
 *  - the sender measures the RTT from the TEcho it gets back
 *    (now − the time of the echoed TVal − Delay) and sets its rate by the
 *    TCP throughput equation (RFC 5348 §3.1) from that RTT and the loss
 *    event rate the peer reports; without loss it doubles once per RTT up to
 *    the configured maximum (RFC 5348 §4.3's slow start without X_recv,
 *    which the AGGFRAG header does not carry);
 *  - the rate becomes the interval of a fixed-size sender
 *    (IptfsFixedRateSender): every payload is the same size, so observers
 *    learn nothing from sizes, only the rate follows the network (§2.4.2).
 *
 * IP-TFS congestion control needs traffic both ways: each end's CC headers
 * carry its own TVal and RTT and the feedback (loss event rate, TEcho) for
 * the other direction. `IptfsCcEndpoint` is one end.
 *
 * Header encodings (RFC 9347 §2.2.6): LossEventRate is the inverse of the
 * loss event rate (0 = no loss); RTT, Delay and Xmit Delay are milliseconds;
 * TVal is opaque to the peer — nfx sends its clock in microseconds (mod 2^32)
 * so the echo alone gives the RTT, as TCP timestamps do.
 */
import type { Packet } from '../../../packet/packet.js';
import type { XfrmStatName } from '../reasons.js';
import { IptfsFixedRateSender } from './fixed-rate.js';
import type { IptfsCcHeader } from './header.js';
import type { IptfsOptions } from './options.js';
import { IptfsReceiver } from './receiver.js';
import type { IptfsScheduler } from './timer.js';

/** RFC 5348 §3.1: b, packets acknowledged by one TCP ACK. */
const TFRC_B = 1;
/** RFC 5348 §4.3: t_mbi, the longest interval between packets (64 s). */
const T_MBI_S = 64;
/** RFC 5348 §5.4: the weights of the last 8 loss intervals. */
const WEIGHTS = [1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2];
/** RFC 5348 §4.3: the RTT is smoothed with q = 0.9. */
const RTT_Q = 0.9;
/** Widths of the CC header fields (RFC 9347 §2.2.6). */
const MAX_22 = 0x3fffff, MAX_21 = 0x1fffff;

/**
 * The TCP throughput equation (RFC 5348 §3.1): bytes per second for
 * packets of `s` bytes, round-trip time `rttS` seconds and loss event rate
 * `p`, with t_RTO = 4R. Infinity when p is 0.
 */
export function tfrcThroughput(s: number, rttS: number, p: number): number {
  if (p <= 0) return Infinity;
  const tRto = 4 * rttS;
  return s / (rttS * Math.sqrt((2 * TFRC_B * p) / 3) + tRto * (3 * Math.sqrt((3 * TFRC_B * p) / 8)) * p * (1 + 32 * p * p));
}

/**
 * The receiver's loss event rate (RFC 5348 §5). Payloads are counted in
 * sequence order as the IP-TFS receiver takes them (after its reorder
 * window, so reordering within the window is not loss). Losses less than one
 * RTT after the start of a loss event belong to that event (§5.2).
 */
export class IptfsLossEstimator {
  /** Closed loss intervals in packets, newest first (at most 8). */
  private readonly intervals: number[] = [];
  /** Packets since the start of the newest loss event (the open interval I_0); -1 before the first loss. */
  private open = -1;
  private eventAt = -Infinity;
  /** Packets before the first loss: the first interval (RFC 5348 §6.3.1 derives it from the receive rate, which IP-TFS does not report). */
  private before = 0;
  lossEvents = 0;

  /** `lostBefore` payloads before this one were given up on, now (ms); `rttMs` groups them into events. */
  record(lostBefore: number, nowMs: number, rttMs: number): void {
    for (let i = 0; i < lostBefore; i++) {
      if (this.open >= 0 && nowMs < this.eventAt + rttMs) { this.open++; continue; }
      // A new loss event: the interval since the previous one closes (§5.2).
      if (this.open >= 0 || this.before > 0) {
        this.intervals.unshift(this.open >= 0 ? this.open : this.before);
        if (this.intervals.length > WEIGHTS.length) this.intervals.pop();
      }
      this.open = 1;
      this.eventAt = nowMs;
      this.lossEvents++;
    }
    if (this.open >= 0) this.open++;
    else this.before++;
  }

  /** p (§5.4): 1 / the weighted mean loss interval, the open one counted only when it raises the mean. 0 before any loss. */
  get p(): number {
    if (this.open < 0) return 0;
    const n = this.intervals.length;
    if (n === 0) return 1 / Math.max(1, this.open);
    let tot0 = 0, tot1 = 0, wtot = 0;
    const all = [this.open, ...this.intervals];
    for (let i = 0; i < Math.min(n, WEIGHTS.length); i++) {
      tot0 += all[i]! * WEIGHTS[i]!;
      tot1 += all[i + 1]! * WEIGHTS[i]!;
      wtot += WEIGHTS[i]!;
    }
    return wtot / Math.max(tot0, tot1);
  }

  /** The LossEventRate field: the inverse of p, 0 for no loss. */
  get field(): number {
    const p = this.p;
    return p === 0 ? 0 : Math.min(0xffffffff, Math.max(1, Math.round(1 / p)));
  }
}

export interface IptfsRateConfig {
  /** s: the outer packet size in bytes the rate is counted in. */
  packetSize: number;
  /** The rate to start at, bytes/s (RFC 5348 §4.2 allows up to 4 packets per RTT; nfx takes a configured start). */
  initialRate: number;
  /** Never faster than this (the tunnel's configured rate), bytes/s. */
  maxRate: number;
}

/**
 * The sender's rate (RFC 5348 §4.3 without X_recv): RTT from TVal/TEcho,
 * X = the throughput equation under loss, doubling per RTT without it.
 */
export class IptfsRateController {
  readonly cfg: IptfsRateConfig;
  /** Bytes per second. */
  rate: number;
  /** The smoothed RTT (ms), null before the first echo. */
  rttMs: number | null = null;
  /** The loss event rate the peer last reported. */
  p = 0;
  private lastEcho = -1;
  private lastIncrease = -Infinity;

  constructor(cfg: IptfsRateConfig) {
    this.cfg = cfg;
    this.rate = Math.min(cfg.initialRate, cfg.maxRate);
  }

  /** The TVal to send now: the clock in µs, mod 2^32. */
  static tval(nowMs: number): number {
    return Math.floor(nowMs * 1000) >>> 0;
  }

  /** Feedback from a CC header of the peer, received at `nowMs`. */
  onFeedback(cc: IptfsCcHeader, nowMs: number): void {
    this.p = cc.lossEventRate === 0 ? 0 : 1 / cc.lossEventRate;
    if (cc.techo !== this.lastEcho && (cc.techo !== 0 || this.lastEcho >= 0)) {
      this.lastEcho = cc.techo;
      // RTT sample: our clock now minus the echoed TVal (µs, mod 2^32), minus the peer's hold time.
      const sampleMs = ((IptfsRateController.tval(nowMs) - cc.techo) >>> 0) / 1000 - cc.delay;
      if (sampleMs >= 0 && sampleMs < 60_000) this.rttMs = this.rttMs === null ? sampleMs : RTT_Q * this.rttMs + (1 - RTT_Q) * sampleMs;
    }
    this.update(nowMs);
  }

  private update(nowMs: number): void {
    const s = this.cfg.packetSize;
    const min = s / T_MBI_S;
    const r = Math.max(this.rttMs ?? 0, 1) / 1000;
    if (this.p > 0) {
      this.rate = Math.max(min, Math.min(this.cfg.maxRate, tfrcThroughput(s, r, this.p)));
    } else if (nowMs - this.lastIncrease >= r * 1000) {
      // No loss reported: double at most once per RTT (slow start).
      this.rate = Math.min(this.cfg.maxRate, this.rate * 2);
      this.lastIncrease = nowMs;
    }
  }

  /** The interval between outer packets for the current rate, µs. */
  get intervalUs(): number {
    return (this.cfg.packetSize / this.rate) * 1e6;
  }
}

/** The receive half of the echo: the last TVal seen and when. */
export class IptfsCcEcho {
  private tval = 0;
  private at = -1;
  onHeader(cc: IptfsCcHeader, nowMs: number): void {
    this.tval = cc.tval;
    this.at = nowMs;
  }
  /** TEcho and Delay (ms) for a header sent now. */
  fields(nowMs: number): { techo: number; delay: number } {
    if (this.at < 0) return { techo: 0, delay: 0 };
    return { techo: this.tval, delay: Math.min(MAX_21, Math.round(nowMs - this.at)) };
  }
}

export interface IptfsCcEndpointConfig {
  options: IptfsOptions;
  scheduler: IptfsScheduler;
  /** Data bytes per payload after the 24-byte CC header. */
  mtu: number;
  /** Bytes each payload costs on the wire (header, ESP, outer IP): s = mtu + 24 + overhead. */
  overhead: number;
  /** Starting and highest rate, bytes/s. */
  initialRate: number;
  maxRate: number;
  output: (payload: Packet) => void;
  deliver: (inner: Uint8Array) => void;
  stats?: { inc(name: XfrmStatName): void };
}

/**
 * One end of a congestion-controlled IP-TFS tunnel: a fixed-size sender
 * whose interval follows the rate controller, and a receiver whose loss
 * estimate and echo go out in the sender's CC headers.
 */
export class IptfsCcEndpoint {
  readonly sender: IptfsFixedRateSender;
  readonly receiver: IptfsReceiver;
  readonly rate: IptfsRateController;
  readonly loss = new IptfsLossEstimator();
  readonly echo = new IptfsCcEcho();
  private readonly sched: IptfsScheduler;

  constructor(cfg: IptfsCcEndpointConfig) {
    this.sched = cfg.scheduler;
    const s = cfg.mtu + 24 + cfg.overhead;
    this.rate = new IptfsRateController({ packetSize: s, initialRate: cfg.initialRate, maxRate: cfg.maxRate });
    const senderCfg: ConstructorParameters<typeof IptfsFixedRateSender>[0] = {
      options: cfg.options, scheduler: cfg.scheduler, mtu: cfg.mtu, intervalUs: this.rate.intervalUs, output: cfg.output,
      cc: () => {
        const now = this.sched.nowMs();
        const e = this.echo.fields(now);
        return {
          lossEventRate: this.loss.field,
          rtt: this.rate.rttMs === null ? 0 : Math.min(MAX_22, Math.round(this.rate.rttMs)),
          delay: e.delay,
          xmitDelay: Math.min(MAX_21, Math.round(this.sender.intervalUs / 1000)),
          tval: IptfsRateController.tval(now),
          techo: e.techo,
        };
      },
    };
    if (cfg.stats) senderCfg.stats = cfg.stats;
    this.sender = new IptfsFixedRateSender(senderCfg);
    const rxCfg: ConstructorParameters<typeof IptfsReceiver>[0] = {
      options: cfg.options, scheduler: cfg.scheduler, deliver: (p) => cfg.deliver(p),
      onOrdered: (_seq, lost) => this.loss.record(lost, this.sched.nowMs(), this.rate.rttMs ?? 0),
      onCc: (cc) => {
        const now = this.sched.nowMs();
        this.echo.onHeader(cc, now);
        this.rate.onFeedback(cc, now);
        this.sender.intervalUs = this.rate.intervalUs;
      },
    };
    if (cfg.stats) rxCfg.stats = cfg.stats;
    this.receiver = new IptfsReceiver(rxCfg);
  }

  start(): void { this.sender.start(); }
  stop(): void { this.sender.stop(); }
}
