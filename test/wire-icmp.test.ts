import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParseError } from '../src/packet/errors.js';
import { IcmpView, ICMP_DEST_UNREACH } from '../src/packet/wire/icmp.js';
import { IPv4View } from '../src/packet/wire/ipv4.js';
import { UdpView } from '../src/packet/wire/udp.js';
import { Icmpv6View, Mld2ReportView, MldView, NdpView, ND_OPT_TARGET_LL_ADDR } from '../src/packet/wire/icmpv6.js';
import { IgmpView } from '../src/packet/wire/igmp.js';
import { CSUM_OFFSET_ICMPV6, verifyL4Checksum6 } from '../src/packet/wire/l4checksum.js';
import { IPPROTO_ICMPV6 } from '../src/packet/wire/constants.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const expectParseError = (f: () => unknown, why?: string) => assert.throws(f, PacketParseError, why);

// IP(10.0.0.1 > 10.0.0.2)/ICMP(type=3, code=3)/IPerror(10.0.0.2 > 10.0.0.9)/UDPerror(1111 > 53)
const PORT_UNREACH = hex('4500003800070000400166bc0a0000010a000002 0303 1121 00000000' +
  '4500001c00090000401166be0a0000020a000009 045700350008e747');

test('icmp: port unreachable, with the quoted datagram reachable in place', () => {
  const icmp = new IcmpView(PORT_UNREACH, 20);
  assert.deepEqual([icmp.type, icmp.code, icmp.checksum, icmp.isError], [ICMP_DEST_UNREACH, 3, 0x1121, true]);
  assert.ok(icmp.verifyChecksum());
  const inner = new IPv4View(PORT_UNREACH, icmp.payloadOffset);
  assert.equal(inner.destinationText, '10.0.0.9');
  const udp = new UdpView(PORT_UNREACH, inner.payloadOffset);
  assert.deepEqual([udp.sourcePort, udp.destinationPort], [1111, 53]);
});

test('icmp: echo identifier rewrite (ICMP NAT) keeps the checksum valid', () => {
  // ICMP echo request id 1 seq 2 with a correct checksum.
  const echo = hex('0800f7fc00010002');
  const v = new IcmpView(echo);
  assert.deepEqual([v.identifier, v.sequence], [1, 2]);
  assert.ok(v.verifyChecksum());
  v.identifier = 0xbeef;
  assert.equal(v.identifier, 0xbeef);
  assert.ok(v.verifyChecksum());
});

test('icmp: redirect gateway, frag-needed MTU, parameter-problem pointer', () => {
  assert.equal(new IcmpView(hex('0501 0000 c0000201')).gatewayText, '192.0.2.1');
  assert.equal(new IcmpView(hex('0304 0000 0000 05dc')).nextHopMtu, 1500);
  assert.equal(new IcmpView(hex('0c00 0000 14000000')).pointer, 20);
  expectParseError(() => new IcmpView(hex('0800f7fc0001')));
});

// IPv6(fe80::1 > ff02::1, hlim 255)/ICMPv6ND_NA(R=1, O=1, tgt=fe80::1)/TargetLLAddr(00:11:22:33:44:55)
const NA = hex('6000000000203afffe800000000000000000000000000001ff020000000000000000000000000001' +
  '8800 7302 a0000000 fe800000000000000000000000000001 0201 001122334455');

test('icmpv6: neighbour advertisement flags, target and options; checksum over the pseudo-header', () => {
  const nd = new NdpView(NA, 40);
  assert.deepEqual([nd.type, nd.code, nd.naFlags], [136, 0, 0b101]);
  assert.equal(nd.targetText, 'fe80::1');
  const c = nd.options();
  assert.ok(c.next());
  assert.deepEqual([c.type, c.length, c.linkLayerText()], [ND_OPT_TARGET_LL_ADDR, 8, '00:11:22:33:44:55']);
  assert.ok(!c.next());
  assert.ok(verifyL4Checksum6(NA, 0, 40, 32, IPPROTO_ICMPV6, CSUM_OFFSET_ICMPV6));
});

test('icmpv6: an ND option of length zero is invalid (RFC 4861 §4.6)', () => {
  const bad = NA.slice();
  bad[40 + 25] = 0;
  assert.throws(() => { for (const c = new NdpView(bad, 40).options(); c.next(); ); }, PacketParseError);
  expectParseError(() => new NdpView(NA.subarray(0, 40 + 23), 40), 'NA body is 24 bytes');
  expectParseError(() => new NdpView(hex('80000000 00010001'), 0), 'echo is not ND');
});

test('icmpv6: echo, packet too big, parameter problem', () => {
  const echo = new Icmpv6View(hex('8000 7d67 0001 0001'));
  assert.deepEqual([echo.type, echo.identifier, echo.sequence, echo.isError], [128, 1, 1, false]);
  assert.equal(new Icmpv6View(hex('0200 0000 000005dc')).mtu, 1500);
  assert.equal(new Icmpv6View(hex('0401 0000 00000028')).pointer, 40);
});

test('mld: v2 query (28 bytes) and v2 report', () => {
  // ICMPv6MLQuery2(mrd=1000, mladdr=ff0e::1)
  const q = new MldView(hex('8200 7d2b 03e8 0000 ff0e0000000000000000000000000001 00 00 0000'));
  assert.ok(q.isVersion2Query());
  assert.deepEqual([q.maxResponseDelay, q.multicastAddressText, q.numberOfSources], [1000, 'ff0e::1', 0]);
  const v1 = new MldView(hex('8300 0000 0000 0000 ff0e0000000000000000000000000001'));
  assert.ok(!v1.isVersion2Query());
  assert.equal(new Mld2ReportView(hex('8f00 0000 0000 0002')).numberOfRecords, 2);
  expectParseError(() => new MldView(hex('8200 7d2b 03e8 0000 ff0e00000000')));
});

test('igmp: version by type and length (RFC 3376 §7.1)', () => {
  // IP/IGMP(type=0x11, mrcode=100, gaddr=0.0.0.0): a v2 general query.
  const v2q = new IgmpView(hex('1164ee9b00000000'));
  assert.deepEqual([v2q.type, v2q.maxResponse, v2q.checksum, v2q.groupText, v2q.version], [0x11, 100, 0xee9b, '0.0.0.0', 2]);
  assert.equal(new IgmpView(hex('1100eeff00000000')).version, 1);
  assert.equal(new IgmpView(hex('1164000000000000 02 7d 0000')).version, 3);
  assert.equal(new IgmpView(hex('1164000000000000 02 7d 0000')).v3QueryQrv, 2);
  assert.equal(new IgmpView(hex('16000000e0000001')).version, 2);
  assert.equal(new IgmpView(hex('2200000000000001')).v3ReportNumberOfRecords, 1);
  expectParseError(() => new IgmpView(hex('11640000000000')));
});
