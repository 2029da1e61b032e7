/**
 * Two nfx gateways joined by an IP-TFS tunnel (RFC 9347, `mode iptfs`),
 * configured only with host commands (ip link/addr/route/neigh, sysctl,
 * ip xfrm state/policy):
 *
 *   LAN A 10.0.1.0/24 — lan0 [A] wan0 192.0.2.1 ==== IP-TFS ==== 192.0.2.2 wan0 [B] lan0 — LAN B 10.0.2.0/24
 *
 * Traffic from LAN A goes through A, whose IP-TFS SA queues it and sends
 * aggregated AGGFRAG payloads when init-delay runs out; the outer packets
 * are carried to B (in order, reordered within B's window, or with losses);
 * B forwards the inner packets to LAN B. The test checks aggregation
 * (outer packet count, efficiency printed), that every inner packet whose
 * bytes all arrived is delivered once, unchanged, in order, and that the
 * losses are counted.
 *
 * Which inner packets are complete is worked out here from the outer
 * packets alone: an IP-TFS sender's payloads carry the inner packets as one
 * contiguous byte stream (Linux never pads), so payload k holds stream bytes
 * [start_k, start_k + len_k) and inner packet i is complete when every
 * payload overlapping its bytes arrived.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { newHost } from '../src/host/model.js';
import { builtinHandlers, runScript } from '../src/host/script.js';
import type { Host } from '../src/host/types.js';
import { openPath } from '../src/host/path/state.js';
import type { HostPath } from '../src/host/path/walk.js';
import type { PacketOutcome } from '../src/host/path/types.js';
import { iptfsStateOf } from '../src/host/path/xfrm-iptfs.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Packet } from '../src/packet/packet.js';
import { espSaConfigFromXfrm, XFRM_MODE_TUNNEL } from '../src/xfrm/index.js';
import type { Xfrm, XfrmSA } from '../src/xfrm/index.js';
import { createEspSa } from '../src/xfrm/esp/index.js';
import { iptfsEspInput } from '../src/xfrm/esp/iptfs/index.js';

const KEY_AB = '0x' + 'ab'.repeat(20), KEY_BA = '0x' + 'ba'.repeat(20);
const MAC_A = '02:00:00:00:0a:02', MAC_B = '02:00:00:00:0b:02';

function gatewayScript(me: 'A' | 'B', o: { initDelayUs: number; pktSize: number; reorderWindow: number; dropTimeUs: number; encap?: boolean; outExt?: string }): string {
  const encap = o.encap ? ' encap espinudp 4500 4500 0.0.0.0' : '';
  const [myLan, peerLan, myWan, peerWan, myMac, peerMac, outKey, inKey, outSpi, inSpi] = me === 'A'
    ? ['10.0.1', '10.0.2', '192.0.2.1', '192.0.2.2', MAC_A, MAC_B, KEY_AB, KEY_BA, '0x1000', '0x2000']
    : ['10.0.2', '10.0.1', '192.0.2.2', '192.0.2.1', MAC_B, MAC_A, KEY_BA, KEY_AB, '0x2000', '0x1000'];
  return `
ip link set lo up
ip link add lan0 address 02:00:00:00:${me === 'A' ? '1a' : '1b'}:01 type ether
ip link add wan0 address ${myMac} type ether
ip link set lan0 up
ip link set wan0 up
ip addr add ${myLan}.1/24 brd + dev lan0
ip addr add ${myWan}/24 brd + dev wan0
ip route add ${peerLan}.0/24 via ${peerWan} dev wan0
ip neigh add ${peerWan} lladdr ${peerMac} dev wan0 nud permanent
ip neigh add ${myLan}.5 lladdr 02:00:00:00:99:05 dev lan0 nud permanent
sysctl -w net.ipv4.ip_forward=1
ip xfrm state add src ${myWan} dst ${peerWan} proto esp spi ${outSpi} reqid 1 mode iptfs aead 'rfc4106(gcm(aes))' ${outKey} 128${encap} dir out iptfs-opts init-delay ${o.initDelayUs} pkt-size ${o.pktSize}${o.outExt ? ` ${o.outExt}` : ''}
ip xfrm state add src ${peerWan} dst ${myWan} proto esp spi ${inSpi} reqid 2 mode iptfs aead 'rfc4106(gcm(aes))' ${inKey} 128${encap} dir in replay-window 64 iptfs-opts reorder-window ${o.reorderWindow} drop-time ${o.dropTimeUs}
ip xfrm policy add src ${myLan}.0/24 dst ${peerLan}.0/24 dir out tmpl src ${myWan} dst ${peerWan} proto esp reqid 1 mode iptfs
ip xfrm policy add src ${peerLan}.0/24 dst ${myLan}.0/24 dir in tmpl src ${peerWan} dst ${myWan} proto esp reqid 2 mode iptfs
ip xfrm policy add src ${peerLan}.0/24 dst ${myLan}.0/24 dir fwd tmpl src ${peerWan} dst ${myWan} proto esp reqid 2 mode iptfs
`;
}

async function gateway(me: 'A' | 'B', o: Parameters<typeof gatewayScript>[1]): Promise<{ host: Host; path: HostPath }> {
  const host = newHost(`gw${me}`);
  let err = '';
  const r = await runScript(host, gatewayScript(me, o), {
    file: `gw${me}.nfx`, handlers: builtinHandlers(), io: { out: () => {}, err: (t) => { err += t; } }, readFile: () => '',
  });
  assert.equal(r.status, 0, err);
  return { host, path: openPath(host) };
}

function saBySpi(path: HostPath, spi: number): XfrmSA {
  return (path.xfrmState as Xfrm).sad.states.find((s) => s.spi === spi)!;
}

/** Inner packet i: UDP from LAN A to LAN B, its index in the payload, `size` IP bytes. */
function innerPacket(i: number, size: number): Uint8Array {
  const pad = 'x'.repeat(Math.max(0, size - 28 - 4));
  const idx = `\\x${(i >> 8).toString(16).padStart(2, '0')}\\x${(i & 0xff).toString(16).padStart(2, '0')}`;
  return packetFromExpression(`IP(src="10.0.1.5",dst="10.0.2.9",ttl=64,id=${i})/UDP(sport=4000,dport=5000)/Raw(load=b"#${idx}!${pad}")`, { link: 'raw' });
}

