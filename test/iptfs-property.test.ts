/**
 * IP-TFS end to end, sender to receiver, as properties (fast-check):
 * for any inner IPv4/IPv6 packets (20–9000 bytes), any outer packet size,
 * any reordering of the outer packets within the reorder window and any
 * loss pattern:
 *  - every inner packet whose bytes all arrived is delivered exactly once,
 *    unchanged, in order; no other packet is delivered;
 *  - every packet whose start arrived but not the rest is counted (abandoned
 *    or timed out); payloads missing from the ordered stream are counted;
 *  - nothing waits longer than drop-time after its last byte arrived.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultIptfsOptions, IptfsReceiver, IptfsSender, iptfsPayloadMtu, VirtualScheduler } from '../src/xfrm/esp/iptfs/index.js';
import type { IptfsOptions } from '../src/xfrm/esp/iptfs/index.js';

/** An inner packet with a valid length field; `id` makes every packet unique. */
function innerPacket(version: 4 | 6, size: number, id: number): Uint8Array {
  const p = new Uint8Array(size);
  let x = (id * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    p[i] = x >>> 24;
  }
  if (version === 4) {
    p[0] = 0x45;
    p[1] = 0;
    p[2] = size >>> 8;
    p[3] = size & 0xff;
    p[4] = (id >>> 8) & 0xff;
    p[5] = id & 0xff;
  } else {
    p[0] = 0x60;
    p[1] = (id >>> 16) & 0x0f;
    p[2] = (id >>> 8) & 0xff;
    p[3] = id & 0xff;
    p[4] = (size - 40) >>> 8;
    p[5] = (size - 40) & 0xff;
  }
  return p;
}

const innerArb = fc.record({
  v6: fc.boolean(),
  size: fc.oneof(fc.integer({ min: 20, max: 200 }), fc.integer({ min: 20, max: 1600 }), fc.integer({ min: 20, max: 9000 })),
});

interface Scenario {
  inners: { v6: boolean; size: number }[];
  pktSize: number;
  window: number;
  /** Per outer packet: extra delay in positions (0..window) and whether it is lost. */
  jitter: number[];
  lost: boolean[];
  batch: number;
}

const scenarioArb = fc
  .record({
    inners: fc.array(innerArb, { minLength: 1, maxLength: 40 }),
    pktSize: fc.integer({ min: 120, max: 2000 }),
    window: fc.integer({ min: 0, max: 5 }),
    jitter: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
    lost: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
    lossy: fc.boolean(),
    batch: fc.integer({ min: 1, max: 10 }),
  })
  .map((s): Scenario => ({ ...s, lost: s.lossy ? s.lost : s.lost.map(() => false) }));

const OVERHEAD = { headerLen: 20 + 8 + 8 + 4, icvLen: 16, blockSize: 4 };
const DROP_MS = 1000;
const GAP_MS = 1;

