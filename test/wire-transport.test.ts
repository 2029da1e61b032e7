import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParseError } from '../src/packet/errors.js';
import { TcpView, TCPOPT_MSS, TCPOPT_NOP, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WINDOW, TCP_FLAG_SYN } from '../src/packet/wire/tcp.js';
import { classifyUdpEncap, UdpLiteView, UdpView, UDP_ENCAP_ESP, UDP_ENCAP_IKE, UDP_ENCAP_INVALID, UDP_ENCAP_KEEPALIVE } from '../src/packet/wire/udp.js';
import { SctpView } from '../src/packet/wire/sctp.js';
import { DccpView } from '../src/packet/wire/dccp.js';
import { CSUM_OFFSET_TCP, CSUM_OFFSET_UDP, l4Checksum4, verifyL4Checksum4, verifyL4Checksum6 } from '../src/packet/wire/l4checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from '../src/packet/wire/constants.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const expectParseError = (f: () => unknown, why?: string) => assert.throws(f, PacketParseError, why);

// IP(src=192.0.2.1, dst=198.51.100.7, options=[Router Alert])/TCP(sport=40000, dport=22, seq=1, flags=S,
//   window=8192, options=[MSS 1460, SAckOK, Timestamp(100, 0), NOP, WScale 7]) — checksum 0x9f08 as scapy wrote it.
const SYN = hex('46b90040123440004006a68ac0000201c633640794040000' +
  '9c40 0016 00000001 00000000 a002 2000 9f08 0000 020405b4 0402 080a0000006400000000 01 030307');
const TCP_AT = 24;

test('tcp: header fields', () => {
  const t = new TcpView(SYN, TCP_AT);
  assert.deepEqual([t.sourcePort, t.destinationPort, t.sequence, t.acknowledgment, t.headerLength, t.flags, t.window, t.checksum, t.urgentPointer],
    [40000, 22, 1, 0, 40, TCP_FLAG_SYN, 8192, 0x9f08, 0]);
  assert.equal(t.payloadOffset, 64);
  assert.ok(verifyL4Checksum4(SYN, 0, TCP_AT, 40, IPPROTO_TCP, CSUM_OFFSET_TCP));
});

test('tcp: options are iterated in place — MSS, SACK-permitted, timestamps, NOP, window scale', () => {
  const seen: Array<[number, number]> = [];
  for (const c = new TcpView(SYN, TCP_AT).options(); c.next(); ) seen.push([c.kind, c.length]);
  assert.deepEqual(seen, [[TCPOPT_MSS, 4], [TCPOPT_SACK_PERM, 2], [TCPOPT_TIMESTAMP, 10], [TCPOPT_NOP, 1], [TCPOPT_WINDOW, 3]]);
  const t = new TcpView(SYN, TCP_AT);
  assert.equal(t.mss, 1460);
  assert.equal(t.windowScale, 7);
});

test('tcp: SACK blocks and unknown kinds; EOL ends the list', () => {
  // 20-byte header + SACK(1 block) + kind 99 (len 4) + EOL + padding.
  const seg = hex('0001000200000000000000009010ffff00000000' + '050a0000000100000002' + '6304abcd' + '00000000' + '000000');
  const c = new TcpView(seg).options();
  const kinds: number[] = [];
  while (c.next()) kinds.push(c.kind);
  assert.deepEqual(kinds, [5, 99, 0]);
});

test('tcp: MSS clamping rewrites in place and keeps the checksum valid', () => {
  const f = SYN.slice();
  const t = new TcpView(f, TCP_AT);
  assert.ok(t.setMss(1400));
  assert.equal(t.mss, 1400);
  assert.ok(verifyL4Checksum4(f, 0, TCP_AT, 40, IPPROTO_TCP, CSUM_OFFSET_TCP));
});

function concatIp(seg: Uint8Array): Uint8Array {
  const ip = hex('4500000000000000400600000a0000010a000002');
  const out = new Uint8Array(20 + seg.length);
  out.set(ip);
  out.set(seg, 20);
  return out;
}

test('tcp: MSS rewrite at an odd offset also keeps the checksum valid', () => {
  const pkt = concatIp(hex('0001000200000000000000007002ffff00000000' + '01020405b4000000'));
  const t = new TcpView(pkt, 20);
  t.checksum = l4Checksum4(pkt, 0, 20, 28, IPPROTO_TCP, CSUM_OFFSET_TCP);
  assert.ok(verifyL4Checksum4(pkt, 0, 20, 28, IPPROTO_TCP, CSUM_OFFSET_TCP));
  assert.ok(t.setMss(536));
  assert.equal(t.mss, 536);
  assert.ok(verifyL4Checksum4(pkt, 0, 20, 28, IPPROTO_TCP, CSUM_OFFSET_TCP));
});

test('tcp: ports and flags writes', () => {
  const f = SYN.slice();
  const t = new TcpView(f, TCP_AT);
  t.sourcePort = 1;
  t.destinationPort = 65535;
  t.flags = 0x012;
  assert.deepEqual([t.sourcePort, t.destinationPort, t.flags, t.dataOffset], [1, 65535, 0x012, 10]);
});

test('tcp: impossible lengths', () => {
  expectParseError(() => new TcpView(SYN.subarray(0, TCP_AT + 19), TCP_AT));
  expectParseError(() => new TcpView(SYN.subarray(0, TCP_AT + 39), TCP_AT), 'options cut off');
  const small = SYN.slice(); small[TCP_AT + 12] = 0x40; // data offset 4
  expectParseError(() => new TcpView(small, TCP_AT));
  const badOpt = SYN.slice(); badOpt[TCP_AT + 21] = 1; // MSS length 1
  assert.throws(() => { for (const c = new TcpView(badOpt, TCP_AT).options(); c.next(); ); }, PacketParseError);
  assert.equal(new TcpView(badOpt, TCP_AT).mss, -1, 'the convenience getters never throw');
});