interface Frame { frame: Uint8Array; dev: string }

/**
 * The frames on the wire in the order they left: what each receive() reported,
 * then what each advance()/drain() added to the outcomes it returns.
 */
class Wire {
  readonly frames: Frame[] = [];
  private readonly seen = new Map<PacketOutcome, number>();
  take(outcomes: PacketOutcome[]): void {
    for (const o of outcomes) {
      const n = this.seen.get(o) ?? 0;
      for (const e of o.emitted.slice(n)) this.frames.push({ frame: e.frame, dev: e.dev });
      this.seen.set(o, o.emitted.length);
    }
  }
  on(dev: string): Uint8Array[] { return this.frames.filter((f) => f.dev === dev).map((f) => f.frame); }
}

/** The IP packet of an Ethernet frame. */
function l3Of(frame: Uint8Array): Uint8Array { return frame.subarray(14); }

interface Payload { seq: number; dataLen: number; blockOffset: number }

interface Run {
  inner: Uint8Array[];
  outer: Uint8Array[];
  /** The ESP sequence number and AGGFRAG data length of each outer packet, by test-side decryption. */
  payloads: Payload[];
  delivered: Uint8Array[];
  fatesA: Map<string, number>;
  b: HostPath;
  bSa: XfrmSA;
}

/**
 * Sends `sizes` from LAN A (bursts of `burst` packets at the same instant,
 * bursts 0.2 ms apart), carries A's outer packets to B in `order` (indexes
 * into the outer packets; missing ones are lost), 0.1 ms apart, and returns
 * what LAN B received.
 */
