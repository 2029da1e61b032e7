/**
 * Beyond Linux: fixed-rate IP-TFS (RFC 9347 §2.4) with padding and the CC
 * header. Every outer payload has the same size and leaves on the interval;
 * packets are split anywhere (runts included), idle intervals send all-pad
 * payloads, and nfx's receiver (Linux's rules) gives back every packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultIptfsOptions, IptfsFixedRateSender, IptfsReceiver, VirtualScheduler } from '../src/xfrm/esp/iptfs/index.js';

function packet(v6: boolean, size: number, id: number): Uint8Array {
  const p = new Uint8Array(size).map((_, i) => (i * 31 + id * 7) & 0xff);
  if (v6) {
    p[0] = 0x60;
    p[4] = (size - 40) >> 8;
    p[5] = (size - 40) & 0xff;
  } else {
    p[0] = 0x45;
    p[2] = size >> 8;
    p[3] = size & 0xff;
  }
  return p;
}

test('fixed rate: constant-size payloads on the interval, split anywhere, all-pad when idle; all packets come back', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ v6: fc.boolean(), size: fc.integer({ min: 40, max: 3000 }), gapUs: fc.integer({ min: 0, max: 3000 }) }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 8, max: 400 }),
      fc.boolean(),
      (pkts, mtu, cc) => {
        const sched = new VirtualScheduler();
        const opts = { ...defaultIptfsOptions(), reorderWindow: 0 };
        const sizes: number[] = [];
        const times: number[] = [];
        const got: Uint8Array[] = [];
        const rx = new IptfsReceiver({ options: opts, scheduler: sched, deliver: (p) => got.push(p) });
        let seq = 0;
        let tval = 0;
        const tx = new IptfsFixedRateSender({
          options: opts,
          scheduler: sched,
          mtu,
          intervalUs: 1000,
          cc: cc ? () => ({ lossEventRate: 0, rtt: 10, delay: 1, xmitDelay: 1, tval: ++tval, techo: 0 }) : undefined,
          output: (p) => {
            sizes.push(p.length);
            times.push(sched.nowMs());
            rx.input(p.data.slice(), ++seq);
          },
        });
        tx.start();
        const sent = pkts.map((x, i) => packet(x.v6, x.size, i));
        for (let i = 0; i < sent.length; i++) {
          tx.enqueue(sent[i]!.slice());
          sched.advance(pkts[i]!.gapUs / 1000);
        }
        const totalBytes = sent.reduce((n, p) => n + p.length, 0);
        sched.advance(Math.ceil(totalBytes / mtu) + 3);
        tx.stop();
        assert.deepEqual(got, sent);
        const hdr = cc ? 24 : 4;
        assert.ok(sizes.every((s) => s === hdr + mtu), 'every payload has the same size');
        for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 1, 'one payload per interval');
        assert.ok(tx.totals.allPad >= 2, 'idle intervals send all-pad payloads');
        if (cc) assert.equal(rx.lastCc?.tval, tval);
        assert.equal(rx.counters.XfrmInIptfsError + rx.counters.XfrmInHdrError + rx.counters.XfrmInBufferError, 0);
      },
    ),
    { numRuns: 200 },
  );
});
