/**
 * Time for the xfrm framework is the engine's clock (src/netfilter/clock.ts):
 * milliseconds, virtual in replays and tests so they stay deterministic, real
 * when live. The names here are the ones the xfrm API has always exported.
 */
import type { Clock } from '../netfilter/clock.js';

export type { Clock } from '../netfilter/clock.js';
export { VirtualClock as ManualClock, realClock as systemClock } from '../netfilter/clock.js';

/** Linux keeps SA times in whole wall-clock seconds (ktime_get_real_seconds() in xfrm_state.c). */
export function seconds(clock: Clock): number {
  return Math.floor(clock.nowMs() / 1000);
}
