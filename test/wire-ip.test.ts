import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParseError } from '../src/packet/errors.js';
import { internetChecksum } from '../src/packet/checksum.js';
import { IPv4View, IPOPT_RA } from '../src/packet/wire/ipv4.js';
import {
  IPv6ExtHeaderView, IPv6FragmentView, IPv6View, ipv6FindHeader, ipv6SkipExtHeaders, SegmentRoutingView,
} from '../src/packet/wire/ipv6.js';
import type { IPv6Walk } from '../src/packet/wire/ipv6.js';
import { formatIPv6 } from '../src/packet/wire/bytes.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const expectParseError = (f: () => unknown, why?: string) => assert.throws(f, PacketParseError, why);

// IP(src=192.0.2.1, dst=198.51.100.7, id=0x1234, ttl=64, tos=0xb9, flags=DF, options=[Router Alert])/TCP(...)
const IP_RA_TCP = hex('46b90040 1234 4000 40 06 a68a c0000201 c6336407 94040000' +
  '9c400016 00000001 00000000 a002 2000 9f08 0000 020405b4 0402 080a0000006400000000 01 030307');

test('ipv4: every header field, in place', () => {
  const ip = new IPv4View(IP_RA_TCP);
  assert.deepEqual(
    [ip.version, ip.headerLength, ip.dscp, ip.ecn, ip.totalLength, ip.identification, ip.dontFragment, ip.moreFragments, ip.fragmentOffset, ip.ttl, ip.protocol, ip.checksum],
    [4, 24, 46, 1, 64, 0x1234, true, false, 0, 64, 6, 0xa68a],
  );
  assert.equal(ip.sourceText, '192.0.2.1');
  assert.equal(ip.destinationText, '198.51.100.7');
  assert.equal(ip.payloadOffset, 24);
  assert.ok(ip.verifyChecksum());
});

test('ipv4: options are walked in place', () => {
  const c = new IPv4View(IP_RA_TCP).options();
  assert.ok(c.next());
  assert.deepEqual([c.type, c.offset, c.length], [IPOPT_RA, 20, 4]);
  assert.ok(!c.next());
});

test('ipv4: TTL decrement, DSCP and NAT address rewrites keep the checksum valid (RFC 1624)', () => {
  const f = IP_RA_TCP.slice();
  const ip = new IPv4View(f);
  assert.equal(ip.decrementTtl(), 63);
  ip.dscp = 10;
  ip.ecn = 3;
  ip.setSourceUpdatingChecksum(0x0a000001);
  ip.setDestinationUpdatingChecksum(0xc0a80101);
  assert.equal(ip.sourceText, '10.0.0.1');
  assert.equal(ip.destinationText, '192.168.1.1');
  assert.equal(ip.tos, (10 << 2) | 3);
  assert.ok(ip.verifyChecksum());
  const recomputed = f.slice(0, 24);
  recomputed[10] = recomputed[11] = 0;
  assert.equal(ip.checksum, internetChecksum(recomputed));
});

test('ipv4: fragments', () => {
  const f = IP_RA_TCP.slice();
  f[6] = 0x20; f[7] = 0x03; // MF, offset 3 (24 bytes)
  const ip = new IPv4View(f);
  assert.ok(ip.isFragment && ip.moreFragments && !ip.dontFragment);
  assert.equal(ip.fragmentOffset, 3);
  ip.updateChecksum();
  assert.ok(ip.verifyChecksum());
});

test('ipv4: impossible headers are the typed parse error', () => {
  expectParseError(() => new IPv4View(IP_RA_TCP.subarray(0, 19)));
  expectParseError(() => new IPv4View(IP_RA_TCP.subarray(0, 23)), 'options cut off');
  const v = IP_RA_TCP.slice(); v[0] = 0x66;
  expectParseError(() => new IPv4View(v));
  const ihl = IP_RA_TCP.slice(); ihl[0] = 0x44;
  expectParseError(() => new IPv4View(ihl));
  const len = IP_RA_TCP.slice(); len[2] = 0; len[3] = 16;
  expectParseError(() => new IPv4View(len));
  const opt = IP_RA_TCP.slice(); opt[21] = 9; // option longer than the options area
  assert.throws(() => { for (const c = new IPv4View(opt).options(); c.next(); ); }, PacketParseError);
});

// IPv6(src=2001:db8::1, dst=2001:db8::2, tc=0xb8, fl=0x12345)/HopByHop(RouterAlert)/SRH(2001:db8::a, ::b)
//   /Fragment(id=0xabcdef01, m=1)/DestOpt(PadN)/UDP(5000, 6000)/"hello"
const V6_CHAIN = hex('6b812345004d0040 20010db8000000000000000000000001 20010db8000000000000000000000002' +
  '2b00 0502 0000 0100' +
  '2c04 0401 0100 0000 20010db800000000000000000000000a 20010db800000000000000000000000b' +
  '3c00 0001 abcdef01' +
  '1100 0104 00000000' +
  '13881770000d358d 68656c6c6f');

