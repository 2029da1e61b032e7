/**
 * SA and policy timers on the injected clock: xfrm_timer_handler() of
 * net/xfrm/xfrm_state.c and xfrm_policy_timer() of net/xfrm/xfrm_policy.c.
 * Linux re-arms one timer per object; we evaluate every object when the host
 * says time has passed (`tick`) and tell it when the next deadline is
 * (`nextDeadline`) so it can run virtual time up to it.
 */
import type { XfrmPolicy } from './policy.js';
import type { XfrmSA } from './state.js';
import type { Xfrm } from './xfrm.js';
import { expireStateNow } from './datapath.js';

/** XFRM_KM_TIMEOUT: a soft-expired policy is reported again every 30 s. */
export const XFRM_KM_TIMEOUT = 30;

function useBase(t: number, now: number): number {
  return t || now;
}

/** One run of xfrm_timer_handler() for an SA. */
function stateTimer(x: Xfrm, sa: XfrmSA, now: number): void {
  if (sa.kmState === 'dead') return;
  let expired = sa.kmState === 'expired';
  const l = sa.lft;
  if (!expired && l.hardAddExpiresSeconds && l.hardAddExpiresSeconds + sa.curlft.addTime - now <= 0) expired = true;
  if (!expired && l.hardUseExpiresSeconds && l.hardUseExpiresSeconds + useBase(sa.curlft.useTime, now) - now <= 0)
    expired = true;
  if (expired) {
    expireStateNow(x, sa);
    return;
  }
  if (sa.dying) return;
  let warn = false;
  if (l.softAddExpiresSeconds && l.softAddExpiresSeconds + sa.curlft.addTime - now <= 0) warn = true;
  if (l.softUseExpiresSeconds && l.softUseExpiresSeconds + useBase(sa.curlft.useTime, now) - now <= 0) warn = true;
  if (warn && sa.kmState === 'valid') {
    sa.dying = true;
    x.events.emit({ type: 'expire', sa, hard: false });
  }
}

const lastPolicyWarn = new WeakMap<XfrmPolicy, number>();

/** One run of xfrm_policy_timer(). */
function policyTimer(x: Xfrm, p: XfrmPolicy, now: number): void {
  const l = p.lft;
  const use = p.curlft.useTime || p.curlft.addTime;
  if (
    (l.hardAddExpiresSeconds && l.hardAddExpiresSeconds + p.curlft.addTime - now <= 0) ||
    (l.hardUseExpiresSeconds && l.hardUseExpiresSeconds + use - now <= 0)
  ) {
    x.spd.remove(p);
    x.events.emit({ type: 'polexpire', policy: p, hard: true });
    return;
  }
  const soft =
    (l.softAddExpiresSeconds && l.softAddExpiresSeconds + p.curlft.addTime - now <= 0) ||
    (l.softUseExpiresSeconds && l.softUseExpiresSeconds + use - now <= 0);
  if (!soft) return;
  const last = lastPolicyWarn.get(p);
  if (last !== undefined && now - last < XFRM_KM_TIMEOUT) return;
  lastPolicyWarn.set(p, now);
  x.events.emit({ type: 'polexpire', policy: p, hard: false });
}

/** Runs every due timer at the clock's current time. */
export function tick(x: Xfrm): void {
  const now = x.nowSeconds();
  for (const sa of [...x.sad.states]) stateTimer(x, sa, now);
  for (const p of [...x.spd.policies]) policyTimer(x, p, now);
}

/**
 * The next time (ms since epoch) a timer would do something, or null when
 * nothing is pending. Use-time deadlines count only once the SA was used.
 */
export function nextDeadline(x: Xfrm): number | null {
  let next = Number.POSITIVE_INFINITY;
  const consider = (t: number): void => {
    if (t < next) next = t;
  };
  for (const sa of x.sad.states) {
    const l = sa.lft;
    if (l.hardAddExpiresSeconds) consider(sa.curlft.addTime + l.hardAddExpiresSeconds);
    if (l.hardUseExpiresSeconds && sa.curlft.useTime) consider(sa.curlft.useTime + l.hardUseExpiresSeconds);
    if (!sa.dying) {
      if (l.softAddExpiresSeconds) consider(sa.curlft.addTime + l.softAddExpiresSeconds);
      if (l.softUseExpiresSeconds && sa.curlft.useTime) consider(sa.curlft.useTime + l.softUseExpiresSeconds);
    }
  }
  for (const p of x.spd.policies) {
    const l = p.lft;
    const use = p.curlft.useTime || p.curlft.addTime;
    if (l.hardAddExpiresSeconds) consider(p.curlft.addTime + l.hardAddExpiresSeconds);
    if (l.hardUseExpiresSeconds) consider(use + l.hardUseExpiresSeconds);
    const last = lastPolicyWarn.get(p);
    if (l.softAddExpiresSeconds) consider(Math.max(p.curlft.addTime + l.softAddExpiresSeconds, last === undefined ? 0 : last + XFRM_KM_TIMEOUT));
    if (l.softUseExpiresSeconds) consider(Math.max(use + l.softUseExpiresSeconds, last === undefined ? 0 : last + XFRM_KM_TIMEOUT));
  }
  return Number.isFinite(next) ? next * 1000 : null;
}
