/**
 * limit (nft_limit.c): a token bucket in nanoseconds. Packet mode costs
 * unit/rate per packet with room for `burst` packets (default 5); byte mode
 * costs unit*len/rate with room for rate+burst bytes. `over` (NFT_LIMIT_F_INV)
 * inverts the match. A rate whose bucket overflows 64 bits is refused with
 * EOVERFLOW, as the kernel does.
 */
import type { LimitExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, pktLen } from './types.js';
import type { Vm } from '../vm.js';

const NSEC_PER_SEC = 1_000_000_000n;
const U64_MAX = (1n << 64n) - 1n;
/** NFT_LIMIT_PKT_BURST_DEFAULT. */
const PKT_BURST_DEFAULT = 5;
export const EOVERFLOW = 75;

interface Bucket { tokens: number; tokensMax: number; last: number; nsecs: number; burst: number; init: boolean }
const buckets = new WeakMap<LimitExpr, Bucket>();

/** nft_limit_init's checks; throws EOVERFLOW/EINVAL like the kernel. */
export function limitCheck(e: LimitExpr): void {
  if (e.rate === 0 || e.unit === 0) fail(22);
  const nsecs = BigInt(e.unit) * NSEC_PER_SEC;
  if (nsecs > U64_MAX) fail(EOVERFLOW);
  const burst = BigInt(e.burst === 0 && e.limitType === 0 ? PKT_BURST_DEFAULT : e.burst);
  const rate = BigInt(e.rate);
  if (rate + burst > U64_MAX) fail(EOVERFLOW);
  if (e.limitType === 1 && nsecs * (rate + burst) > U64_MAX) fail(EOVERFLOW);
  if (e.limitType === 0 && (nsecs / rate) * burst > U64_MAX) fail(EOVERFLOW);
}

function bucket(e: LimitExpr, nowNs: number): Bucket {
  let b = buckets.get(e);
  if (!b) {
    const nsecs = e.unit * 1e9;
    const burst = e.burst === 0 && e.limitType === 0 ? PKT_BURST_DEFAULT : e.burst;
    const tokens = e.limitType === 0 ? Math.floor(nsecs / e.rate) * burst : Math.floor((nsecs * (e.rate + burst)) / e.rate);
    b = { tokens, tokensMax: tokens, last: nowNs, nsecs, burst, init: true };
    buckets.set(e, b);
  }
  return b;
}

/** True when the packet is within the limit (before `over` inversion). */
export function limitEval(e: LimitExpr, vm: Vm): void {
  const now = vm.env.clock.nowMs() * 1e6;
  const b = bucket(e, now);
  let tokens = b.tokens + (now - b.last);
  if (tokens > b.tokensMax) tokens = b.tokensMax;
  b.last = now;
  const cost = e.limitType === 0 ? Math.floor(b.nsecs / e.rate) : Math.floor((b.nsecs * pktLen(vm.pkt)) / e.rate);
  const delta = tokens - cost;
  const invert = (e.flags & 1) !== 0;
  if (delta >= 0) {
    b.tokens = delta;
    if (invert) vm.code[0] = -2;
    return;
  }
  b.tokens = tokens;
  if (!invert) vm.code[0] = -2;
}

export const limitOps: ExprOps<LimitExpr, LimitExpr> = {
  type: 'limit',
  prepare(e) { limitCheck(e); return e; },
  eval(p, vm) { limitEval(p, vm); },
};
