/**
 * The per-packet shortcuts of conntrack and NAT give exactly what the plain
 * versions give: the typed-array tuple hash finds what a list searched in
 * insertion order finds, the one-pass checksum verification agrees with
 * recomputing the checksum, NAT's one-fold checksum patch writes the same
 * field as the kernel's field-by-field csum_replace chain, and the cached
 * sysctls follow reloadSysctls().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ConntrackTable, IP_CT_ESTABLISHED_REPLY, IP_CT_NEW, connOf } from '../src/netfilter/conntrack/index.js';
import { forward, ipPacket } from '../src/netfilter/conntrack/testing.js';
import { TupleHash } from '../src/netfilter/conntrack/tuple-hash.js';
import { newTuple, NF_NAT_MANIP_DST, NF_NAT_MANIP_SRC } from '../src/netfilter/conntrack/types.js';
import type { Tuple } from '../src/netfilter/conntrack/types.js';
import { manipPacket } from '../src/netfilter/nat/manip.js';
import { checksumReplace16 } from '../src/packet/checksum.js';
import { l4Checksum4, l4Checksum6, verifyL4Checksum4, verifyL4Checksum6 } from '../src/packet/wire/l4checksum.js';

// --- the tuple hash ---

interface Key { zone: number; family: 2 | 10; proto: number; t: Tuple }

/** A tuple from a small universe, so that equal tuples and shared buckets are common. */
const keyArb: fc.Arbitrary<Key> = fc.record({
  zone: fc.constantFrom(0, 1),
  family: fc.constantFrom(2 as const, 10 as const),
  proto: fc.constantFrom(6, 17),
  a: fc.nat(1), b: fc.nat(1), sp: fc.constantFrom(0, 65535), dp: fc.constant(443),
  junk: fc.nat(255),
}).map(({ zone, family, proto, a, b, sp, dp, junk }) => {
  const t = newTuple();
  t.src[0] = 10; t.src[3] = a; t.dst[0] = 192; t.dst[15] = b;
  t.srcPort = sp; t.dstPort = dp;
  // Bytes past an IPv4 address never count.
  if (family === 2) t.src[9] = junk;
  return { zone, family, proto, t };
});

function sameKey(x: Key, y: Key): boolean {
  if (x.zone !== y.zone || x.family !== y.family || x.proto !== y.proto || x.t.srcPort !== y.t.srcPort || x.t.dstPort !== y.t.dstPort) return false;
  const n = x.family === 2 ? 4 : 16;
  for (let i = 0; i < n; i++) if (x.t.src[i] !== y.t.src[i] || x.t.dst[i] !== y.t.dst[i]) return false;
  return true;
}

test('the tuple hash finds the earliest added entry with an equal tuple, across deletes and growth', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), e: fc.nat(300), k: keyArb }),
    fc.record({ kind: fc.constant('del' as const), e: fc.nat(300) }),
    fc.record({ kind: fc.constant('find' as const), k: keyArb }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
    const h = new TupleHash();
    const model: Array<{ e: number; k: Key }> = [];
    for (const o of ops) {
      if (o.kind === 'add') {
        h.add(o.e, o.k.zone, o.k.family, o.k.proto, o.k.t);
        // Adding an entry already in keeps its first tuple.
        if (!model.some((m) => m.e === o.e)) model.push({ e: o.e, k: o.k });
      } else if (o.kind === 'del') {
        h.del(o.e);
        const i = model.findIndex((m) => m.e === o.e);
        if (i >= 0) model.splice(i, 1);
      } else {
        const want = model.find((m) => sameKey(m.k, o.k))?.e ?? -1;
        assert.equal(h.find(o.k.zone, o.k.family, o.k.proto, o.k.t), want);
      }
    }
    for (const m of model) assert.equal(h.find(m.k.zone, m.k.family, m.k.proto, m.k.t), model.find((x) => sameKey(x.k, m.k))!.e);
  }), { numRuns: 200 });
});

test('removing a stale entry again leaves the entry that took over its slot in the hash', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  const a = ipPacket('IP(src="10.0.0.1",dst="10.0.0.2")/UDP(sport=1000,dport=53)');
  assert.equal(forward(t, a, 2).ctinfo, IP_CT_NEW);
  const old = connOf(t, a)!;
  t.remove(old);
  const b = ipPacket('IP(src="10.0.0.3",dst="10.0.0.4")/UDP(sport=2000,dport=53)');
  forward(t, b, 2);
  const now = connOf(t, b)!;
  assert.equal(now.slot, old.slot, 'the freed slot is reused');
  t.remove(old);
  const again = ipPacket('IP(src="10.0.0.3",dst="10.0.0.4")/UDP(sport=2000,dport=53)');
  forward(t, again, 2);
  assert.equal(connOf(t, again), now, 'still found under its tuple');
  const reply = ipPacket('IP(src="10.0.0.4",dst="10.0.0.3")/UDP(sport=53,dport=2000)');
  assert.equal(forward(t, reply, 2).ctinfo, IP_CT_ESTABLISHED_REPLY, 'and under its reply tuple');
});