async function runTunnel(sizes: number[], o: { burst: number; order?: (payloads: Payload[]) => number[]; initDelayUs?: number; reorderWindow?: number; encap?: boolean }): Promise<Run> {
  const cfg = { initDelayUs: o.initDelayUs ?? 1000, pktSize: 1400, reorderWindow: o.reorderWindow ?? 5, dropTimeUs: 100_000, encap: o.encap ?? false };
  const A = await gateway('A', cfg);
  const B = await gateway('B', cfg);
  const inner = sizes.map((s, i) => innerPacket(i, s));
  const outcomesA: PacketOutcome[] = [];
  const wireA = new Wire();
  let t = 1000;
  for (let i = 0; i < inner.length; i++) {
    if (i % o.burst === 0) { t += 0.2; wireA.take(A.path.advance(t)); }
    const out = A.path.receive('lan0', inner[i]!.slice(), true);
    outcomesA.push(out);
    wireA.take([out]);
  }
  wireA.take(A.path.drain());
  const fatesA = new Map<string, number>();
  for (const out of outcomesA) fatesA.set(out.fate, (fatesA.get(out.fate) ?? 0) + 1);
  const outer = wireA.on('wan0');
  // The test's own view of the payloads: decrypt copies with B's inbound keys.
  const bSa = saBySpi(B.path, 0x1000);
  const peek = createEspSa(espSaConfigFromXfrm({ ...bSa, mode: XFRM_MODE_TUNNEL, replayEsn: null, replayWindow: 0 }));
  const payloads = outer.map((f) => {
    const r = iptfsEspInput(peek, Packet.from(l3Of(f).slice()));
    assert.ok(r.ok, 'outer packets decrypt with the peer SA');
    return { seq: r.seq, dataLen: r.payload.length - 4, blockOffset: (r.payload[2]! << 8) | r.payload[3]! };
  });
  const order = o.order ? o.order(payloads) : outer.map((_, i) => i);
  const wireB = new Wire();
  let tb = 2000;
  for (const k of order) {
    tb += 0.1;
    wireB.take(B.path.advance(tb));
    wireB.take([B.path.receive('wan0', outer[k]!.slice())]);
  }
  wireB.take(B.path.drain());
  const delivered = wireB.on('lan0').map((f) => l3Of(f).slice());
  return { inner, outer, payloads, delivered, fatesA, b: B.path, bSa };
}

/**
 * Indexes of inner packets whose bytes all arrived, from the stream ranges of
 * the payloads that arrived; and how many incomplete ones had their start arrive.
 */
function completeSet(r: Run, arrived: Set<number>): { complete: number[]; startedOnly: number } {
  // Payloads in sequence order cover the stream contiguously.
  const byseq = r.payloads.map((p, k) => ({ ...p, k })).sort((a, b) => a.seq - b.seq);
  const ranges: { start: number; end: number; k: number }[] = [];
  let off = 0;
  for (const p of byseq) { ranges.push({ start: off, end: off + p.dataLen, k: p.k }); off += p.dataLen; }
  const total = r.inner.reduce((n, p) => n + p.length, 0);
  assert.equal(off, total, 'the payloads carry exactly the inner bytes, no pad');
  const ok: number[] = [];
  let s = 0, startedOnly = 0;
  r.inner.forEach((p, i) => {
    const a = s, b = s + p.length;
    s = b;
    if (ranges.every((g) => g.end <= a || g.start >= b || arrived.has(g.k))) ok.push(i);
    else if (arrived.has(ranges.find((g) => g.start <= a && a < g.end)!.k)) startedOnly++;
  });
  return { complete: ok, startedOnly };
}

/** What LAN B sees of inner packet i: A and B each decrement the TTL (the checksum follows). */
function afterTwoHops(p: Uint8Array): Uint8Array {
  const q = p.slice();
  q[8] = q[8]! - 2;
  let sum = ((q[10]! << 8) | q[11]!) + 0x0200;
  sum = (sum & 0xffff) + (sum >>> 16);
  q[10] = sum >> 8; q[11] = sum & 0xff;
  return q;
}

function indexOf(p: Uint8Array): number {
  // IP(20) + UDP(8) + '#' then two index bytes.
  return (p[29]! << 8) | p[30]!;
}

function efficiency(r: Run): { inner: number; outer: number; eff: number } {
  const ib = r.inner.reduce((n, p) => n + p.length, 0);
  const ob = r.outer.reduce((n, f) => n + f.length - 14, 0);
  return { inner: ib, outer: ob, eff: ib / ob };
}

