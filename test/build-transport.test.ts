/** Builders: TCP with options, UDP, UDP-Lite, SCTP (CRC32c) and DCCP — checksums as the receiver verifies them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { finish, onesSum } from '../src/packet/checksum.js';
import { ip4, ip6, type PseudoHeader } from '../src/packet/build/fields.js';
import { emitDccp, IPPROTO_DCCP, type DccpRepr } from '../src/packet/build/dccp.js';
import { pseudoChecksum } from '../src/packet/build/pseudo.js';
import { crc32c, emitSctp } from '../src/packet/build/sctp.js';
import { emitTcp, emitTcpOptions, IPPROTO_TCP, TCP_DEFAULTS, type TcpRepr } from '../src/packet/build/tcp.js';
import { emitUdp, emitUdpLite, IPPROTO_UDP, IPPROTO_UDPLITE, UDP_DEFAULTS } from '../src/packet/build/udp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const P4: PseudoHeader = { src: ip4('10.0.0.1'), dst: ip4('10.0.0.2') };
const P6: PseudoHeader = { src: ip6('2001:db8::1'), dst: ip6('2001:db8::2') };
const tcp = (o: Partial<TcpRepr> = {}): TcpRepr => ({
  sport: 40000, dport: 22, seq: 0, ack: 0, dataofs: null, reserved: 0, flags: 0x02, window: 8192, chksum: null, urgptr: 0, options: [], ...o,
});
/** A receiver's check: the sum over pseudo-header and segment (checksum included) is all ones. */
const verifies = (pseudo: PseudoHeader, proto: number, seg: Uint8Array, cover = seg.length) => {
  const z = seg.slice();
  const stored = (z[proto === IPPROTO_TCP ? 16 : 6]! << 8) | z[proto === IPPROTO_TCP ? 17 : 7]!;
  z.fill(0, proto === IPPROTO_TCP ? 16 : 6, proto === IPPROTO_TCP ? 18 : 8);
  const want = pseudoChecksum(pseudo, proto, z, cover);
  return want === stored || (want === 0 && stored === 0xffff);
};

test('TCP: the SYN of CLI.md, as scapy builds it', () => {
  assert.equal(hex(emitTcp(tcp(), new Uint8Array(0), P4)), '9c400016000000000000000050022000df890000');
  assert.equal(hex(emitTcp({ ...TCP_DEFAULTS, sport: 40000, dport: 22 }, new Uint8Array(0), P4)), '9c400016000000000000000050022000df890000');
});

test('TCP options: known kinds by name, raw bytes for the rest, zero padding to 4 bytes, data offset follows', () => {
  const o = emitTcpOptions([['MSS', 1460], ['SAckOK', ''], ['Timestamp', [1, 2]], ['NOP', null], ['WScale', 7]]);
  assert.equal(hex(o), '020405b4' + '0402' + '080a0000000100000002' + '01' + '030307');
  assert.equal(hex(emitTcpOptions([['SAck', [1, 2]], ['EOL', null]])), '050a0000000100000002' + '00' + '00');
  assert.equal(hex(emitTcpOptions([[99, Uint8Array.of(0xab)]])), '6303ab00');
  assert.throws(() => emitTcpOptions([['Bogus', 1]]), /unknown TCP option/);
  const seg = emitTcp(tcp({ options: [['MSS', 1460]] }), new Uint8Array(0), P4);
  assert.equal(seg[12]! >> 4, 6);
  assert.equal(hex(seg.subarray(20)), '020405b4');
});

test('TCP: checksum and data offset kept as given; no pseudo-header means checksum 0 (scapy without an IP layer)', () => {
  const s = emitTcp(tcp({ chksum: 0x1234, dataofs: 15, flags: 0x1ff }), new Uint8Array(0), P4);
  assert.equal(hex(s.subarray(12, 18)), 'f1ff20001234');
  assert.equal(hex(emitTcp(tcp()).subarray(16, 18)), '0000');
});

