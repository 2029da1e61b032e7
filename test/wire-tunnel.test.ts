import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParseError } from '../src/packet/errors.js';
import { AhView, EspView } from '../src/packet/wire/ipsec.js';
import { GreView } from '../src/packet/wire/gre.js';
import { TcpView } from '../src/packet/wire/tcp.js';
import { IPv4View } from '../src/packet/wire/ipv4.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const expectParseError = (f: () => unknown, why?: string) => assert.throws(f, PacketParseError, why);

test('esp: SPI and sequence number, written in place', () => {
  const b = hex('00000100 00000001 0001020304050607');
  const esp = new EspView(b);
  assert.deepEqual([esp.spi, esp.sequence, esp.payloadOffset], [0x100, 1, 8]);
  esp.sequence = 0xffffffff;
  assert.equal(esp.sequence, 0xffffffff);
  expectParseError(() => new EspView(b.subarray(0, 7)));
});

// IP/AH(nh=6, payloadlen=4, spi=0x1000, seq=3, icv=12 × 0x11)/TCP(1 > 2, A)
const AH_TCP = hex('450000400001000040336a770102030405060708' +
  '06 04 0000 00001000 00000003 111111111111111111111111' +
  '0001000200000000000000005010200000000000');

test('ah: header length from the payload length field (RFC 4302 §2.2) and the next header', () => {
  const ah = new AhView(AH_TCP, 20);
  assert.deepEqual([ah.nextHeader, ah.payloadLength, ah.headerLength, ah.spi, ah.sequence, ah.icvLength], [6, 4, 24, 0x1000, 3, 12]);
  const tcp = new TcpView(AH_TCP, ah.payloadOffset);
  assert.deepEqual([tcp.sourcePort, tcp.destinationPort], [1, 2]);
  const short = AH_TCP.slice(); short[21] = 0; // 8 bytes: below the fixed part
  expectParseError(() => new AhView(short, 20));
  expectParseError(() => new AhView(AH_TCP.subarray(0, 40), 20), 'ICV cut off');
});

// IP/GRE(proto=IPv4, key=42, seq=7)/IP(9.9.9.9 > 8.8.8.8)/ICMP
const GRE_KEY_SEQ = hex('4500003c00010000402f6a7f0102030405060708' +
  '3000 0800 0000002a 00000007' +
  '4500001c00010000400158bf0909090908080808 0800f7fc00010002');

test('gre: key and sequence number (RFC 2890), payload ethertype', () => {
  const gre = new GreView(GRE_KEY_SEQ, 20);
  assert.deepEqual([gre.version, gre.hasChecksum, gre.hasKey, gre.hasSequence, gre.protocol, gre.key, gre.sequence, gre.headerLength],
    [0, false, true, true, 0x0800, 42, 7, 12]);
  assert.equal(new IPv4View(GRE_KEY_SEQ, gre.payloadOffset).sourceText, '9.9.9.9');
  const plain = new GreView(hex('0000 86dd'));
  assert.deepEqual([plain.headerLength, plain.key, plain.sequence, plain.checksum], [4, -1, -1, -1]);
  expectParseError(() => new GreView(GRE_KEY_SEQ.subarray(0, 30), 20), 'sequence cut off');
  expectParseError(() => new GreView(hex('0007 0800')), 'version 7');
  expectParseError(() => new GreView(hex('4000 0800 00000000')), 'source routing');
});