function assertDelivered(r: Run, expected: number[]): void {
  const got = r.delivered.map(indexOf);
  assert.deepEqual(got, expected, 'complete inner packets arrive once each, in order');
  for (const p of r.delivered) assert.deepEqual(p, afterTwoHops(r.inner[indexOf(p)]!), `inner packet ${indexOf(p)} arrives unchanged (but for the two TTL decrements)`);
}

test('IP-TFS gateways: 64-byte packets are aggregated and all delivered in order', async (t) => {
  const sizes = Array.from({ length: 200 }, () => 64);
  const r = await runTunnel(sizes, { burst: 50 });
  const e = efficiency(r);
  t.diagnostic(`64-byte inner packets: ${r.inner.length} inner → ${r.outer.length} outer packets, efficiency ${e.eff.toFixed(3)} (${e.inner}/${e.outer} bytes)`);
  assert.equal(r.fatesA.get('forwarded'), 200, 'every inner packet left A (its fate changes from queued to forwarded when its payload leaves)');
  // The bursts come 0.2 ms apart, within one init-delay (1 ms): one flush of 200 packets,
  // 21 whole 64-byte packets per 1360-byte payload (pkt-size 1400 − 40 bytes of headers).
  assert.equal(r.outer.length, Math.ceil(200 / 21));
  assert.ok(e.eff > 0.9, `efficiency ${e.eff}`);
  assertDelivered(r, sizes.map((_, i) => i));
  const rx = iptfsStateOf(r.b, r.bSa).receiver!;
  assert.equal(rx.totals.payloadsLost, 0);
  assert.equal(rx.totals.delivered, 200);
});

test('IP-TFS gateways: IMIX with large packets fragmented across payloads, reordered within the window', async (t) => {
  const imix = [40, 576, 1500, 40, 576, 40, 40, 576, 40, 40, 576, 40];
  const sizes = Array.from({ length: 96 }, (_, i) => Math.max(40, imix[i % imix.length]!));
  // Swap neighbours and move every fifth packet two places later: all within a window of 5.
  // The first one comes first: the window starts at the first sequence number seen (Linux's w_seq_set).
  const order = (ps: Payload[]): number[] => {
    const n = ps.length;
    const o = Array.from({ length: n }, (_, i) => i);
    for (let i = 1; i + 1 < n; i += 2) [o[i], o[i + 1]] = [o[i + 1]!, o[i]!];
    for (let i = 4; i + 2 < n; i += 5) { const [x] = o.splice(i, 1); o.splice(i + 2, 0, x!); }
    return o;
  };
  const r = await runTunnel(sizes, { burst: 12, order });
  const e = efficiency(r);
  t.diagnostic(`IMIX: ${r.inner.length} inner → ${r.outer.length} outer packets, efficiency ${e.eff.toFixed(3)}`);
  assert.ok(r.outer.length < r.inner.length);
  assertDelivered(r, sizes.map((_, i) => i));
  const rx = iptfsStateOf(r.b, r.bSa).receiver!;
  assert.equal(rx.counters.XfrmInIptfsError, 0);
  assert.equal(rx.totals.payloadsLost, 0);
});

