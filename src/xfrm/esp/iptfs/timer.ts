/**
 * Time for IP-TFS: the output delay timer and the input drop timer are
 * hrtimers in Linux; here they run on an injectable scheduler so tests and
 * capture replays use virtual time and finish instantly.
 */

export interface IptfsClock {
  /** Milliseconds (virtual or real); fractions allowed (µs options become fractions). */
  nowMs(): number;
}

/** One re-armable timer, like an hrtimer: start() re-arms, cancel() disarms. */
export interface IptfsTimer {
  start(delayMs: number): void;
  cancel(): void;
  /** hrtimer_is_queued(). */
  readonly queued: boolean;
}

export interface IptfsScheduler extends IptfsClock {
  timer(fn: () => void): IptfsTimer;
}

interface VTimer {
  start(delayMs: number): void;
  cancel(): void;
  queued: boolean;
  due: number;
  fn: () => void;
}

/**
 * A scheduler that moves only when told to. `advance(ms)` fires every timer
 * due by then in deadline order, each at its own deadline (nowMs() reads the
 * deadline inside the callback); `runDue()` fires what is due now (a 0 delay
 * timer runs at the next runDue/advance, like a softirq after the caller returns).
 */
export class VirtualScheduler implements IptfsScheduler {
  private now = 0;
  private readonly timers: VTimer[] = [];

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  timer(fn: () => void): IptfsTimer {
    const t: VTimer = {
      due: Infinity,
      fn,
      queued: false,
      start: (delayMs: number) => {
        t.due = this.now + Math.max(0, delayMs);
        t.queued = true;
      },
      cancel: () => {
        t.queued = false;
        t.due = Infinity;
      },
    };
    this.timers.push(t);
    return t;
  }

  /** Fires timers due at or before `now + ms`, then sets the clock there. */
  advance(ms: number): void {
    const until = this.now + ms;
    // Bounded: each firing either disarms its timer or re-arms it later than now.
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next: VTimer | null = null;
      for (const t of this.timers) if (t.queued && t.due <= until && (!next || t.due < next.due)) next = t;
      if (!next) break;
      if (next.due > this.now) this.now = next.due;
      next.queued = false;
      next.due = Infinity;
      next.fn();
    }
    this.now = until;
  }

  runDue(): void {
    this.advance(0);
  }

  /** The earliest armed deadline, or Infinity. */
  nextDue(): number {
    let d = Infinity;
    for (const t of this.timers) if (t.queued && t.due < d) d = t.due;
    return d;
  }
}

/** Real time: setTimeout timers (unref'd so they never keep a process alive). */
export class RealScheduler implements IptfsScheduler {
  nowMs(): number {
    return performance.now();
  }
  timer(fn: () => void): IptfsTimer {
    let handle: ReturnType<typeof setTimeout> | null = null;
    const t = {
      queued: false,
      start(delayMs: number) {
        if (handle) clearTimeout(handle);
        t.queued = true;
        handle = setTimeout(() => {
          handle = null;
          t.queued = false;
          fn();
        }, delayMs);
        handle.unref?.();
      },
      cancel() {
        if (handle) clearTimeout(handle);
        handle = null;
        t.queued = false;
      },
    };
    return t;
  }
}
