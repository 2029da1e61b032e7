/**
 * pcapng timestamps: a 64-bit count of units since 1970, split into two
 * 32-bit words, where the unit is the interface's if_tsresol (RFC-to-be
 * draft-ietf-opsawg-pcapng §4.2: MSB 0 → 10^-n s, MSB 1 → 2^-n s; default
 * 10^-6). Nanosecond counts exceed 2^53, so the common decimal resolutions
 * (n ≤ 9) are converted with exact 16-bit long division on doubles — no
 * BigInt and no allocation per packet; other resolutions take a BigInt path.
 */

const TWO32 = 4294967296;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

export interface TsResolution {
  /** The if_tsresol octet this was decoded from. */
  readonly code: number;
  /** Decimal exponent when the resolution is 10^-n with n ≤ 9, else -1 (BigInt path). */
  readonly decimal: number;
}

/** if_tsresol default (no option): microseconds. */
export const TSRESOL_USEC: TsResolution = { code: 6, decimal: 6 };
export const TSRESOL_NSEC: TsResolution = { code: 9, decimal: 9 };

export function tsResolution(code: number): TsResolution {
  if (code === 6) return TSRESOL_USEC;
  if (code === 9) return TSRESOL_NSEC;
  return { code, decimal: code <= 9 ? code : -1 };
}

/** Seconds and nanoseconds, filled in place. */
export interface TimeOut {
  sec: number;
  nsec: number;
}

/** Converts a (hi, lo) unit count to seconds + nanoseconds (truncating below 1 ns). */
export function unitsToTime(hi: number, lo: number, res: TsResolution, out: TimeOut): void {
  const k = res.decimal;
  if (k >= 0) {
    const d = POW10[k]!;
    // Long division of hi·2^32 + lo by d in 16-bit digits: every partial
    // dividend stays below d·2^16 < 2^46, so each step is exact in a double.
    const rh = hi % d;
    const qh = (hi - rh) / d;
    const cur1 = rh * 65536 + (lo >>> 16);
    const r1 = cur1 % d;
    const q1 = (cur1 - r1) / d;
    const cur2 = r1 * 65536 + (lo & 0xffff);
    const r2 = cur2 % d;
    const q2 = (cur2 - r2) / d;
    out.sec = qh * TWO32 + q1 * 65536 + q2;
    out.nsec = r2 * POW10[9 - k]!;
    return;
  }
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const code = res.code;
  if (code & 0x80) {
    const shift = BigInt(code & 0x7f);
    out.sec = Number(units >> shift);
    out.nsec = Number(((units & ((1n << shift) - 1n)) * 1_000_000_000n) >> shift);
  } else {
    const d = 10n ** BigInt(code);
    out.sec = Number(units / d);
    out.nsec = Number((units % d) / 10n ** BigInt(code - 9));
  }
}

/** A 64-bit unit count as two 32-bit words, filled in place. */
export interface UnitsOut {
  hi: number;
  lo: number;
}

/**
 * Converts seconds + nanoseconds to a unit count of 10^-k seconds (k ≤ 9),
 * truncating what the resolution cannot hold. Throws RangeError when the
 * count does not fit 64 bits (a caller's mistake, not bad input).
 */
export function timeToUnits(sec: number, nsec: number, k: number, out: UnitsOut): void {
  if (!Number.isSafeInteger(sec) || sec < 0 || !(nsec >= 0 && nsec < 1e9) || !(k >= 0 && k <= 9)) {
    throw new RangeError(`timestamp ${sec}.${nsec} not representable at 10^-${k} s`);
  }
  const d = POW10[k]!;
  const frac = Math.floor(nsec / POW10[9 - k]!);
  // sec·d + frac = (sa·d)·2^16 + (sb·d + frac), each product exact below 2^53.
  const sb = sec % 65536;
  const sa = (sec - sb) / 65536;
  const low = sb * d + frac;
  const high = sa * d;
  if (high >= 2 ** 48) throw new RangeError(`timestamp ${sec}s overflows 64 bits at 10^-${k} s`);
  const hl = high % 65536;
  const hh = (high - hl) / 65536;
  const mid = hl * 65536 + low;
  const lo = mid % TWO32;
  const hi = hh + (mid - lo) / TWO32;
  if (hi >= TWO32) throw new RangeError(`timestamp ${sec}s overflows 64 bits at 10^-${k} s`);
  out.hi = hi;
  out.lo = lo;
}
