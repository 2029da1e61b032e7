import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect } from '../src/packet/dissect.js';
import { describe } from '../src/packet/describe.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ETH = '66778899aabb001122334455';

/** The line tcpdump -n would print for this frame (link type Ethernet unless said). */
function expectLine(frameHex: string, line: string, linkType = 1): void {
  assert.equal(describe(dissect(hex(frameHex), linkType)), line);
}

test('TCP SYN: flags, seq, win, options, length', () => {
  expectLine('4500002c0001000040060000 0a000001 0a000002 9c40 0016 00000000 00000000 6002 2000 0000 0000 020405b4',
    'IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 0, win 8192, options [mss 1460], length 0', 228);
  expectLine(ETH + '0800' + '46b90040123440004006a68ac0000201c633640794040000' +
    '9c4000160000000100000000a00220009f080000020405b40402080a000000640000000001030307',
    'IP 192.0.2.1.40000 > 198.51.100.7.22: Flags [S], seq 1, win 8192, options [mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7], length 0');
});

test('TCP with data and ACK: seq as a range, ack', () => {
  expectLine('450000290001000040060000 0a000001 0a000002 9c40 0016 00000064 000000c8 5018 0200 0000 0000 41',
    'IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [P.], seq 100:101, ack 200, win 512, length 1', 228);
});

test('UDP and ICMP echo', () => {
  expectLine('4500001e0001000040110000 0a000001 0a000002 04d2 0035 000a 0000 6162',
    'IP 10.0.0.1.1234 > 10.0.0.2.53: UDP, length 2', 228);
  expectLine('4500005400010000400100000a0000010a000002 0800 0000 0001 0001' + '00'.repeat(56),
    'IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64', 228);
});

test('ICMP errors name the quoted packet', () => {
  expectLine(ETH + '0800' + '4500003800070000400166bc0a0000010a000002030311210000000' +
    '04500001c00090000401166be0a0000020a000009045700350008e747',
    'IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.9 udp port 53 unreachable, length 36');
  expectLine('4500003800070000400100000a0000010a000002 0304 0000 0000 0578' +
    '4500001c00090000401100000a0000020a000009045700350008e747',
    'IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.9 unreachable - need to frag (mtu 1400), length 36', 228);
  expectLine('4500003800070000400100000a0000010a000002 0b00 0000 00000000' +
    '4500001c00090000401100000a0000020a000009045700350008e747',
    'IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36', 228);
});

test('IPv6 and ICMPv6: echo and neighbour discovery', () => {
  expectLine('6000000000403a4020010db800000000000000000000000120010db8000000000000000000000002 80007d6700010001' + '61'.repeat(56),
    'IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 1, seq 1, length 64', 229);
  expectLine(ETH + '86dd' + '6000000000203afffe800000000000000000000000000001ff020000000000000000000000000001' +
    '88007302a0000000fe8000000000000000000000000000010201001122334455',
    'IP6 fe80::1 > ff02::1: ICMP6, neighbor advertisement, tgt is fe80::1, length 32');
});

test('IPv6 extension headers before the transport', () => {
  expectLine('6b812345004d004020010db8000000000000000000000001 20010db8000000000000000000000002' +
    '2b00050200000100 2c04040101000000 20010db800000000000000000000000a 20010db800000000000000000000000b' +
    '3c000001abcdef01 1100010400000000 13881770000d358d68656c6c6f',
    'IP6 2001:db8::1 > 2001:db8::2: HBH srcrt (len=4, type=4, segleft=1) frag (0|21) DSTOPT 2001:db8::1.5000 > 2001:db8::2.6000: UDP, length 5', 229);
});

test('ARP request and reply', () => {
  expectLine('ffffffffffff001122334455080600010800060400010011223344550a0000010000000000000a000002',
    'ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28');
  expectLine('ffffffffffff001122334455080600010800060400020011223344550a0000010000000000000a000002',
    'ARP, Reply 10.0.0.1 is-at 00:11:22:33:44:55, length 28');
});

test('ESP, ESP in UDP, the non-ESP marker and the NAT keepalive', () => {
  expectLine('4500003c00010000403200000102030405060708 00000100 00000001' + '00'.repeat(32),
    'IP 1.2.3.4 > 5.6.7.8: ESP(spi=0x00000100,seq=0x1), length 40', 228);
  expectLine('4500002c00010000401166be0a0000010a000002119411940018c79200000100000000010000000000000000',
    'IP 10.0.0.1.4500 > 10.0.0.2.4500: UDP-encap: ESP(spi=0x00000100,seq=0x1), length 16', 228);
  expectLine('4500001d00010000401100000a0000010a000002 11941194 0009 0000 ff',
    'IP 10.0.0.1.4500 > 10.0.0.2.4500: isakmp-nat-keep-alive', 228);
  expectLine('4500002400010000401100000a0000010a000002 11941194 0010 0000 00000000 01020304',
    'IP 10.0.0.1.4500 > 10.0.0.2.4500: NONESP-encap: isakmp', 228);
});

test('AH and GRE show what they carry', () => {
  expectLine('450000400001000040336a7701020304050607080604000000001000000000031111111111111111111111110001000200000000000000005010200000000000',
    'IP 1.2.3.4 > 5.6.7.8: AH(spi=0x00001000,seq=0x3): 1.2.3.4.1 > 5.6.7.8.2: Flags [.], ack 0, win 8192, length 0', 228);
  expectLine('4500003c00010000402f6a7f0102030405060708300008000000002a000000074500001c00010000400158bf09090909080808080800f7fc00010002',
    'IP 1.2.3.4 > 5.6.7.8: GREv0, key=0x2a, seq 7, length 40: IP 9.9.9.9 > 8.8.8.8: ICMP echo request, id 1, seq 2, length 8', 228);
});

test('IGMP, fragments, and a truncated frame', () => {
  expectLine('4500001c000100000102cfdd0a000001e00000011164ee9b00000000', 'IP 10.0.0.1 > 224.0.0.1: igmp query v2', 228);
  expectLine('4500001c00012003401100000a0000010a0000020000000000000000', 'IP 10.0.0.1 > 10.0.0.2: ip-proto-17', 228);
  expectLine('4500002c0001000040060000 0a000001 0a000002 9c40 0016', 'IP 10.0.0.1 > 10.0.0.2:  ip-proto-6 4 [|tcp: need 20 bytes at offset 20, have 4]', 228);
});