test('ipv6: fixed header fields', () => {
  const ip6 = new IPv6View(V6_CHAIN);
  assert.deepEqual([ip6.version, ip6.trafficClass, ip6.dscp, ip6.ecn, ip6.flowLabel, ip6.payloadLength, ip6.nextHeader, ip6.hopLimit],
    [6, 0xb8, 46, 0, 0x12345, 77, 0, 64]);
  assert.equal(ip6.sourceText, '2001:db8::1');
  assert.equal(ip6.destinationText, '2001:db8::2');
});

test('ipv6: traffic class and flow label writes leave the neighbours alone', () => {
  const f = V6_CHAIN.slice();
  const ip6 = new IPv6View(f);
  ip6.dscp = 10;
  ip6.flowLabel = 0xfffff;
  assert.deepEqual([ip6.version, ip6.dscp, ip6.ecn, ip6.flowLabel], [6, 10, 0, 0xfffff]);
  ip6.flowLabel = 0;
  ip6.trafficClass = 0;
  assert.deepEqual([...f.subarray(0, 4)], [0x60, 0, 0, 0]);
});

test('ipv6: extension headers — hop-by-hop, segment routing, fragment, destination options', () => {
  const hbh = new IPv6ExtHeaderView(V6_CHAIN, 40);
  assert.deepEqual([hbh.nextHeader, hbh.headerLength], [43, 8]);
  const opts = hbh.options();
  assert.ok(opts.next());
  assert.deepEqual([opts.type, opts.dataLength], [5, 2], 'router alert');
  const srh = new SegmentRoutingView(V6_CHAIN, 48);
  assert.deepEqual([srh.nextHeader, srh.headerLength, srh.routingType, srh.segmentsLeft, srh.lastEntry], [44, 40, 4, 1, 1]);
  assert.equal(srh.segmentText(0), '2001:db8::a');
  assert.equal(srh.segmentText(1), '2001:db8::b');
  const frag = new IPv6FragmentView(V6_CHAIN, 88);
  assert.deepEqual([frag.nextHeader, frag.fragmentOffset, frag.moreFragments, frag.identification], [60, 0, true, 0xabcdef01]);
  assert.equal(new IPv6ExtHeaderView(V6_CHAIN, 96).nextHeader, 17);
});

test('ipv6: the walkers find the upper-layer header as the kernel does', () => {
  const walk: IPv6Walk = { nexthdr: -1, offset: -1, fragOffset: -1 };
  assert.equal(ipv6SkipExtHeaders(V6_CHAIN, 40, 0, walk), 104);
  assert.deepEqual(walk, { nexthdr: 17, offset: 104, fragOffset: 1 }, 'first fragment: offset 0, M flag set');
  assert.equal(ipv6FindHeader(V6_CHAIN, 0, 44, walk), 88);
  assert.equal(ipv6FindHeader(V6_CHAIN, 0, 17, walk), 104);
  assert.equal(ipv6FindHeader(V6_CHAIN, 0, -1, walk), 104);
  assert.equal(walk.nexthdr, 17);
  assert.equal(ipv6FindHeader(V6_CHAIN, 0, 6, walk), -1);
  // A non-first fragment: the search stops at the fragment header.
  const later = V6_CHAIN.slice();
  later[90] = 0x01; later[91] = 0x00; // offset 32
  // Like the kernel: the walk stops *at* the fragment header and reports it as the protocol.
  assert.equal(ipv6SkipExtHeaders(later, 40, 0, walk), 88);
  assert.deepEqual(walk, { nexthdr: 44, offset: 88, fragOffset: 0x100 });
  assert.equal(ipv6FindHeader(later, 0, 17, walk), -1);
  // Cut short: -1, never an exception.
  assert.equal(ipv6SkipExtHeaders(V6_CHAIN.subarray(0, 60), 40, 0, walk), -1);
});

test('ipv6: impossible lengths', () => {
  expectParseError(() => new IPv6View(V6_CHAIN.subarray(0, 39)));
  const v = V6_CHAIN.slice(); v[0] = 0x40;
  expectParseError(() => new IPv6View(v));
  expectParseError(() => new IPv6ExtHeaderView(V6_CHAIN.subarray(0, 52), 48), 'SRH says 40 bytes');
  const le = V6_CHAIN.slice(); le[52] = 5; // last entry 5 in a two-segment header
  expectParseError(() => new SegmentRoutingView(le, 48));
  const pad = V6_CHAIN.slice(); pad[99] = 9; // PadN longer than its header
  assert.throws(() => { for (const c = new IPv6ExtHeaderView(pad, 96).options(); c.next(); ); }, PacketParseError);
});

test('RFC 5952 text form: longest zero run, first on a tie, no single-group ::, mapped IPv4', () => {
  const t = (s: string) => formatIPv6(hex(s), 0);
  assert.equal(t('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
  assert.equal(t('20010db8000000010000000000000001'), '2001:db8:0:1::1');
  assert.equal(t('20010db8000100010001000100010000'), '2001:db8:1:1:1:1:1:0');
  assert.equal(t('00000000000000000000000000000000'), '::');
  assert.equal(t('00000000000000000000000000000001'), '::1');
  assert.equal(t('00000000000000000000ffffc0000201'), '::ffff:192.0.2.1');
  assert.equal(t('fe800000000000000000000000000000'), 'fe80::');
});