test('IP-TFS gateways: lost outer packets lose exactly the inner packets with bytes in them, and are counted', async (t) => {
  const imix = [40, 576, 1500, 40, 1400, 1500, 40, 576]; // ≤ the LAN MTU: B forwards them unfragmented
  const sizes = Array.from({ length: 80 }, (_, i) => imix[(i * 7) % imix.length]!);
  const lost = new Set<number>();
  const order = (ps: Payload[]): number[] => {
    const n = ps.length;
    for (const k of [3, 7, 8, 15, Math.floor(n / 2)]) if (k < n - 2) lost.add(k);
    // And two payloads that continue a packet started in the one before (a fragment lost mid-packet).
    const cont = ps.map((p, k) => k).filter((k) => k > 20 && k < n - 2 && ps[k]!.blockOffset > 0 && !lost.has(k - 1));
    for (const k of cont.slice(0, 2)) lost.add(k);
    const o = Array.from({ length: n }, (_, i) => i).filter((k) => !lost.has(k));
    for (let i = 1; i + 1 < o.length; i += 3) [o[i], o[i + 1]] = [o[i + 1]!, o[i]!];
    return o;
  };
  const r = await runTunnel(sizes, { burst: 8, order });
  const arrived = new Set(r.outer.map((_, k) => k).filter((k) => !lost.has(k)));
  const { complete: expected, startedOnly } = completeSet(r, arrived);
  t.diagnostic(`${r.outer.length} outer packets, ${lost.size} lost: ${expected.length} of ${r.inner.length} inner packets complete, ${startedOnly} started but not complete`);
  assert.ok(startedOnly > 0, "the losses cut some packets after their start");
  assert.ok(expected.length < r.inner.length && expected.length > r.inner.length / 2);
  assertDelivered(r, expected);
  const rx = iptfsStateOf(r.b, r.bSa).receiver!;
  assert.equal(rx.totals.payloadsLost, lost.size, 'every lost payload is counted once');
  // Packets whose start arrived but not the rest: abandoned reassemblies (XfrmInIptfsError).
  assert.equal(rx.totals.reassemblyAbandoned + rx.totals.reassemblyTimeouts, startedOnly);
  assert.equal(rx.totals.delivered, expected.length);
  assert.equal(rx.waiting.payloads, 0, 'nothing is held after drop-time');
});

test('IP-TFS gateways: init-delay 0 sends a burst given at one instant as one aggregate', async () => {
  const r = await runTunnel(Array.from({ length: 10 }, () => 100), { burst: 10, initDelayUs: 0 });
  assert.equal(r.outer.length, 1);
  assertDelivered(r, Array.from({ length: 10 }, (_, i) => i));
});

test('IP-TFS gateways: why-style detail says the packet was queued, and the payload it left in', async () => {
  const cfg = { initDelayUs: 500, pktSize: 0, reorderWindow: 3, dropTimeUs: 1_000_000 };
  const A = await gateway('A', cfg);
  A.path.advance(5000);
  const o1 = A.path.receive('lan0', innerPacket(0, 100), true);
  const o2 = A.path.receive('lan0', innerPacket(1, 100), true);
  assert.equal(o1.fate, 'queued');
  assert.ok(o1.steps.some((s) => /queued by IP-TFS SA 0x00001000 reqid 1: 1 packets/.test(s.text)), o1.steps.map((s) => s.text).join('\n'));
  assert.equal(o1.emitted.length, 0);
  const changed = A.path.advance(5000.4);
  assert.equal(changed.length, 0, 'init-delay 500 µs has not run out');
  const changed2 = A.path.advance(5001);
  assert.deepEqual(changed2, [o1, o2]);
  assert.equal(o1.fate, 'forwarded');
  assert.equal(o2.fate, 'forwarded');
  assert.equal(o1.emitted.length, 1, 'the outer packet is reported with the first inner packet it carries');
  assert.ok(o1.steps.some((s) => /encrypted by SA 0x00001000 reqid 1 \(iptfs mode\), AGGFRAG payload seq 1: 2 inner packets aggregated/.test(s.text)));
  assert.equal(A.path.clock.nowMs(), 5001);
});

