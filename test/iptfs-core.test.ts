/**
 * IP-TFS pieces as specs: options and their kernel defaults, the AGGFRAG
 * headers, the sender's packing (aggregation, fragmentation with block
 * offsets, dont-frag, queue limit and CE marking, init-delay), and the
 * receiver's corner cases (runts, pad blocks, all-pad payloads, bad headers,
 * the CC header, the reorder window and drop-time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { internetChecksum } from '../src/packet/checksum.js';
import { createEspSa } from '../src/xfrm/esp/index.js';
import {
  defaultIptfsOptions, formatIptfsOpts, IptfsConfigError, IptfsReceiver, IptfsSender, iptfsOverhead, iptfsPayloadMtu,
  parseIptfsOpts, parseIptfsOptsPrefix, readCcHeader, VirtualScheduler, writeCcHeader,
} from '../src/xfrm/esp/iptfs/index.js';
import type { IptfsOptions } from '../src/xfrm/esp/iptfs/index.js';

function ipv4(size: number, id: number, tos = 0): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[1] = tos;
  p[2] = size >>> 8;
  p[3] = size & 0xff;
  p[4] = id >>> 8;
  p[5] = id & 0xff;
  p[8] = 64;
  p[9] = 17;
  for (let i = 20; i < size; i++) p[i] = (i * 7 + id) & 0xff;
  const c = internetChecksum(p, 0, 20);
  p[10] = c >>> 8;
  p[11] = c & 0xff;
  return p;
}

function ipv6(size: number, flow: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x60;
  p[3] = flow & 0xff;
  p[4] = (size - 40) >>> 8;
  p[5] = (size - 40) & 0xff;
  p[6] = 59;
  p[7] = 64;
  for (let i = 40; i < size; i++) p[i] = (i * 13 + flow) & 0xff;
  return p;
}

/** An AGGFRAG payload: basic header with `blkoff`, then the given blocks. */
function payload(blkoff: number, ...blocks: Uint8Array[]): Uint8Array {
  const len = 4 + blocks.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(len);
  out[2] = blkoff >>> 8;
  out[3] = blkoff & 0xff;
  let o = 4;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function receiver(over: Partial<IptfsOptions> = {}): { rx: IptfsReceiver; got: Uint8Array[]; sched: VirtualScheduler } {
  const sched = new VirtualScheduler();
  const got: Uint8Array[] = [];
  const rx = new IptfsReceiver({ options: { ...defaultIptfsOptions(), ...over }, scheduler: sched, deliver: (p) => got.push(p) });
  return { rx, got, sched };
}

function sender(over: Partial<IptfsOptions> = {}, mtu = 200): { tx: IptfsSender; out: Uint8Array[]; sched: VirtualScheduler } {
  const sched = new VirtualScheduler();
  const out: Uint8Array[] = [];
  const tx = new IptfsSender({ options: { ...defaultIptfsOptions(), ...over }, scheduler: sched, mtu, output: (p) => out.push(p.data.slice()) });
  return { tx, out, sched };
}

const hdr = (p: Uint8Array): [number, number, number] => [p[0]!, p[1]!, (p[2]! << 8) | p[3]!];

test('options: the kernel defaults, iproute2 words, listings per direction', () => {
  assert.deepEqual(defaultIptfsOptions(), { pktSize: 0, maxQueueSize: 10485760, dropTimeUs: 1000000, reorderWindow: 3, initDelayUs: 0, dontFrag: false });
  const o = parseIptfsOpts(['pkt-size', '1400', 'dont-frag', 'init-delay', '500', 'max-queue-size', '0x1000', 'drop-time', '2000', 'reorder-window', '5']);
  assert.deepEqual(o, { pktSize: 1400, maxQueueSize: 4096, dropTimeUs: 2000, reorderWindow: 5, initDelayUs: 500, dontFrag: true });
  assert.equal(formatIptfsOpts(o, 'out'), 'iptfs-opts dont-frag init-delay 500 max-queue-size 4096 pkt-size 1400');
  assert.equal(formatIptfsOpts(o, 'in'), 'iptfs-opts drop-time 2000 reorder-window 5');
  assert.deepEqual(parseIptfsOptsPrefix(['pkt-size', '9', 'dir', 'in']).consumed, 2);
  assert.throws(() => parseIptfsOpts(['reorder-window', '65536']), IptfsConfigError);
  assert.throws(() => parseIptfsOpts(['pkt-size']), IptfsConfigError);
  assert.throws(() => parseIptfsOpts(['bogus']), /unknown iptfs-opts word "bogus"/);
});

test('payload MTU: pkt-size minus header_len, capped by the path MTU; too small a pkt-size is refused', () => {
  const sa = createEspSa({ spi: 1, saddr: '192.0.2.1', daddr: '192.0.2.2', mode: 'tunnel', aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20), icvBits: 128 } });
  const ov = iptfsOverhead(sa);
  assert.equal(ov.headerLen, 20 + 8 + 8 + 4);
  assert.equal(iptfsPayloadMtu(ov, { ...defaultIptfsOptions(), pktSize: 1400 }), 1360);
  // pkt-size 0: ((1500 - 40 - 16) & ~3) - 2, the whole outer packet then is exactly 1500.
  assert.equal(iptfsPayloadMtu(ov, defaultIptfsOptions(), 1500), 1442);
  assert.equal(iptfsPayloadMtu(ov, { ...defaultIptfsOptions(), pktSize: 9000 }, 1500), 1442);
  assert.throws(() => iptfsPayloadMtu(ov, { ...defaultIptfsOptions(), pktSize: 40 }), /greater than IPTFS\/ESP header length/);
});

