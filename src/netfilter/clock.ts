/**
 * Time as the engine sees it. Element timeouts, limits, quotas' refill, `meta time`
 * and `last` all read this clock, so a replay with a virtual clock is deterministic.
 */
export interface Clock {
  /** Milliseconds since the epoch (may be fractional). */
  nowMs(): number;
}

/** A clock that moves only when told to: replays and tests. */
export class VirtualClock implements Clock {
  constructor(private ms = 0) {}
  nowMs(): number { return this.ms; }
  set(ms: number): void { this.ms = ms; }
  advance(ms: number): void { this.ms += ms; }
}

/** Wall-clock time, for live use. */
export const realClock: Clock = { nowMs: () => Date.now() };
