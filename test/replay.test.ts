/**
 * The anti-replay window against a reference model: a Set of the 64-bit
 * sequence numbers accepted so far. For any arrival order, a packet is
 * accepted iff it is new and not left of the window (RFC 4303 §3.4.3), and
 * with ESN the inferred high half is the true one (Appendix A) whenever the
 * sender is less than 2^31 ahead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayWindow, REPLAY_REJECT } from '../src/xfrm/esp/replay.js';

const TWO32 = 2 ** 32;

/** Runs arrivals through the window; the "ICV" passes iff the inferred high half is the true one. */
function run(window: number, esn: boolean, start: number, arrivals: number[]) {
  const w = new ReplayWindow({ window, esn, seq: start % TWO32, seqHi: Math.floor(start / TWO32) });
  const seen = new Set<number>();
  let top = start;
  for (const s of arrivals) {
    const lo = s % TWO32;
    const trueHi = Math.floor(s / TWO32);
    const hi = w.check(lo);
    const nfx = hi !== REPLAY_REJECT && hi === trueHi;
    if (nfx) w.advance(lo, hi);
    // The reference: new, positive, and right of (top - window).
    const model = s > 0 && !seen.has(s) && (window === 0 || s > top || top - s < window);
    assert.equal(nfx, model, `seq ${s} (top ${top}, window ${window}, esn ${esn})`);
    if (model) {
      seen.add(s);
      if (s > top) top = s;
    }
    assert.equal(w.seq + w.seqHi * TWO32, top);
  }
}

test('property: bitmap window vs a Set, random arrival orders, windows 1..4096, no ESN', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4096 }),
      fc.array(fc.integer({ min: 1, max: 6000 }), { minLength: 1, maxLength: 400 }),
      (window, arrivals) => run(window, false, 0, arrivals),
    ),
    { numRuns: 300 },
  );
});

test('property: ESN around the 2^32 wrap, arrivals within reach of the window', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.integer({ min: -3000, max: 3000 }), { minLength: 1, maxLength: 400 }),
      (window, hi, offsets) => {
        const base = (hi + 1) * TWO32; // the wrap point of subspace hi
        const start = base - 5000;
        // Packets arrive at most a window's reach behind the highest seen so far, as a real sender's would.
        run(window, true, start, offsets.map((o) => base + o));
      },
    ),
    { numRuns: 300 },
  );
});

test('property: ESN inference from a window spanning two subspaces (case B)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 4096 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 300 }),
      (window, arrivals) => run(window, true, 5 * TWO32 + 1, arrivals.map((a) => 5 * TWO32 + a - 200)),
    ),
    { numRuns: 200 },
  );
});

test('zero window: no replay protection, ESN still infers the high half', () => {
  const z = new ReplayWindow({ window: 0, esn: true, seq: 0xfffffff0 });
  for (const s of [TWO32 - 5, TWO32 - 5, TWO32 + 3, TWO32 + 4]) {
    const hi = z.check(s % TWO32);
    assert.equal(hi, Math.floor(s / TWO32), `seq ${s}`);
    z.advance(s % TWO32, hi);
  }
  // Without a window only the top is known: a late packet is taken for the next subspace (its ICV will fail).
  assert.equal(z.check(3), 2);
  const w = new ReplayWindow({ window: 0, esn: false });
  assert.equal(w.check(0), 0, 'Linux skips the check entirely');
  assert.equal(w.check(7), 0);
});

test('check does not move the window; only advance does (RFC 4303 §3.4.3)', () => {
  const w = new ReplayWindow({ window: 64, esn: false, seq: 100 });
  assert.equal(w.check(500), 0);
  assert.equal(w.seq, 100);
  w.advance(500, 0);
  assert.equal(w.seq, 500);
  assert.equal(w.check(500), REPLAY_REJECT);
  assert.equal(w.replayErrors, 1);
  assert.equal(w.check(400), REPLAY_REJECT);
  assert.equal(w.replayWindowErrors, 1);
  // With ESN the same packet is taken for the next subspace: the ICV decides (Appendix A).
  const e = new ReplayWindow({ window: 64, esn: true, seq: 500 });
  assert.equal(e.check(400), 1);
});

test('ESN: sequence number 0 in the first subspace is refused, as xfrm_replay_check_esn()', () => {
  const w = new ReplayWindow({ window: 32, esn: true });
  assert.equal(w.check(0), REPLAY_REJECT);
  assert.equal(w.check(1), 0);
});

test('window sizes: up to 4096 (XFRMA_REPLAY_ESN_MAX)', () => {
  assert.throws(() => new ReplayWindow({ window: 4097, esn: true }), /out of range/);
  const w = new ReplayWindow({ window: 4096, esn: false, seq: 10000 });
  assert.equal(w.check(10000 - 4095), 0);
  assert.equal(w.check(10000 - 4096), REPLAY_REJECT);
});
