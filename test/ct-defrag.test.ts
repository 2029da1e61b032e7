/**
 * Defragmentation before conntrack (nf_defrag_ipv4 / nf_defrag_ipv6):
 * fragments are held and the whole datagram comes out, in any order;
 * duplicates and overlaps are dropped; queues expire on the virtual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ConntrackTable, defragIn, conntrackIn, IP_CT_NEW } from '../src/netfilter/conntrack/index.js';
import { defragMaxSize } from '../src/netfilter/conntrack/defrag.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { internetChecksum } from '../src/packet/checksum.js';
import { checksumProblems } from '../src/netfilter/conntrack/testing.js';

const PAYLOAD = 'x'.repeat(1000);

/** Splits an IPv4 datagram into fragments carrying `size` payload bytes each (a multiple of 8). */
function fragment4(bytes: Uint8Array, size: number): Packet[] {
  const ihl = (bytes[0]! & 15) * 4;
  const body = bytes.subarray(ihl);
  const out: Packet[] = [];
  for (let off = 0; off < body.length; off += size) {
    const chunk = body.subarray(off, Math.min(off + size, body.length));
    const f = new Uint8Array(ihl + chunk.length);
    f.set(bytes.subarray(0, ihl));
    f.set(chunk, ihl);
    f[2] = f.length >> 8; f[3] = f.length & 0xff;
    const more = off + size < body.length ? 0x2000 : 0;
    const w = more | (off / 8);
    f[6] = w >> 8; f[7] = w & 0xff;
    f[10] = 0; f[11] = 0;
    const c = internetChecksum(f, 0, ihl);
    f[10] = c >> 8; f[11] = c & 0xff;
    const p = Packet.from(f);
    p.networkHeader = p.head;
    out.push(p);
  }
  return out;
}

/** Splits an IPv6 datagram (no extension headers) with a fragment header. */
function fragment6(bytes: Uint8Array, size: number, id: number): Packet[] {
  const body = bytes.subarray(40);
  const out: Packet[] = [];
  for (let off = 0; off < body.length; off += size) {
    const chunk = body.subarray(off, Math.min(off + size, body.length));
    const f = new Uint8Array(48 + chunk.length);
    f.set(bytes.subarray(0, 40));
    f[6] = 44;
    const pl = 8 + chunk.length;
    f[4] = pl >> 8; f[5] = pl & 0xff;
    f[40] = bytes[6]!;
    const w = off | (off + size < body.length ? 1 : 0);
    f[42] = w >> 8; f[43] = w & 0xff;
    new DataView(f.buffer).setUint32(44, id);
    f.set(chunk, 48);
    const p = Packet.from(f);
    p.networkHeader = p.head;
    out.push(p);
  }
  return out;
}

function table() {
  const clock = new VirtualClock(0);
  return { t: new ConntrackTable(clock), clock };
}

test('IPv4 fragments are held and reassembled in any order; conntrack sees the whole datagram', () => {
  const { t } = table();
  const whole = packetFromExpression(`IP(src="10.0.0.2",dst="192.0.2.10",id=77)/UDP(sport=1,dport=2)/"${PAYLOAD}"`);
  const frags = fragment4(whole, 400);
  assert.equal(frags.length, 3);
  assert.equal(defragIn(t, frags[2]!, 2), 'queued');
  assert.equal(defragIn(t, frags[0]!, 2), 'queued');
  const r = defragIn(t, frags[1]!, 2);
  assert.ok(r instanceof Packet);
  assert.deepEqual([...r.data], [...whole]);
  assert.equal(checksumProblems(r), '');
  assert.equal(defragMaxSize(t, r), 420);
  assert.equal(conntrackIn(t, r, 2, 0).ctinfo, IP_CT_NEW);
});

test('a non-fragment passes untouched', () => {
  const { t } = table();
  const p = Packet.from(packetFromExpression('IP(src="10.0.0.2",dst="192.0.2.10")/UDP(sport=1,dport=2)'));
  p.networkHeader = p.head;
  assert.equal(defragIn(t, p, 2), p);
});

test('duplicates and overlapping fragments are dropped with the kernel reason', () => {
  const { t } = table();
  const whole = packetFromExpression(`IP(src="10.0.0.2",dst="192.0.2.10",id=78)/UDP(sport=1,dport=2)/"${PAYLOAD}"`);
  const frags = fragment4(whole, 400);
  assert.equal(defragIn(t, frags[0]!, 2), 'queued');
  assert.deepEqual(defragIn(t, frags[0]!.clone(), 2), { drop: 'SKB_DROP_REASON_DUP_FRAG' });
  const other = fragment4(whole, 200); // offset 200 overlaps the first 400-byte fragment
  assert.deepEqual(defragIn(t, other[1]!, 2), { drop: 'SKB_DROP_REASON_DUP_FRAG' });
  // The whole queue went with the overlap: the rest never completes.
  assert.equal(defragIn(t, frags[1]!, 2), 'queued');
  assert.equal(defragIn(t, frags[2]!, 2), 'queued');
});

test('an incomplete datagram expires after net.ipv4.ipfrag_time (30 s)', () => {
  const { t, clock } = table();
  const whole = packetFromExpression(`IP(src="10.0.0.2",dst="192.0.2.10",id=79)/UDP(sport=1,dport=2)/"${PAYLOAD}"`);
  const frags = fragment4(whole, 400);
  defragIn(t, frags[0]!, 2);
  defragIn(t, frags[1]!, 2);
  clock.advance(30_000);
  assert.equal(defragIn(t, frags[2]!, 2), 'queued');
});

test('IPv6 fragments are reassembled without the fragment header', () => {
  const { t } = table();
  const whole = packetFromExpression(`IPv6(src="2001:db8::2",dst="2001:db8:1::10")/UDP(sport=1,dport=2)/"${PAYLOAD}"`);
  const frags = fragment6(whole, 512, 0xabcd);
  assert.equal(defragIn(t, frags[1]!, 10), 'queued');
  const r = defragIn(t, frags[0]!, 10);
  assert.ok(r instanceof Packet);
  assert.deepEqual([...r.data], [...whole]);
  assert.equal(checksumProblems(r), '');
});
