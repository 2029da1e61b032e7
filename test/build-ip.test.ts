/** Builders: IPv4 (options, fragments, checksum) and IPv6 with extension headers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum } from '../src/packet/checksum.js';
import { concat } from '../src/packet/build/fields.js';
import { emitIpv4, emitIpv4Option, ipv4Pseudo, routeOptionData, IP_FLAG_DF, IP_FLAG_MF, IPV4_DEFAULTS, type Ipv4Repr } from '../src/packet/build/ipv4.js';
import {
  emitIpv6, emitIpv6Fragment, emitIpv6Options, emitIpv6OptionsHeader, emitIpv6Routing, emitIpv6SegmentRouting, pad1, padN,
  IPPROTO_FRAGMENT, IPPROTO_NONE, type Ipv6Repr,
} from '../src/packet/build/ipv6.js';
import { dissect } from '../src/packet/dissect.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const LINKTYPE_RAW = 101;
const ip = (o: Partial<Ipv4Repr> = {}): Ipv4Repr => ({
  version: 4, ihl: null, tos: 0, len: null, id: 1, flags: 0, frag: 0, ttl: 64, proto: 6, chksum: null,
  src: '10.0.0.1', dst: '10.0.0.2', options: new Uint8Array(0), ...o,
});
const ip6 = (o: Partial<Ipv6Repr> = {}): Ipv6Repr => ({ version: 6, tc: 0, fl: 0, plen: null, nh: IPPROTO_NONE, hlim: 64, src: 'fe80::1', dst: 'fe80::2', ...o });

test('IPv4: version/IHL, total length and header checksum are filled in when unset', () => {
  // Matches scapy's IP(src="10.0.0.1",dst="10.0.0.2",proto=6) over 20 bytes of payload.
  const p = emitIpv4(ip(), new Uint8Array(20));
  assert.equal(hex(p.subarray(0, 20)), '4500002800010000400666cd0a0000010a000002');
  assert.equal(internetChecksum(p, 0, 20), 0);
  assert.deepEqual(emitIpv4({ ...IPV4_DEFAULTS, proto: 6, src: '10.0.0.1', dst: '10.0.0.2' }, new Uint8Array(20)), p);
});

test('IPv4: values given are kept as given, even when inconsistent', () => {
  const p = emitIpv4(ip({ ihl: 7, len: 3, chksum: 0xbeef, version: 5 }));
  assert.equal(hex(p.subarray(0, 4)), '57000003');
  assert.equal(hex(p.subarray(10, 12)), 'beef');
});

test('IPv4 flags and fragment offset share one 16-bit word (RFC 791 §3.1)', () => {
  const p = emitIpv4(ip({ flags: IP_FLAG_DF | IP_FLAG_MF, frag: 0x1abc }));
  assert.equal(hex(p.subarray(6, 8)), '7abc');
});

test('IPv4 options: encoded, padded with zeros to 4 bytes, counted in IHL', () => {
  const rr = emitIpv4Option({ copy_flag: 0, optclass: 0, option: 7, data: routeOptionData(4, ['192.0.2.1']) });
  assert.equal(hex(rr), '070704c0000201');
  const nop = emitIpv4Option({ copy_flag: 0, optclass: 0, option: 1, single: true });
  const ra = emitIpv4Option({ copy_flag: 1, optclass: 0, option: 20, length: 4, data: Uint8Array.of(0, 0) });
  assert.equal(hex(ra), '94040000');
  const p = emitIpv4(ip({ options: concat([nop, rr]) }));
  assert.equal(p[0], 0x47); // 20 + 8 option bytes = 7 words
  assert.equal(hex(p.subarray(20, 28)), '01' + '070704c0000201');
  assert.equal(internetChecksum(p, 0, 28), 0);
});

test('IPv4 pseudo-header: the final destination of a source route, and the length from an explicit total length', () => {
  const lsrr = emitIpv4Option({ copy_flag: 1, optclass: 0, option: 3, data: routeOptionData(4, ['192.0.2.9']) });
  const r = ip({ options: lsrr, len: 60 });
  const ph = ipv4Pseudo(r, '192.0.2.9');
  assert.equal(hex(ph.dst), 'c0000209');
  assert.equal(ph.length, 60 - 4 * 7);
  assert.equal(ipv4Pseudo(ip()).length, undefined);
});

test('IPv6: payload length covers everything after the fixed header unless set', () => {
  const p = emitIpv6(ip6({ nh: 17, tc: 0xab, fl: 0xcdef1 }), new Uint8Array(9));
  assert.equal(hex(p.subarray(0, 8)), '6abcdef100091140');
  assert.equal(hex(emitIpv6(ip6({ plen: 1000 })).subarray(4, 6)), '03e8');
});

test('hop-by-hop/destination options: autopad aligns each option and ends on 8 octets (RFC 8200 §4.2)', () => {
  // Router alert wants 2n+0: at offset 2 it needs no padding; 4 + 2 = 6 bytes, padded to 8 with PadN(0).
  const ra = { otype: 5, optlen: 2, data: Uint8Array.of(0, 0), align: [2, 0] as const };
  assert.equal(hex(emitIpv6OptionsHeader({ nh: 58, len: null, autopad: true, options: [ra] })), '3a00050200000100');
  // A home address option (8n+6) after a Pad1 (offset 2→3): a 3-byte PadN brings it to 6; 24 bytes in all, len 2.
  const hao = { otype: 0xc9, optlen: 16, data: new Uint8Array(16), align: [8, 6] as const };
  const h = emitIpv6OptionsHeader({ nh: 59, len: null, autopad: true, options: [pad1(), hao] });
  assert.equal(h.length, 24);
  assert.equal(h[1], 2);
  assert.equal(hex(h.subarray(2, 8)), '00' + '010100' + 'c910');
  // Without autopad the options are written as they are.
  assert.equal(hex(emitIpv6Options([padN(1)], false)), '010100');
});

test('routing header type 0 and segment routing (RFC 8754): lengths, segments left, last entry', () => {
  const rh = emitIpv6Routing({ nh: 6, len: null, type: 0, segleft: null, reserved: 0, addresses: ['2001:db8::1', '2001:db8::2'] });
  assert.equal(hex(rh.subarray(0, 8)), '0604000200000000');
  assert.equal(rh.length, 40);
  const srh = emitIpv6SegmentRouting({
    nh: 17, len: null, type: 4, segleft: null, lastentry: null, unused1: 0, protected: 0, oam: 1, alert: 0, hmac: 0, unused2: 0, tag: 0x1234,
    addresses: ['2001:db8::1', '2001:db8::2', '2001:db8::3'], tlvs: new Uint8Array(0),
  });
  assert.equal(hex(srh.subarray(0, 8)), '1106040202201234');
  assert.equal(srh.length, 8 + 48);
});

test('fragment header: offset in 8-octet units, M flag, identification', () => {
  assert.equal(hex(emitIpv6Fragment({ nh: 6, res1: 0, offset: 185, res2: 0, m: 1, id: 0xdeadbeef })), '060005c9deadbeef');
});

test('round trip: built IPv4 and IPv6 headers dissect to the values they were built from', () => {
  const v4 = fc.record({
    tos: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 0xffff }), ttl: fc.integer({ min: 0, max: 255 }),
    df: fc.boolean(), frag: fc.integer({ min: 0, max: 0x1fff }), proto: fc.constantFrom(1, 6, 17, 50, 99),
    src: fc.ipV4(), dst: fc.ipV4(), payload: fc.uint8Array({ maxLength: 40 }),
  });
  fc.assert(fc.property(v4, (r) => {
    const b = emitIpv4(ip({ tos: r.tos, id: r.id, ttl: r.ttl, flags: r.df ? IP_FLAG_DF : 0, frag: r.frag, proto: r.proto, src: r.src, dst: r.dst }), r.payload);
    assert.equal(internetChecksum(b, 0, 20), 0);
    const f = dissect(b, LINKTYPE_RAW).fields;
    assert.deepEqual(
      [f['ip.version'], f['ip.len'], f['ip.id'], f['ip.ttl'], f['ip.proto'], f['ip.src'], f['ip.dst'], f['ip.frag_offset'], f['ip.flags.df']],
      [4, 20 + r.payload.length, r.id, r.ttl, r.proto, r.src, r.dst, r.frag, r.df ? 1 : 0],
    );
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }), (tc, fl, hlim, pl) => {
    const b = emitIpv6(ip6({ tc, fl, hlim, nh: IPPROTO_FRAGMENT }), emitIpv6Fragment({ nh: IPPROTO_NONE, res1: 0, offset: 0, res2: 0, m: 1, id: 7 }, pl));
    const f = dissect(b, LINKTYPE_RAW).fields;
    assert.deepEqual([f['ipv6.tclass'], f['ipv6.flow'], f['ipv6.hlim'], f['ipv6.plen'], f['ipv6.nxt'], f['ipv6.src']], [tc, fl, hlim, 8 + pl.length, IPPROTO_FRAGMENT, 'fe80::1']);
  }), { numRuns: 300 });
});