test('a lookup reads ports, ICMP ids and IPv6 addresses from the packet as getTuple() does', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  const cases: Array<[string, string, 2 | 10]> = [
    ['IP(src="10.0.0.1",dst="10.0.0.2")/TCP(sport=1234,dport=80,flags="S",seq=1)', 'IP(src="10.0.0.2",dst="10.0.0.1")/TCP(sport=80,dport=1234,flags="SA",seq=9,ack=2)', 2],
    ['IP(src="10.0.0.1",dst="10.0.0.2")/ICMP(type=8,id=77,seq=1)', 'IP(src="10.0.0.2",dst="10.0.0.1")/ICMP(type=0,id=77,seq=1)', 2],
    ['IPv6(src="2001:db8::1",dst="2001:db8::2")/UDP(sport=5000,dport=53)', 'IPv6(src="2001:db8::2",dst="2001:db8::1")/UDP(sport=53,dport=5000)', 10],
    ['IPv6(src="2001:db8::1",dst="2001:db8::2")/ICMPv6EchoRequest(id=9,seq=1)', 'IPv6(src="2001:db8::2",dst="2001:db8::1")/ICMPv6EchoReply(id=9,seq=1)', 10],
    ['IP(src="10.0.0.1",dst="10.0.0.2")/GRE()', 'IP(src="10.0.0.2",dst="10.0.0.1")/GRE()', 2],
  ];
  for (const [req, rep, fam] of cases) {
    assert.equal(forward(t, ipPacket(req), fam).ctinfo, IP_CT_NEW, req);
    assert.equal(forward(t, ipPacket(rep), fam).ctinfo, IP_CT_ESTABLISHED_REPLY, rep);
  }
  // Another echo id is another connection.
  assert.equal(forward(t, ipPacket('IP(src="10.0.0.1",dst="10.0.0.2")/ICMP(type=8,id=78,seq=1)'), 2).ctinfo, IP_CT_NEW);
  // Too short for its ports: no tuple, invalid (as before the lookup).
  const cut = ipPacket('IP(src="10.0.0.1",dst="10.0.0.2",proto=17)/Raw(load="ab")');
  assert.equal(forward(t, cut, 2).reason.startsWith('nf_ct_udp'), true);
});

// --- sysctls ---

test('the per-packet sysctls are read once and re-read after reloadSysctls()', () => {
  const values: Record<string, number> = { 'net.netfilter.nf_conntrack_tcp_timeout_established': 100, 'net.netfilter.nf_conntrack_checksum': 0 };
  const t = new ConntrackTable(new VirtualClock(0), (k) => values[k]);
  assert.equal(t.knobs().tcpTimeoutMs[3], 100_000);
  assert.equal(t.knobs().checksum, false);
  assert.equal(t.knobs().udpTimeoutMs, 30_000, 'the kernel default');
  assert.equal(t.knobs().tcpTimeoutMs[9], t.knobs().tcpTimeoutMs[1], 'SYN_SENT2 uses the syn_sent timeout');
  values['net.netfilter.nf_conntrack_tcp_timeout_established'] = 7;
  assert.equal(t.knobs().tcpTimeoutMs[3], 100_000, 'cached until reloaded');
  t.reloadSysctls();
  assert.equal(t.knobs().tcpTimeoutMs[3], 7_000);
  assert.equal(t.sysctl('net.netfilter.nf_conntrack_tcp_timeout_established'), 7);
});

// --- checksum verification ---

function sameOnes(a: number, b: number): boolean {
  return a === b || a % 0xffff === b % 0xffff;
}

test('one-pass verification agrees with recomputing the transport checksum (IPv4, IPv6, every alignment)', () => {
  fc.assert(fc.property(
    fc.boolean(), fc.constantFrom(6, 17, 58, 136), fc.uint8Array({ minLength: 8, maxLength: 300 }), fc.nat(7),
    fc.constantFrom('valid', 'zero', 'ones', 'random', 'swapped'), fc.nat(0xffff), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    (six, proto, l4, pad, kind, rnd, addrs) => {
      const csumAt = proto === 6 ? 16 : proto === 58 ? 2 : 6;
      if (l4.length < csumAt + 2) return;
      const l3len = six ? 40 : 20;
      // A shared ArrayBuffer at an odd offset: the word-wise sum meets every alignment.
      const ab = new ArrayBuffer(l3len + l4.length + 16);
      const buf = new Uint8Array(ab, pad, l3len + l4.length);
      buf.set(addrs.subarray(0, six ? 32 : 8), six ? 8 : 12);
      buf.set(l4, l3len);
      const calc = () => (six ? l4Checksum6 : l4Checksum4)(buf, 0, l3len, l4.length, proto, csumAt);
      buf[l3len + csumAt] = 0; buf[l3len + csumAt + 1] = 0;
      const right = calc();
      const stored = kind === 'valid' ? right : kind === 'zero' ? 0 : kind === 'ones' ? 0xffff : kind === 'swapped' ? ((right & 0xff) << 8) | (right >> 8) : rnd;
      buf[l3len + csumAt] = stored >> 8; buf[l3len + csumAt + 1] = stored & 0xff;
      const got = (six ? verifyL4Checksum6 : verifyL4Checksum4)(buf, 0, l3len, l4.length, proto, csumAt);
      let want = sameOnes(stored, calc());
      if (proto === 17 && stored === 0) want = !six; // RFC 768 / RFC 8200 §8.1
      assert.equal(got, want);
    },
  ), { numRuns: 1500 });
});