test('IP-TFS gateways: a payload held behind a lost one waits (fate queued) until drop-time, then goes to the LAN', async () => {
  const cfg = { initDelayUs: 1000, pktSize: 200, reorderWindow: 3, dropTimeUs: 100_000 };
  const A = await gateway('A', cfg);
  const B = await gateway('B', cfg);
  A.path.advance(1000);
  // pkt-size 200: 160 data bytes per payload, one 100-byte packet each.
  const sent = [0, 1, 2].map((i) => A.path.receive('lan0', innerPacket(i, 100), true));
  A.path.drain();
  const outer = sent.flatMap((o) => o.emitted).map((e) => e.frame);
  assert.equal(outer.length, 3);
  B.path.advance(2000);
  const first = B.path.receive('wan0', outer[0]!);
  assert.equal(first.fate, 'forwarded');
  const held = B.path.receive('wan0', outer[2]!);
  assert.equal(held.fate, 'queued', 'payload 3 waits for payload 2 in the reorder window');
  assert.ok(held.steps.some((s) => /IP-TFS: held \(1 payloads wait in the reorder window of 3/.test(s.text)), held.steps.map((s) => s.text).join('\n'));
  assert.deepEqual(B.path.advance(2099), [], 'drop-time (100 ms) has not run out');
  const changed = B.path.advance(2101);
  assert.deepEqual(changed, [held]);
  assert.equal(held.fate, 'forwarded');
  assert.equal(held.emitted.length, 1);
  assert.equal(held.emitted[0]!.dev, 'lan0');
  assert.equal(indexOf(l3Of(held.emitted[0]!.frame)), 2);
  const rx = iptfsStateOf(B.path, saBySpi(B.path, 0x1000)).receiver!;
  assert.equal(rx.totals.payloadsLost, 1);
});

test('IP-TFS gateways (property): any sizes, any reordering within the window, any loss: LAN B gets exactly the complete packets, in order', async () => {
  const W = 5;
  await fc.assert(fc.asyncProperty(
    fc.array(fc.integer({ min: 28, max: 1500 }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 1, max: 20 }),
    fc.array(fc.integer({ min: 0, max: W - 1 }), { minLength: 128, maxLength: 128 }),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 128, maxLength: 128 }),
    fc.double({ min: 0, max: 0.3, noNaN: true }),
    async (sizes, burst, shifts, dice, lossRate) => {
      let lost = new Set<number>();
      const order = (ps: Payload[]): number[] => {
        // Each payload is delayed by less than the window; the first one arrives first (w_seq_set).
        const key = ps.map((_, k) => (k === 0 ? 0 : k + shifts[k % 128]!));
        lost = new Set(ps.map((_, k) => k).filter((k) => k > 0 && dice[k % 128]! < lossRate));
        return ps.map((_, k) => k).sort((a, b) => key[a]! - key[b]! || a - b).filter((k) => !lost.has(k));
      };
      const r = await runTunnel(sizes, { burst, order, reorderWindow: W });
      const arrived = new Set(r.outer.map((_, k) => k).filter((k) => !lost.has(k)));
      const { complete } = completeSet(r, arrived);
      assertDelivered(r, complete);
      const rx = iptfsStateOf(r.b, r.bSa).receiver!;
      assert.equal(rx.waiting.payloads, 0);
      assert.equal(rx.waiting.reassembling, false, 'nothing waits after drain');
    },
  ), { numRuns: Number(process.env["IPTFS_RUNS"] ?? 15) });
});

test('IP-TFS gateways: the same over UDP encapsulation (espinudp 4500)', async () => {
  const sizes = Array.from({ length: 40 }, (_, i) => [64, 700, 1500][i % 3]!);
  const r = await runTunnel(sizes, { burst: 10, encap: true });
  // Outer IPv4 + UDP to port 4500, then the ESP header.
  for (const f of r.outer) {
    const ip = l3Of(f);
    assert.equal(ip[9], 17);
    assert.equal((ip[22]! << 8) | ip[23]!, 4500);
  }
  assertDelivered(r, sizes.map((_, i) => i));
});

/** Inner packet i from LAN B to LAN A. */
function innerBA(i: number, size: number): Uint8Array {
  const pad = 'y'.repeat(Math.max(0, size - 28 - 4));
  return packetFromExpression(`IP(src="10.0.2.9",dst="10.0.1.5",ttl=64,id=${i})/UDP(sport=5000,dport=4000)/Raw(load=b"#\\x00\\x00!${pad}")`, { link: 'raw' });
}

/**
 * Two gateways joined by a simulated wire: `oneWayMs` of delay each way, A→B
 * frames dropped when `lose(n)` says so for the n-th. Steps both hosts' clocks
 * 1 ms at a time for `ms`, carrying each wan0 frame to the other side.
 */