test('CC header: every field round-trips at its width', () => {
  const b = new Uint8Array(24);
  const h = { flags: 0, blockOffset: 0x1234, lossEventRate: 0xdeadbeef, rtt: 0x3fffff, delay: 0x12345, xmitDelay: 0x1abcde, tval: 7, techo: 0xffffffff };
  writeCcHeader(b, 0, h);
  assert.equal(b[0], 1);
  assert.deepEqual(readCcHeader(b, 0), h);
});

test('sender aggregates small packets into one payload after the init-delay timer', () => {
  const { tx, out, sched } = sender({ initDelayUs: 2000 }, 200);
  for (let i = 0; i < 5; i++) assert.equal(tx.enqueue(ipv4(40, i)).ok, true);
  sched.advance(1.999);
  assert.equal(out.length, 0, 'nothing before init-delay');
  sched.advance(0.001);
  assert.equal(out.length, 1);
  assert.deepEqual(hdr(out[0]!), [0, 0, 0]);
  assert.equal(out[0]!.length, 4 + 5 * 40);
});

test('sender: a packet that does not fit starts the next payload; a big one is fragmented with block offsets', () => {
  const { tx, out, sched } = sender({}, 100);
  tx.enqueue(ipv4(60, 1));
  tx.enqueue(ipv4(60, 2)); // does not fit behind the first: its own payload
  tx.enqueue(ipv4(250, 3)); // 100 + 100 + 50, the last fragment shares with the next packet
  tx.enqueue(ipv4(30, 4));
  sched.runDue();
  assert.deepEqual(out.map((p) => [...hdr(p), p.length - 4]), [
    [0, 0, 0, 60],
    [0, 0, 0, 60],
    [0, 0, 0, 100],
    [0, 0, 150, 100],
    [0, 0, 50, 80],
  ]);
  assert.equal(tx.totals.fragmented, 1);
});

test('sender with dont-frag refuses packets over the MTU (XfrmOutError, PKT_TOO_BIG) and never fragments', () => {
  const { tx, out, sched } = sender({ dontFrag: true }, 100);
  const r = tx.enqueue(ipv4(101, 1));
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.counter === 'XfrmOutError' && r.skbReason === 'SKB_DROP_REASON_PKT_TOO_BIG' && r.mtu === 100);
  tx.enqueue(ipv4(60, 2));
  tx.enqueue(ipv4(60, 3));
  sched.runDue();
  assert.deepEqual(out.map((p) => p.length - 4), [60, 60]);
  assert.equal(tx.counters.XfrmOutError, 1);
});

test('sender queue: refuses beyond max-queue-size, marks ECT packets CE beyond 95% with a valid checksum', () => {
  const { tx } = sender({ maxQueueSize: 1000 }, 1400);
  for (let i = 0; i < 9; i++) assert.deepEqual(tx.enqueue(ipv4(100, i, 0x02)), { ok: true, ceMarked: false });
  const p = ipv4(60, 9, 0x02); // 960 > 950: CE
  assert.deepEqual(tx.enqueue(p), { ok: true, ceMarked: true });
  assert.equal(p[1]! & 3, 3);
  assert.equal(internetChecksum(p, 0, 20), 0);
  const notEct = ipv4(20, 10, 0);
  assert.deepEqual(tx.enqueue(notEct), { ok: true, ceMarked: false });
  assert.equal(notEct[1], 0, 'Not-ECT is left alone');
  const r = tx.enqueue(ipv4(21, 11));
  assert.ok(!r.ok && r.counter === 'XfrmOutNoQueueSpace' && r.skbReason === 'SKB_DROP_REASON_FULL_RING');
  assert.equal(tx.counters.XfrmOutNoQueueSpace, 1);
});