// --- NAT's checksum patch ---

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** What nf_nat_ipv4/ipv6_manip_pkt and the l4 manip_pkt do, one csum_replace2 per 16-bit word. */
function referenceChecksums(buf: Uint8Array, six: boolean, proto: number, addr: Uint8Array, port: number, id: number, src: boolean): { l3: number; l4: number } {
  const l4 = six ? 40 : 20;
  const alen = six ? 16 : 4;
  const addrOff = six ? (src ? 8 : 24) : (src ? 12 : 16);
  const changes = buf.subarray(addrOff, addrOff + alen).some((v, i) => v !== addr[i]);
  const addrPatch = (c: number): number => {
    for (let i = 0; i < alen; i += 2) c = checksumReplace16(c, u16(buf, addrOff + i), u16(addr, i));
    return c;
  };
  const l3 = six ? 0 : changes ? addrPatch(u16(buf, 10)) : u16(buf, 10);
  const portOff = l4 + (src ? 0 : 2);
  if (proto === 6 || proto === 17) {
    const at = l4 + (proto === 6 ? 16 : 6);
    const old = u16(buf, at);
    if (proto === 17 && old === 0) return { l3, l4: 0 };
    let c = changes ? addrPatch(old) : old;
    c = checksumReplace16(c, u16(buf, portOff), port);
    return { l3, l4: proto === 17 && c === 0 ? 0xffff : c };
  }
  // ICMP echo request/reply (ids), ICMPv6 with its pseudo-header.
  let c = u16(buf, l4 + 2);
  if (proto === 58 && changes) c = addrPatch(c);
  c = checksumReplace16(c, u16(buf, l4 + 4), id);
  return { l3, l4: c };
}

test('NAT patches checksums in one fold exactly as the kernel patches them field by field', () => {
  fc.assert(fc.property(
    fc.boolean(), fc.constantFrom(6, 17, 1), fc.boolean(), fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.nat(0xffff), fc.nat(0xffff), fc.constantFrom(0, 0xffff, 1, -1), fc.boolean(), fc.boolean(),
    (six, proto0, src, hdr, addr, port0, id0, csum, sameAddress, samePort) => {
      const proto = proto0 === 1 && six ? 58 : proto0;
      const l4 = six ? 40 : 20;
      const buf = new Uint8Array(l4 + 28);
      buf.set(hdr.subarray(0, l4));
      buf.set(hdr.subarray(0, 28), l4);
      if (six) { buf[0] = 0x60; buf[4] = 0; buf[5] = 28; buf[6] = proto; } else { buf[0] = 0x45; buf[2] = 0; buf[3] = l4 + 28; buf[6] = 0; buf[7] = 0; buf[9] = proto; }
      if (proto === 1 || proto === 58) buf[l4] = proto === 1 ? 8 : 128; // echo request: the id is rewritten
      const at = l4 + (proto === 6 ? 16 : proto === 17 ? 6 : 2);
      // Checksums at the edges (0x0000, 0xffff) where field-by-field and one-fold updates could part.
      if (csum >= 0) { buf[at] = csum >> 8; buf[at + 1] = csum & 0xff; if (!six) { buf[10] = csum >> 8; buf[11] = csum & 0xff; } }
      const alen = six ? 16 : 4;
      const addrOff = six ? (src ? 8 : 24) : (src ? 12 : 16);
      if (sameAddress) addr.set(buf.subarray(addrOff, addrOff + alen));
      // Unchanged fields still pass through csum_replace2 (a 0xffff checksum may come out 0x0000).
      const port = samePort ? u16(buf, l4 + (src ? 0 : 2)) : port0;
      const id = samePort ? u16(buf, l4 + 4) : id0;
      const target = newTuple();
      (src ? target.src : target.dst).set(addr.subarray(0, alen));
      if (src) target.srcPort = port; else target.dstPort = port;
      if (proto === 1 || proto === 58) target.srcPort = id;
      const want = referenceChecksums(buf, six, proto, addr, port, id, src);
      assert.ok(manipPacket(buf, 0, buf.length, six ? 10 : 2, target, src ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST));
      assert.equal(u16(buf, at), want.l4, 'transport checksum');
      if (!six) assert.equal(u16(buf, 10), want.l3, 'IPv4 header checksum');
      assert.deepEqual([...buf.subarray(addrOff, addrOff + alen)], [...addr.subarray(0, alen)]);
    },
  ), { numRuns: 2000 });
});
