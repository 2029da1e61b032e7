/**
 * Anti-replay for ESP (RFC 4303 §3.3.3, §3.4.3 and Appendix A), shaped like
 * Linux's struct xfrm_replay_state_esn and net/xfrm/xfrm_replay.c.
 *
 * Input side: the highest authenticated sequence number (`seqHi`:`seq`) and
 * a bitmap window of `window` bits (up to 4096, Linux's
 * XFRMA_REPLAY_ESN_MAX). RFC 4303 §3.4.3 splits the work around the ICV:
 * `check()` runs before the ICV and only reads the state (and, with ESN,
 * infers the high half the ICV must be computed with); `advance()` runs only
 * after the ICV verified. A forged packet therefore can never move the window.
 *
 * Output side: `oseq`/`oseqHi`, incremented once per packet; without ESN the
 * SA stops at 2^32 - 1 (RFC 4303 §3.3.3: the counter must not cycle), as
 * xfrm_replay_overflow() does, unless `oseq-may-wrap` is set.
 */

/** Linux's maximum replay window with a bitmap (XFRMA_REPLAY_ESN_MAX = 4096 bits, uapi/linux/xfrm.h). */
export const REPLAY_WINDOW_MAX = 4096;

/** `check()` result when the packet must be dropped (counted as XfrmInStateSeqError). */
export const REPLAY_REJECT = -1;

const TWO32 = 4294967296;

export interface ReplayConfig {
  /** replay-window, 0..4096; 0 disables the check. */
  window: number;
  /** flag esn: 64-bit sequence numbers, the high half inferred (Appendix A). */
  esn: boolean;
  /** extra-flag oseq-may-wrap (XFRM_SA_XFLAG_OSEQ_MAY_WRAP). */
  oseqMayWrap?: boolean;
  /** replay-seq / replay-seq-hi: the highest sequence number already received. */
  seq?: number;
  seqHi?: number;
  /** replay-oseq / replay-oseq-hi: the last sequence number sent. */
  oseq?: number;
  oseqHi?: number;
}

export class ReplayWindow {
  readonly window: number;
  readonly esn: boolean;
  readonly oseqMayWrap: boolean;
  /** Highest sequence number accepted: low and high halves (replay_esn->seq, ->seq_hi). */
  seq: number;
  seqHi: number;
  /** Last sequence number sent (replay_esn->oseq, ->oseq_hi). */
  oseq: number;
  oseqHi: number;
  /** x->stats.replay_window: left of the window. */
  replayWindowErrors = 0;
  /** x->stats.replay: inside the window, already seen. */
  replayErrors = 0;
  /** One bit per sequence number, indexed by seq mod `bits`; `bits` is a power of two so the index survives the 2^32 wrap. */
  private readonly bmp: Uint32Array;
  private readonly mask: number;