function wire(A: HostPath, B: HostPath, oneWayMs: number) {
  const inFlight: { at: number; to: HostPath; frame: Uint8Array }[] = [];
  const wa = new Wire(), wb = new Wire();
  let sentAB = 0, now = A.clock.nowMs();
  const w = {
    lose: (_n: number) => false,
    lanA: 0, lanB: 0, framesAB: [] as Uint8Array[],
    take(from: HostPath, outs: PacketOutcome[]): void {
      const wr = from === A ? wa : wb;
      const before = wr.frames.length;
      wr.take(outs);
      for (const f of wr.frames.slice(before)) {
        if (f.dev === 'lan0') { if (from === A) w.lanA++; else w.lanB++; continue; }
        if (from === A) { w.framesAB.push(f.frame); if (w.lose(++sentAB)) continue; }
        inFlight.push({ at: now + oneWayMs, to: from === A ? B : A, frame: f.frame });
      }
    },
    run(ms: number): void {
      for (let k = 0; k < ms; k++) {
        now += 1;
        w.take(A, A.advance(now));
        w.take(B, B.advance(now));
        for (let i = 0; i < inFlight.length;) {
          const f = inFlight[i]!;
          if (f.at <= now) { inFlight.splice(i, 1); w.take(f.to, [f.to.receive('wan0', f.frame)]); } else i++;
        }
      }
    },
  };
  return w;
}

test('nfx-rate (nfx extension): constant-size outer packets at a constant rate, all-pad when idle; drain stops when nothing waits', async () => {
  const cfg = { initDelayUs: 0, pktSize: 300, reorderWindow: 3, dropTimeUs: 100_000, outExt: 'nfx-rate 31800' };
  const A = await gateway('A', cfg);
  const B = await gateway('B', { ...cfg, outExt: '' });
  A.path.advance(1000);
  B.path.advance(1000);
  const w = wire(A.path, B.path, 10);
  const first = A.path.receive('lan0', innerPacket(0, 600), true);
  assert.equal(first.fate, 'queued');
  w.take(A.path, [first]);
  w.run(200);
  // pkt-size 300: 260 data bytes per payload, s = 318 bytes: 31800 B/s is one every 10 ms from the
  // first packet on (t = 1010 … 1190; the one due at 1200, now, fires at the next advance).
  assert.equal(w.framesAB.length, 19);
  assert.equal(new Set(w.framesAB.map((f) => f.length)).size, 1, 'every outer packet has the same size');
  assert.equal(w.lanB, 1, 'the 600-byte packet arrived whole, in 3 payloads');
  assert.equal(first.fate, 'forwarded');
  const sender = iptfsStateOf(A.path, saBySpi(A.path, 0x1000)).sender!;
  assert.ok(sender.idle);
  assert.deepEqual(A.path.drain(), [], 'nothing waits: drain returns at once');
});

test('nfx-cc (nfx extension): over two gateways, TVal/TEcho give the RTT and loss on the wire lowers the sending rate', async (t) => {
  const cfg = { initDelayUs: 0, pktSize: 300, reorderWindow: 3, dropTimeUs: 100_000, outExt: 'nfx-rate 63600 nfx-cc' };
  const A = await gateway('A', cfg);
  const B = await gateway('B', cfg);
  A.path.advance(1000);
  B.path.advance(1000);
  const w = wire(A.path, B.path, 20);
  // One packet each way starts both fixed-rate senders (and so the feedback both ways).
  w.take(A.path, [A.path.receive('lan0', innerPacket(0, 100), true)]);
  w.take(B.path, [B.path.receive('lan0', innerBA(0, 100), true)]);
  w.run(1500);
  const rate = iptfsStateOf(A.path, saBySpi(A.path, 0x1000)).rate!;
  assert.ok(rate.rttMs !== null && Math.abs(rate.rttMs - 40) < 3, `RTT ${rate.rttMs} ms over a 2 × 20 ms wire`);
  assert.equal(rate.rate, 63600, 'no loss: the highest rate');
  assert.equal(w.lanB, 1);
  assert.equal(w.lanA, 1);
  w.lose = (n) => n % 10 === 0;
  w.run(2500);
  t.diagnostic(`A→B with 10% loss: ${(rate.rate / 318).toFixed(0)} payloads/s (max 200), p ${rate.p.toFixed(3)}, RTT ${rate.rttMs!.toFixed(1)} ms`);
  assert.ok(rate.p > 0.05 && rate.p < 0.15, `B reports the loss event rate: ${rate.p}`);
  assert.ok(rate.rate < 63600 / 2, 'A slows down');
  const rx = iptfsStateOf(B.path, saBySpi(B.path, 0x1000)).receiver!;
  assert.ok(rx.totals.ccHeaders > 100, 'B reads the CC headers');
});
