/**
 * Beyond Linux: RFC 9347's congestion-controlled IP-TFS (§2.4.2, the CC
 * header of §2.2.6, the rate from RFC 5348's throughput equation). Two
 * endpoints talk over a simulated path with a fixed one-way delay on a
 * virtual clock; the path drops A→B payloads on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultIptfsOptions, IptfsCcEndpoint, IptfsLossEstimator, IptfsRateController, readCcHeader, tfrcThroughput, VirtualScheduler,
} from '../src/xfrm/esp/iptfs/index.js';
import type { IptfsCcHeader } from '../src/xfrm/esp/iptfs/index.js';

const MTU = 1000, OVERHEAD = 60, S = MTU + 24 + OVERHEAD;
const MAX_RATE = S * 1000; // 1000 payloads/s
const ONE_WAY_MS = 20;

interface Link {
  sched: VirtualScheduler;
  a: IptfsCcEndpoint;
  b: IptfsCcEndpoint;
  /** Drop the A→B payload with this sequence number? */
  lose: (seq: number) => boolean;
  delivered: number;
  headersAtB: IptfsCcHeader[];
}

function link(): Link {
  const sched = new VirtualScheduler(0);
  const l = { sched, lose: () => false, delivered: 0, headersAtB: [] } as unknown as Link;
  let seqAB = 0, seqBA = 0;
  const make = (send: (bytes: Uint8Array) => void): IptfsCcEndpoint => new IptfsCcEndpoint({
    options: { ...defaultIptfsOptions(), reorderWindow: 0, dropTimeUs: 100_000 },
    scheduler: sched, mtu: MTU, overhead: OVERHEAD, initialRate: S * 50, maxRate: MAX_RATE,
    output: (p) => send(p.data.slice()),
    deliver: () => { l.delivered++; },
  });
  l.a = make((bytes) => {
    const seq = ++seqAB;
    if (l.lose(seq)) return;
    sched.timer(() => { l.headersAtB.push(readCcHeader(bytes, 0)); l.b.receiver.input(bytes, seq); }).start(ONE_WAY_MS);
  });
  l.b = make((bytes) => {
    const seq = ++seqBA;
    sched.timer(() => l.a.receiver.input(bytes, seq)).start(ONE_WAY_MS);
  });
  l.a.start();
  l.b.start();
  return l;
}

/** Runs the virtual clock for `ms` in 10 ms steps. */
function run(l: Link, ms: number): void {
  for (let t = 0; t < ms; t += 10) l.sched.advance(10);
}

test('TVal/TEcho: the echo gives the sender the round-trip time, the peer\'s hold time taken out', () => {
  const l = link();
  run(l, 1000);
  assert.ok(l.a.rate.rttMs !== null);
  assert.ok(Math.abs(l.a.rate.rttMs! - 2 * ONE_WAY_MS) < 1.5, `RTT ${l.a.rate.rttMs} ms, path ${2 * ONE_WAY_MS} ms`);
  assert.ok(Math.abs(l.b.rate.rttMs! - 2 * ONE_WAY_MS) < 1.5);
  // The headers A sends carry its RTT estimate (22 bits, ms) and what it holds of B's TVal.
  const h = l.headersAtB.at(-1)!;
  assert.equal(h.rtt, Math.round(l.a.rate.rttMs!));
  assert.ok(h.techo !== 0 && h.delay <= 2, `techo ${h.techo} delay ${h.delay}`);
  assert.equal(h.lossEventRate, 0, 'no loss: LossEventRate 0');
});

test('the rate climbs to the configured maximum without loss, falls under loss and recovers after it', (t) => {
  const l = link();
  run(l, 2000);
  const clean = l.a.rate.rate;
  assert.equal(clean, MAX_RATE, 'slow start reaches the maximum within 2 s');
  // 5% loss A→B: every 20th payload.
  l.lose = (seq) => seq % 20 === 0;
  run(l, 4000);
  const lossy = l.a.rate.rate;
  const p = l.a.rate.p;
  t.diagnostic(`rate without loss ${(clean / S).toFixed(0)} pkt/s; with 5% loss ${(lossy / S).toFixed(0)} pkt/s (p ${p.toFixed(4)}, RTT ${l.a.rate.rttMs!.toFixed(1)} ms)`);
  assert.ok(p > 0.03 && p < 0.07, `B measures a loss event rate near 5%: ${p}`);
  assert.ok(lossy < clean * 0.2, 'the rate falls under loss');
  // The rate is the throughput equation's for the reported p and the measured RTT.
  const x = tfrcThroughput(S, l.a.rate.rttMs! / 1000, p);
  assert.ok(Math.abs(lossy - x) / x < 0.01, `rate ${lossy} vs equation ${x}`);
  assert.ok(Math.abs(l.a.sender.intervalUs - (S / lossy) * 1e6) < 1, 'the sender\'s interval follows the rate');
  l.lose = () => false;
  run(l, 6000);
  const after = l.a.rate.rate;
  t.diagnostic(`6 s after the loss stops: ${(after / S).toFixed(0)} pkt/s (p ${l.a.rate.p.toFixed(4)})`);
  assert.ok(after > lossy * 3, 'the rate recovers as the loss history ages');
  assert.ok(l.a.rate.p < p / 4);
});

test('the loss estimator groups losses within one RTT into one event (RFC 5348 §5.2)', () => {
  const e = new IptfsLossEstimator();
  for (let i = 0; i < 100; i++) e.record(0, i, 50);
  assert.equal(e.p, 0);
  assert.equal(e.field, 0);
  // Three losses reported within 50 ms: one event.
  e.record(1, 100, 50);
  e.record(2, 120, 50);
  assert.equal(e.lossEvents, 1);
  for (let i = 0; i < 49; i++) e.record(0, 130 + i, 50);
  e.record(1, 300, 50);
  assert.equal(e.lossEvents, 2);
  // Intervals: 100 (before the first loss), then 53 packets; open interval 1.
  assert.ok(e.p > 1 / 101 && e.p < 1 / 50, `p ${e.p}`);
  assert.equal(e.field, Math.round(1 / e.p));
});

test('a CC header with no echo yet does not make an RTT; doubling waits one RTT', () => {
  const r = new IptfsRateController({ packetSize: 1000, initialRate: 10_000, maxRate: 1e9 });
  r.onFeedback({ flags: 0, blockOffset: 0, lossEventRate: 0, rtt: 0, delay: 0, xmitDelay: 0, tval: 5, techo: 0 }, 10);
  assert.equal(r.rttMs, null);
  assert.equal(r.rate, 20_000);
  r.onFeedback({ flags: 0, blockOffset: 0, lossEventRate: 0, rtt: 0, delay: 0, xmitDelay: 0, tval: 6, techo: 0 }, 10.5);
  assert.equal(r.rate, 20_000, 'not twice within one RTT (1 ms floor)');
  // Echo of TVal sent at 100 ms, held 3 ms by the peer, back at 140 ms: RTT 37 ms.
  r.onFeedback({ flags: 0, blockOffset: 0, lossEventRate: 0, rtt: 0, delay: 3, xmitDelay: 0, tval: 7, techo: IptfsRateController.tval(100) }, 140);
  assert.equal(r.rttMs, 37);
  // Loss event rate 1/100 with R = 37 ms: the equation's rate.
  r.onFeedback({ flags: 0, blockOffset: 0, lossEventRate: 100, rtt: 0, delay: 0, xmitDelay: 0, tval: 8, techo: IptfsRateController.tval(100) }, 150);
  assert.equal(r.rate, tfrcThroughput(1000, 0.037, 0.01));
});