// IP(10.0.0.1 > 10.0.0.2)/UDP(4500 > 4500)/ESP(spi=0x100, seq=1, 8 zero bytes)
const NATT = hex('4500002c00010000401166be0a0000010a000002 119411940018c792 00000100 00000001 0000000000000000');

test('udp: fields and checksum', () => {
  const u = new UdpView(NATT, 20);
  assert.deepEqual([u.sourcePort, u.destinationPort, u.length, u.checksum], [4500, 4500, 24, 0xc792]);
  assert.ok(verifyL4Checksum4(NATT, 0, 20, 24, IPPROTO_UDP, CSUM_OFFSET_UDP));
  const zero = NATT.slice(); zero[26] = zero[27] = 0;
  assert.ok(verifyL4Checksum4(zero, 0, 20, 24, IPPROTO_UDP, CSUM_OFFSET_UDP), 'RFC 768: zero means no checksum over IPv4');
  expectParseError(() => new UdpView(NATT, NATT.length - 7));
});

test('udp on 4500: ESP, the non-ESP marker (IKE) and the NAT keepalive (RFC 3948)', () => {
  assert.equal(classifyUdpEncap(NATT, 28, 16), UDP_ENCAP_ESP);
  assert.equal(classifyUdpEncap(hex('00000000 2122'), 0, 6), UDP_ENCAP_IKE);
  assert.equal(classifyUdpEncap(hex('ff'), 0, 1), UDP_ENCAP_KEEPALIVE);
  assert.equal(classifyUdpEncap(hex('0102'), 0, 2), UDP_ENCAP_INVALID);
});

test('udp-lite: coverage, and a checksum over the covered part only', () => {
  // UDP-Lite 1234 > 53, coverage 8 (header only), 4 data bytes.
  const pkt = hex('4500002000000000408800000a0000010a000002 04d2 0035 0008 0000 61626364');
  const u = new UdpLiteView(pkt, 20, 12);
  assert.deepEqual([u.sourcePort, u.destinationPort, u.checksumCoverage, u.coveredLength], [1234, 53, 8, 8]);
  u.checksum = l4Checksum4(pkt, 0, 20, 12, IPPROTO_UDPLITE, CSUM_OFFSET_UDP, 8);
  assert.ok(verifyL4Checksum4(pkt, 0, 20, 12, IPPROTO_UDPLITE, CSUM_OFFSET_UDP, 8));
  pkt[31] ^= 0xff; // uncovered data may change
  assert.ok(verifyL4Checksum4(pkt, 0, 20, 12, IPPROTO_UDPLITE, CSUM_OFFSET_UDP, 8));
  const bad = pkt.slice(); bad[25] = 3;
  expectParseError(() => new UdpLiteView(bad, 20, 12), 'coverage 3 is below the header');
  bad[25] = 13;
  expectParseError(() => new UdpLiteView(bad, 20, 12), 'coverage beyond the datagram');
});

test('udp over IPv6: a zero checksum is invalid (RFC 8200 §8.1)', () => {
  const pkt = new Uint8Array(48);
  pkt[0] = 0x60; pkt[5] = 8; pkt[6] = 17;
  assert.ok(!verifyL4Checksum6(pkt, 0, 40, 8, IPPROTO_UDP, CSUM_OFFSET_UDP));
});

// IP/SCTP(sport=1, dport=2, tag=0x11223344)/INIT — CRC32c 0xddab55f6 as scapy computed it.
const SCTP_INIT = hex('4500003400010000408466430a0000010a000002 0001 0002 11223344 ddab55f6 0100 0014 00000005 000003e8 0001 0001 00000009');

test('sctp: common header, first chunk and CRC32c', () => {
  const s = new SctpView(SCTP_INIT, 20);
  assert.deepEqual([s.sourcePort, s.destinationPort, s.verificationTag, s.checksum], [1, 2, 0x11223344, 0xddab55f6]);
  assert.deepEqual([s.firstChunkType(), s.firstChunkLength()], [1, 20]);
  assert.ok(s.verifyChecksum());
  const f = SCTP_INIT.slice();
  new SctpView(f, 20).sourcePort = 9;
  assert.ok(!new SctpView(f, 20).verifyChecksum());
  const v = new SctpView(f, 20);
  v.checksum = v.computeChecksum();
  assert.ok(v.verifyChecksum());
  expectParseError(() => new SctpView(SCTP_INIT, SCTP_INIT.length - 11));
});

test('dccp: generic header with 48-bit sequence numbers', () => {
  // DCCP-Data, X=1, seq 0x0102_0304_0506.
  const d = new DccpView(hex('c000 0035 04 21 abcd 05 00 0102 03040506'));
  assert.deepEqual([d.sourcePort, d.destinationPort, d.dataOffset, d.ccval, d.checksumCoverage, d.checksum, d.type, d.extendedSequence, d.sequence],
    [0xc000, 53, 4, 2, 1, 0xabcd, 2, true, 0x010203040506]);
  // X=0: 24-bit sequence number in a 12-byte header.
  const short = new DccpView(hex('c000 0035 03 00 0000 04 123456 0000'));
  assert.deepEqual([short.extendedSequence, short.sequence], [false, 0x123456]);
  expectParseError(() => new DccpView(hex('c000 0035 03 00 0000 05 000102')), 'X=1 needs 16 bytes');
  expectParseError(() => new DccpView(hex('c000 0035 02 00 0000 04 123456 0000')), 'data offset below the header');
});