  constructor(cfg: ReplayConfig) {
    if (!Number.isInteger(cfg.window) || cfg.window < 0 || cfg.window > REPLAY_WINDOW_MAX) {
      throw new RangeError(`replay-window ${cfg.window} out of range 0..${REPLAY_WINDOW_MAX}`);
    }
    this.window = cfg.window;
    this.esn = cfg.esn;
    this.oseqMayWrap = cfg.oseqMayWrap ?? false;
    this.seq = (cfg.seq ?? 0) >>> 0;
    this.seqHi = cfg.esn ? (cfg.seqHi ?? 0) >>> 0 : 0;
    this.oseq = (cfg.oseq ?? 0) >>> 0;
    this.oseqHi = cfg.esn ? (cfg.oseqHi ?? 0) >>> 0 : 0;
    let bits = 32;
    while (bits < cfg.window) bits *= 2;
    this.bmp = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /**
   * The ESN high half for a received low half (RFC 4303 A2.1, Linux
   * xfrm_replay_seqhi()). With ESN off it is always 0. With a zero window
   * the inference uses a window of one: only the top is known.
   */
  inferHi(seq: number): number {
    if (!this.esn) return 0;
    const w = this.window || 1;
    const top = this.seq;
    const bottom = (top - w + 1) >>> 0;
    if (top >= w - 1) {
      // Case A: the window lies in one subspace; below it means the next one.
      return seq < bottom ? (this.seqHi + 1) >>> 0 : this.seqHi;
    }
    // Case B: the window spans two subspaces; at or above bottom means the previous one.
    return seq >= bottom ? (this.seqHi - 1) >>> 0 : this.seqHi;
  }

  /**
   * Before the ICV: may a packet with low half `seq` be processed? Returns
   * the high half to authenticate with, or REPLAY_REJECT. Does not change
   * the window (only the error statistics).
   */
  check(seq: number): number {
    seq >>>= 0;
    const hi = this.inferHi(seq);
    if (this.window === 0) return hi;
    if (!this.esn) {
      // xfrm_replay_check_bmp(): sequence number 0 is never sent (RFC 4303 §3.3.3).
      if (seq === 0) return REPLAY_REJECT;
      if (seq > this.seq) return 0;
    } else {
      // xfrm_replay_check_esn(): 0 in the first subspace would need a negative high half.
      if (seq === 0 && this.seqHi === 0 && this.seq < this.window - 1) return REPLAY_REJECT;
      const ahead = hi !== this.seqHi ? this.isNextSubspace(hi) : seq > this.seq;
      if (ahead) return hi;
    }
    // Modulo 2^32 in the high half, as Linux's u32 arithmetic: a "previous
    // subspace" of subspace 0 lands inside the window here and is left for
    // the ICV to reject (XfrmInStateProtoError), exactly as in the kernel.
    const diff = ((this.seqHi - hi) >>> 0) * TWO32 + (this.seq - seq);
    if (diff >= this.window) {
      this.replayWindowErrors++;
      return REPLAY_REJECT;
    }
    if (this.testBit(seq)) {
      this.replayErrors++;
      return REPLAY_REJECT;
    }
    return hi;
  }

  /** After the ICV verified: record `hi`:`seq` and slide the window if it is the new top (xfrm_replay_advance_esn()). */
  advance(seq: number, hi: number): void {
    seq >>>= 0;
    hi >>>= 0;
    const ahead = hi !== this.seqHi ? this.isNextSubspace(hi) : seq > this.seq;
    if (this.window === 0) {
      // Linux keeps no state here; nfx tracks the top so ESN inference keeps working.
      if (this.esn && ahead) {
        this.seq = seq;
        this.seqHi = hi;
      }
      return;
    }
    if (ahead) {
      const diff = ((hi - this.seqHi) >>> 0) * TWO32 + (seq - this.seq);
      if (diff < this.window) {
        let s = this.seq;
        for (let i = 1; i < diff; i++) {
          s = (s + 1) >>> 0;
          this.clearBit(s);
        }
      } else {
        this.bmp.fill(0);
      }
      this.seq = seq;
      this.seqHi = hi;
    }
    this.setBit(seq);
  }

  /** Whether `hi` is a later subspace than the current one (modulo 2^32, at most half the space ahead). */
  private isNextSubspace(hi: number): boolean {
    const d = (hi - this.seqHi) >>> 0;
    return d !== 0 && d < 0x80000000;
  }

  /**
   * Before sending: takes the next output sequence number into
   * `oseq`/`oseqHi`. Returns false, leaving the counter where it was, when
   * the SA has run out of sequence numbers (XfrmOutStateSeqError).
   */
  nextOutput(): boolean {
    const lo = (this.oseq + 1) >>> 0;
    if (lo !== 0) {
      this.oseq = lo;
      return true;
    }
    if (!this.esn) {
      if (!this.oseqMayWrap) return false;
      this.oseq = 0;
      return true;
    }
    const hi = (this.oseqHi + 1) >>> 0;
    if (hi === 0 && !this.oseqMayWrap) return false;
    this.oseq = 0;
    this.oseqHi = hi;
    return true;
  }

  /** Whether `seq` is marked received (for listings and tests). */
  testBit(seq: number): boolean {
    const i = seq & this.mask;
    return (this.bmp[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  private setBit(seq: number): void {
    const i = seq & this.mask;
    this.bmp[i >>> 5]! |= 1 << (i & 31);
  }

  private clearBit(seq: number): void {
    const i = seq & this.mask;
    this.bmp[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** The bitmap words as `ip -s xfrm state` would show them (the `bitmap` line), lowest word first. */
  bitmapWords(): readonly number[] {
    return Array.from(this.bmp, (w) => w >>> 0);
  }
}