test('UDP: length, checksum over the pseudo-header; a computed zero is sent as 0xffff (RFC 768, RFC 8200 §8.1)', () => {
  assert.equal(hex(emitUdp(UDP_DEFAULTS, new Uint8Array(0), { src: ip4('127.0.0.1'), dst: ip4('127.0.0.1') })), '0035003500080172');
  // Payload chosen so the sum is all ones: the checksum would be 0.
  const pseudo: PseudoHeader = { src: ip4('0.0.0.0'), dst: ip4('0.0.0.0') };
  const head = emitUdp({ sport: 0, dport: 0, len: null, chksum: 0 }, Uint8Array.of(0, 0));
  const need = finish(onesSum(head, 0, head.length, IPPROTO_UDP + head.length));
  const payload = Uint8Array.of(need >> 8, need & 0xff);
  const d = emitUdp({ sport: 0, dport: 0, len: null, chksum: null }, payload, pseudo);
  assert.equal(hex(d.subarray(6, 8)), 'ffff');
  assert.ok(verifies(pseudo, IPPROTO_UDP, d));
  // Given values are kept, zero included.
  assert.equal(hex(emitUdp({ sport: 1, dport: 2, len: 99, chksum: 0 }, new Uint8Array(3), P6)), '0001000200630000000000');
});

test('UDP-Lite: coverage (RFC 3828 §3.1) — null = whole datagram, 0 = whole, n = first n bytes', () => {
  const pl = new TextEncoder().encode('only the header is covered');
  const full = emitUdpLite({ sport: 1, dport: 2, cscov: null, chksum: null }, pl, P4);
  assert.equal((full[4]! << 8) | full[5]!, 8 + pl.length);
  assert.ok(verifies(P4, IPPROTO_UDPLITE, full));
  const part = emitUdpLite({ sport: 1, dport: 2, cscov: 8, chksum: null }, pl, P4);
  assert.ok(verifies({ ...P4, length: part.length }, IPPROTO_UDPLITE, part, 8));
  const changed = emitUdpLite({ sport: 1, dport: 2, cscov: 8, chksum: null }, pl.map((b) => b ^ 0xff), P4);
  assert.equal(hex(changed.subarray(6, 8)), hex(part.subarray(6, 8)), 'bytes beyond the coverage do not change the checksum');
});

test('SCTP: CRC32c (RFC 9260 Appendix A) over the packet, stored least significant byte first', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283); // the CRC-32C check value
  assert.equal(hex(emitSctp({ sport: 0, dport: 0, tag: 0, chksum: null })), '0000000000000000' + '5db5602b');
  assert.equal(hex(emitSctp({ sport: 1, dport: 2, tag: 3, chksum: 0xabcdef01 }).subarray(8)), 'abcdef01');
});

test('DCCP generic header: 48-bit or 24-bit sequence numbers, data offset, coverage (RFC 4340 §5.1, §9)', () => {
  const r = (o: Partial<DccpRepr>): DccpRepr => ({ sport: 1, dport: 2, dataofs: null, ccval: 0, cscov: 0, chksum: null, res: 0, type: 0, x: 1, reserved: 0, seq: 0x0102030405, ...o });
  const x1 = emitDccp(r({}), new Uint8Array(0), P4);
  assert.equal(x1.length, 16);
  assert.equal(x1[4], 4);
  assert.equal(hex(x1.subarray(8)), '0100000102030405');
  const x0 = emitDccp(r({ x: 0, seq: 0xabcdef, type: 1 }), new Uint8Array(0), P4);
  assert.equal(hex(x0.subarray(8)), '02abcdef');
  assert.equal(x0[4], 3);
  assert.ok(verifies(P4, IPPROTO_DCCP, x1));
  // CsCov 1 covers the header only.
  const a = emitDccp(r({ cscov: 1 }), Uint8Array.of(1, 2, 3, 4), P4);
  const b = emitDccp(r({ cscov: 1 }), Uint8Array.of(9, 9, 9, 9), P4);
  assert.equal(hex(a.subarray(6, 8)), hex(b.subarray(6, 8)));
});

test('property: every built TCP/UDP segment verifies at the receiver, over IPv4 and IPv6', () => {
  fc.assert(fc.property(
    fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0x1ff }),
    fc.uint8Array({ maxLength: 64 }), fc.constantFrom<Array<[string, number]>>([], [['MSS', 536]], [['WScale', 3], ['NOP', 0]]),
    (v6, sport, dport, flags, payload, options) => {
      const ph = v6 ? P6 : P4;
      assert.ok(verifies(ph, IPPROTO_TCP, emitTcp(tcp({ sport, dport, flags, options }), payload, ph)));
      assert.ok(verifies(ph, IPPROTO_UDP, emitUdp({ sport, dport, len: null, chksum: null }, payload, ph)));
    },
  ), { numRuns: 500 });
});