test('receiver: runt starts (shorter than the length field) complete from the next payload', () => {
  const { rx, got } = receiver({ reorderWindow: 0 });
  const a = ipv4(30, 1);
  const b = ipv6(80, 2);
  // a whole, then 3 bytes of b (IPv6 needs 6 to read its length)
  rx.input(payload(0, a, b.subarray(0, 3)), 1);
  rx.input(payload(77, b.subarray(3)), 2);
  assert.deepEqual(got, [a, b]);
  // an IPv4 runt of 2 bytes
  const c = ipv4(50, 3);
  rx.input(payload(0, c.subarray(0, 2)), 3);
  rx.input(payload(48, c.subarray(2, 20)), 4);
  rx.input(payload(30, c.subarray(20)), 5);
  assert.deepEqual(got, [a, b, c]);
});

test('receiver: pad blocks end a payload; an all-pad payload keeps a reassembly waiting', () => {
  const { rx, got } = receiver({ reorderWindow: 0 });
  const a = ipv4(100, 1);
  rx.input(payload(0, ipv4(20, 9), new Uint8Array(15)), 1); // packet then pad
  rx.input(payload(0, a.subarray(0, 40)), 2);
  rx.input(payload(0, new Uint8Array(30)), 3); // all pad
  rx.input(payload(60, a.subarray(40)), 4);
  assert.equal(got.length, 2);
  assert.deepEqual(got[1], a);
  assert.equal(rx.counters.XfrmInIptfsError, 0);
});

test('receiver: non-zero flags and unknown subtypes are XfrmInHdrError; the CC header is parsed and skipped', () => {
  const { rx, got } = receiver({ reorderWindow: 0 });
  const bad = payload(0, ipv4(20, 1));
  bad[1] = 0x80;
  rx.input(bad, 1);
  const sub = payload(0, ipv4(20, 2));
  sub[0] = 2;
  rx.input(sub, 2);
  assert.equal(rx.counters.XfrmInHdrError, 2);
  const cc = new Uint8Array(24 + 20);
  writeCcHeader(cc, 0, { flags: 0, blockOffset: 0, lossEventRate: 5, rtt: 100, delay: 10, xmitDelay: 3, tval: 42, techo: 41 });
  cc.set(ipv4(20, 3), 24);
  rx.input(cc, 3);
  assert.equal(got.length, 1);
  assert.equal(rx.lastCc?.tval, 42);
  assert.equal(rx.lastCc?.rtt, 100);
});

test('receiver: a missing continuation abandons the reassembly (XfrmInIptfsError) and later packets still arrive', () => {
  const { rx, got } = receiver({ reorderWindow: 0 });
  const a = ipv4(300, 1);
  const b = ipv4(40, 2);
  rx.input(payload(0, a.subarray(0, 100)), 1);
  // seq 2 lost
  rx.input(payload(100, a.subarray(200), b), 3);
  assert.deepEqual(got, [b]);
  assert.equal(rx.counters.XfrmInIptfsError, 1);
  assert.equal(rx.totals.reassemblyAbandoned, 1);
  assert.equal(rx.totals.payloadsLost, 1);
});

test('receiver: the reorder window restores order; a gap is given up after drop-time', () => {
  const { rx, got, sched } = receiver({ reorderWindow: 3, dropTimeUs: 10_000 });
  const p = [0, 1, 2, 3, 4, 5].map((i) => ipv4(20 + i, i));
  rx.input(payload(0, p[0]!), 10);
  rx.input(payload(0, p[2]!), 12);
  rx.input(payload(0, p[1]!), 11);
  assert.deepEqual(got, [p[0], p[1], p[2]]);
  rx.input(payload(0, p[4]!), 14); // 13 lost
  sched.advance(9.999);
  assert.equal(got.length, 3, 'held until drop-time');
  sched.advance(0.001);
  assert.deepEqual(got, [p[0], p[1], p[2], p[4]]);
  rx.input(payload(0, p[3]!), 13); // too late: older than the window
  assert.equal(rx.totals.tooOld, 1);
  assert.equal(got.length, 4);
});

test('receiver: a payload beyond the window gives up the oldest gap at once', () => {
  const { rx, got } = receiver({ reorderWindow: 2 });
  const p = [0, 1, 2, 3, 4].map((i) => ipv4(20 + i, i));
  rx.input(payload(0, p[0]!), 1);
  rx.input(payload(0, p[2]!), 3);
  rx.input(payload(0, p[3]!), 4); // 4 - 2 = 2 fits
  assert.deepEqual(got, [p[0]]);
  rx.input(payload(0, p[4]!), 5); // 5 - 2 = 3 > 2: seq 2 is given up
  assert.deepEqual(got, [p[0], p[2], p[3], p[4]]);
  assert.equal(rx.totals.payloadsLost, 1);
});