function run(s: Scenario): void {
  const opts: IptfsOptions = { ...defaultIptfsOptions(), pktSize: s.pktSize, reorderWindow: s.window, dropTimeUs: DROP_MS * 1000 };
  const sched = new VirtualScheduler();
  const payloads: Uint8Array[] = [];
  const mtu = iptfsPayloadMtu(OVERHEAD, opts);
  const tx = new IptfsSender({ options: opts, scheduler: sched, mtu, output: (p) => payloads.push(p.data.slice()) });
  const inners = s.inners.map((x, i) => innerPacket(x.v6 || x.size < 40 ? (x.size < 40 ? 4 : 6) : 4, x.size, i + 1));
  const originals = inners.map((p) => p.slice());
  for (let i = 0; i < inners.length; i++) {
    assert.equal(tx.enqueue(inners[i]!).ok, true);
    if ((i + 1) % s.batch === 0) sched.runDue();
  }
  sched.runDue();
  assert.equal(tx.queuedPackets, 0);

  // Where each inner packet's bytes went: the payloads carry one contiguous byte stream.
  const starts: number[] = [];
  let cum = 0;
  for (const p of originals) {
    starts.push(cum);
    cum += p.length;
  }
  const payloadStart: number[] = [];
  let c = 0;
  for (const p of payloads) {
    payloadStart.push(c);
    c += p.length - 4;
  }
  assert.equal(c, cum, 'every inner byte is sent exactly once');
  const payloadsOf = (i: number): number[] => {
    const s0 = starts[i]!;
    const e0 = s0 + originals[i]!.length;
    const out: number[] = [];
    for (let k = 0; k < payloads.length; k++) {
      const ps = payloadStart[k]!;
      const pe = ps + payloads[k]!.length - 4;
      if (ps < e0 && pe > s0) out.push(k);
    }
    return out;
  };

  // Arrival order: displaced by at most `window` positions; the first payload arrives first and is kept.
  const n = payloads.length;
  const lost = (k: number): boolean => k > 0 && s.lost[k % s.lost.length]!;
  const keys = payloads.map((_, k) => ({ k, key: k === 0 ? -1 : k + (s.window ? s.jitter[k % s.jitter.length]! % (s.window + 1) : 0) }));
  keys.sort((a, b) => a.key - b.key || a.k - b.k);
  const arrivalTime = new Array<number>(n).fill(-1);
  const delivered: { bytes: Uint8Array; at: number }[] = [];
  const rx = new IptfsReceiver({ options: opts, scheduler: sched, deliver: (p) => delivered.push({ bytes: p, at: sched.nowMs() }) });
  for (const { k } of keys) {
    sched.advance(GAP_MS);
    if (lost(k)) continue;
    arrivalTime[k] = sched.nowMs();
    rx.input(payloads[k]!.slice(), k + 1);
  }
  sched.advance(DROP_MS + 1);
  assert.deepEqual(rx.waiting, { payloads: 0, reassembling: false }, 'nothing is held after drop-time');

  const expected: number[] = [];
  let startedIncomplete = 0;
  const lastByteAt: number[] = [];
  for (let i = 0; i < originals.length; i++) {
    const ks = payloadsOf(i);
    if (ks.every((k) => !lost(k))) {
      expected.push(i);
      lastByteAt.push(Math.max(...ks.map((k) => arrivalTime[k]!)));
    } else if (!lost(ks[0]!) && ks.length > 1) {
      startedIncomplete++;
    }
  }
  assert.equal(delivered.length, expected.length, 'delivered count');
  for (let j = 0; j < expected.length; j++) {
    const want = originals[expected[j]!]!;
    assert.deepEqual(delivered[j]!.bytes, want, `inner packet #${expected[j]} delivered unchanged and in order`);
    assert.ok(delivered[j]!.at - lastByteAt[j]! <= DROP_MS + 1e-9, `inner packet #${expected[j]} waited ${delivered[j]!.at - lastByteAt[j]!} ms`);
  }
  assert.equal(rx.totals.reassemblyAbandoned + rx.totals.reassemblyTimeouts, startedIncomplete, 'incomplete packets are counted');
  const arrived = [...Array(n).keys()].filter((k) => !lost(k));
  const lastArrived = Math.max(...arrived);
  const gaps = [...Array(lastArrived + 1).keys()].filter((k) => lost(k)).length;
  assert.equal(rx.totals.payloadsLost, gaps, 'payloads missing before the last one are counted');
  assert.equal(rx.counters.XfrmInHdrError + rx.counters.XfrmInBufferError, 0);
}

test('IP-TFS: any packets, any in-window reordering, any loss: delivered exactly once, in order, unchanged', () => {
  fc.assert(fc.property(scenarioArb, (s) => run(s)), { numRuns: 400 });
});

test('IP-TFS: without loss every inner packet is delivered', () => {
  fc.assert(
    fc.property(scenarioArb, (s) => run({ ...s, lost: s.lost.map(() => false) })),
    { numRuns: 150 },
  );
});
