/**
 * Time for the xfrm framework. Lifetimes in Linux are wall-clock seconds
 * (`ktime_get_real_seconds()` in net/xfrm/xfrm_state.c); we take a millisecond
 * clock so replays of captures run on virtual time and stay deterministic.
 * The engine defines its own Clock too; both are `{ now(): number }`, so one
 * object satisfies both until the lead unifies them.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (virtual or real). */
  now(): number;
}

/** A clock that only moves when told to: for tests and capture replays. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The real clock, for live use. */
export const systemClock: Clock = { now: () => Date.now() };

/** Linux keeps SA times in whole seconds. */
export function seconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