test('receiver: a reassembly times out after drop-time (SKB_DROP_REASON_FRAG_REASM_TIMEOUT)', () => {
  const { rx, got, sched } = receiver({ reorderWindow: 0, dropTimeUs: 5000 });
  rx.input(payload(0, ipv4(100, 1).subarray(0, 50)), 1);
  assert.deepEqual(rx.waiting, { payloads: 0, reassembling: true });
  sched.advance(5);
  assert.deepEqual(rx.waiting, { payloads: 0, reassembling: false });
  assert.equal(rx.totals.reassemblyTimeouts, 1);
  assert.equal(got.length, 0);
});

test('receiver: outer CE is copied onto ECT inner packets unless noecn', () => {
  const { rx, got } = receiver({ reorderWindow: 0 });
  rx.input(payload(0, ipv4(20, 1, 0x01), ipv4(20, 2, 0x00)), 1, 0x03);
  assert.equal(got[0]![1]! & 3, 3);
  assert.equal(internetChecksum(got[0]!, 0, 20), 0);
  assert.equal(got[1]![1]! & 3, 0);
});

test('through nfx ESP both ways: iptfsEspOutput → iptfsEspInput → receiver; other next headers are XfrmInStateModeError', async () => {
  const { Packet } = await import('../src/packet/packet.js');
  const { espOutput } = await import('../src/xfrm/esp/index.js');
  const { iptfsEspInput, iptfsEspOutput } = await import('../src/xfrm/esp/iptfs/index.js');
  const key = new Uint8Array(20).fill(3);
  const cfg = { spi: 7, saddr: '2001:db8::1', daddr: '2001:db8::2', mode: 'tunnel' as const, aead: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 }, replayWindow: 32 };
  const out = createEspSa(cfg);
  const inn = createEspSa(cfg);
  const sched = new VirtualScheduler();
  const got: Uint8Array[] = [];
  const rx = new IptfsReceiver({ options: defaultIptfsOptions(), scheduler: sched, deliver: (p) => got.push(p) });
  const wire: InstanceType<typeof Packet>[] = [];
  const opts = { ...defaultIptfsOptions(), pktSize: 600 };
  const tx = new IptfsSender({ options: opts, scheduler: sched, mtu: iptfsPayloadMtu(iptfsOverhead(out), opts), output: (p) => {
    assert.equal(iptfsEspOutput(out, p).ok, true);
    wire.push(p);
  } });
  const sent = [ipv4(1000, 1), ipv6(100, 2), ipv4(20, 3), ipv6(1500, 4)];
  for (const p of sent) tx.enqueue(p.slice());
  sched.runDue();
  assert.ok(wire.every((p) => p.length <= 600 + 2 + 3 + 16), 'outer size is pkt-size plus the ESP trailer, as Linux');
  // Deliver the outer packets swapped pairwise after the first (the window starts at the
  // first sequence number it sees, as Linux's w_seq_set): the reorder window puts them back.
  for (let i = 1; i + 1 < wire.length; i += 2) [wire[i], wire[i + 1]] = [wire[i + 1]!, wire[i]!];
  for (const p of wire) {
    const r = iptfsEspInput(inn, p);
    assert.ok(r.ok);
    if (r.ok) rx.input(r.payload, r.seq, r.outerTos);
  }
  sched.advance(1000);
  assert.deepEqual(got, sent);
  const plain = Packet.from(ipv4(40, 9));
  assert.equal(espOutput(out, plain).ok, true);
  const r = iptfsEspInput(inn, plain);
  assert.ok(!r.ok && r.counter === 'XfrmInStateModeError');
});

test('receiver robustness: arbitrary payloads and sequence numbers never throw; what it delivers has a consistent length field', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(
      fc.array(fc.record({ bytes: fc.uint8Array({ maxLength: 120 }), seq: fc.integer({ min: 1, max: 40 }), wait: fc.integer({ min: 0, max: 2000 }) }), { maxLength: 40 }),
      fc.integer({ min: 0, max: 4 }),
      (inputs, window) => {
        const { rx, got, sched } = receiver({ reorderWindow: window, dropTimeUs: 1_000_000 });
        for (const x of inputs) {
          const b = x.bytes.slice();
          if (b.length >= 2 && b[0]! < 2) b[1] = 0; // often a valid header, so the body is parsed
          rx.input(b, x.seq);
          sched.advance(x.wait);
        }
        sched.advance(1000);
        for (const p of got) {
          const len = p[0]! >> 4 === 4 ? (p[2]! << 8) | p[3]! : ((p[4]! << 8) | p[5]!) + 40;
          assert.equal(p.length, len);
        }
        assert.equal(rx.waiting.payloads, 0);
      },
    ),
    { numRuns: 500 },
  );
});
