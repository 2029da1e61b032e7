/**
 * Builders: ICMP (echo, unreachable, time exceeded, redirect, parameter
 * problem, with the quoted packet), ICMPv6 (echo, errors, neighbour discovery
 * and its options, MLD v1/v2) and IGMP v1/v2/v3. Expected bytes are scapy's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum } from '../src/packet/checksum.js';
import { concat, ip6, type PseudoHeader } from '../src/packet/build/fields.js';
import { emitIcmp, ICMP_DEFAULTS, ICMP_DEST_UNREACH, type IcmpRepr } from '../src/packet/build/icmp.js';
import {
  echoBody, emitIcmpv6, llAddrOption, mld2Record, mld2ReportBody, mtuBody, mtuOption, naBody, prefixInfoOption, raBody, IPPROTO_ICMPV6,
} from '../src/packet/build/icmpv6.js';
import { emitIgmp, emitIgmpMessage, igmpv3EncodeTime, igmpv3GroupRecord, igmpv3ReportBody } from '../src/packet/build/igmp.js';
import { emitIpv4 } from '../src/packet/build/ipv4.js';
import { emitIpv6 } from '../src/packet/build/ipv6.js';
import { pseudoChecksum } from '../src/packet/build/pseudo.js';
import { emitUdp } from '../src/packet/build/udp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const icmp = (o: Partial<IcmpRepr>) => emitIcmp({ ...ICMP_DEFAULTS, ...o });
const LL: PseudoHeader = { src: ip6('fe80::1'), dst: ip6('ff02::1') };

test('ICMP: the rest-of-header layout follows the type, as scapy writes it', () => {
  assert.equal(hex(icmp({ type: 3, code: 3 })), '0303fcfc00000000'); // unused, length, next-hop MTU
  assert.equal(hex(icmp({ type: 11, code: 0 })), '0b00f4ff00000000');
  assert.equal(hex(icmp({ type: 5, code: 1, gw: '10.0.0.254' })), '0501f0000a0000fe');
  assert.equal(hex(icmp({ type: 12, ptr: 8 })), '0c00ebff08000000');
  assert.equal(hex(icmp({ type: 0, id: 0x1234, seq: 7 })), '0000edc412340007');
  assert.equal(icmp({ type: 13, ts_ori: 1, ts_rx: 2, ts_tx: 3 }).length, 20);
  assert.equal(icmp({ type: 42 }).length, 8); // unknown types: 32 unused bits
});

test('ICMP error with the quoted packet: the checksum covers the quote; a given checksum is kept', () => {
  const quoted = emitIpv4({ version: 4, ihl: null, tos: 0, len: null, id: 1, flags: 0, frag: 0, ttl: 64, proto: 17, chksum: null, src: '10.0.0.2', dst: '10.0.0.1', options: new Uint8Array(0) },
    emitUdp({ sport: 53, dport: 33434, len: null, chksum: 0 }));
  const m = icmp({ type: ICMP_DEST_UNREACH, code: 4, nexthopmtu: 1400 });
  assert.equal(hex(m.subarray(6, 8)), '0578');
  const withQuote = emitIcmp({ ...ICMP_DEFAULTS, type: 3, code: 3 }, quoted);
  assert.equal(withQuote.length, 8 + 28);
  assert.equal(internetChecksum(withQuote), 0);
  assert.equal(hex(emitIcmp({ ...ICMP_DEFAULTS, chksum: 0xabcd }, quoted).subarray(2, 4)), 'abcd');
});

test('ICMPv6 router advertisement with options, as scapy builds it', () => {
  const body = raBody({ chlim: 64, M: 1, O: 0, H: 0, prf: 1, P: 0, res: 0, routerlifetime: 1800, reachabletime: 0, retranstimer: 0 });
  const opts = concat([
    llAddrOption({ type: 1, len: 1, lladdr: '02:00:00:00:00:01' }),
    mtuOption({ type: 5, len: 1, res: 0, mtu: 1500 }),
    prefixInfoOption({ type: 3, len: 4, prefixlen: 64, L: 1, A: 1, R: 0, res1: 0, validlifetime: 0xffffffff, preferredlifetime: 0xffffffff, res2: 0, prefix: '2001:db8::' }),
  ]);
  const msg = emitIcmpv6({ type: 134, code: 0, cksum: null }, body, opts, LL);
  const pkt = emitIpv6({ version: 6, tc: 0, fl: 0, plen: null, nh: IPPROTO_ICMPV6, hlim: 255, src: 'fe80::1', dst: 'ff02::1' }, msg);
  assert.equal(hex(pkt), '6000000000403afffe800000000000000000000000000001ff020000000000000000000000000001' +
    '8600b512408807080000000000000000' + '0101020000000001' + '05010000000005dc' + '030440c0ffffffffffffffff0000000020010db8000000000000000000000000');
});

test('ICMPv6 neighbour advertisement flags, packet too big, MLDv2 report records', () => {
  const na = emitIcmpv6({ type: 136, code: 0, cksum: null }, naBody({ R: 0, S: 1, O: 1, res: 0, tgt: 'fe80::1' }), undefined, LL);
  assert.equal(hex(na), '88001ba560000000fe800000000000000000000000000001');
  assert.equal(hex(mtuBody({ mtu: 1280 })), '00000500');
  const rec = mld2Record({ rtype: 4, auxdata_len: null, sources_number: null, dst: 'ff02::fb', sources: ['fe80::9'], auxdata: '' });
  const rep = emitIcmpv6({ type: 143, code: 0, cksum: null }, mld2ReportBody({ reserved: 0, records_number: null, records: [rec], recordCount: 1 }), undefined,
    { src: ip6('fe80::1'), dst: ip6('ff02::16') });
  assert.equal(hex(rep), '8f0070740000000104000001ff0200000000000000000000000000fbfe800000000000000000000000000009');
});

test('ICMPv6 without an IPv6 header below has checksum 0 (as scapy), and a given checksum is kept', () => {
  assert.equal(hex(emitIcmpv6({ type: 128, code: 0, cksum: null }, echoBody({ id: 1, seq: 2, data: 'x' }))), '80000000' + '00010002' + '78');
  assert.equal(hex(emitIcmpv6({ type: 128, code: 0, cksum: 0x1111 }, echoBody({ id: 1, seq: 2, data: '' }), undefined, LL).subarray(2, 4)), '1111');
});

test('IGMP v2 and v3: checksum over the message; v3 report with group records; RFC 3376 §4.1.1 time code', () => {
  assert.equal(hex(emitIgmp({ type: 0x16, mrcode: 20, chksum: null, gaddr: '239.1.2.3' })), '1614f8e6ef010203');
  const rec = igmpv3GroupRecord({ rtype: 2, auxdlen: 0, numsrc: null, maddr: '239.1.1.1', srcaddrs: ['10.0.0.9'] });
  assert.equal(hex(emitIgmpMessage({ type: 0x22, mrcode: 0, chksum: null }, igmpv3ReportBody({ res2: 0, numgrp: null, records: [rec] }))), '2200e1f10000000102000001ef0101010a000009');
  assert.equal(igmpv3EncodeTime(100), 100);
  assert.equal(igmpv3EncodeTime(31744), 255);
  const code = igmpv3EncodeTime(1000);
  assert.equal(((code & 0x0f) | 0x10) << (((code >> 4) & 7) + 3), 992); // nearest representable value below
});

test('property: ICMPv6 messages verify against their pseudo-header; ICMP/IGMP against themselves', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (type, code, data) => {
    const m = emitIcmpv6({ type, code, cksum: null }, echoBody({ id: 7, seq: 9, data }), undefined, LL);
    const z = m.slice();
    z[2] = z[3] = 0;
    assert.equal((m[2]! << 8) | m[3]!, pseudoChecksum(LL, IPPROTO_ICMPV6, z));
    assert.equal(internetChecksum(emitIcmp({ ...ICMP_DEFAULTS, type, code }, data)), 0);
    assert.equal(internetChecksum(emitIgmp({ type, mrcode: code, chksum: null, gaddr: '224.0.0.1' }, data)), 0);
  }), { numRuns: 300 });
});
