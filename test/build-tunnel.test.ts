/** Builders: ESP header (opaque payload), AH, GRE, and RFC 3948 UDP encapsulation markers. Expected bytes are scapy's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum } from '../src/packet/checksum.js';
import { emitAh } from '../src/packet/build/ah.js';
import { emitEsp } from '../src/packet/build/esp.js';
import { emitNatKeepalive, emitNonEspMarker, NAT_T_PORT } from '../src/packet/build/espinudp.js';
import { ip4 } from '../src/packet/build/fields.js';
import { emitGre, type GreRepr } from '../src/packet/build/gre.js';
import { emitUdp } from '../src/packet/build/udp.js';
import { dissect } from '../src/packet/dissect.js';
import { emitIpv4 } from '../src/packet/build/ipv4.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const gre = (o: Partial<GreRepr>): GreRepr => ({
  chksum_present: 0, routing_present: 0, key_present: 0, seqnum_present: 0, strict_route_source: 0, recursion_control: 0, flags: 0, version: 0,
  proto: 0x0800, chksum: null, offset: null, key: null, sequence_number: null, ...o,
});
const P = { src: ip4('1.1.1.1'), dst: ip4('2.2.2.2') };
const LINKTYPE_RAW = 101;

test('ESP: SPI, sequence number, then the opaque rest (RFC 4303 §2)', () => {
  assert.equal(hex(emitEsp({ spi: 0x100, seq: 1, data: Uint8Array.of(0xaa, 0xbb) })), '0000010000000001aabb');
  assert.equal(hex(emitEsp({ spi: 1, seq: 0, data: null })), '0000000100000000');
});

test('AH: fields as given; payload length computed only when unset (RFC 4302 §2.2)', () => {
  const icv = new Uint8Array(12).fill(1);
  assert.equal(hex(emitAh({ nh: 4, payloadlen: 4, reserved: 0, spi: 0x1000, seq: 5, icv, padding: '' })), '040400000000100000000005' + '01'.repeat(12));
  assert.equal(emitAh({ nh: 6, payloadlen: null, reserved: 0, spi: 1, seq: 1, icv, padding: '' })[1], 4); // (12 + 12) / 4 − 2
});

test('GRE: optional fields appear with their present bits; the checksum covers header and payload (RFC 2784, RFC 2890)', () => {
  const g = emitGre(gre({ chksum_present: 1, key_present: 1, seqnum_present: 1, key: 0x11223344, sequence_number: 9 }), new TextEncoder().encode('abc'));
  assert.equal(hex(g), 'b00008003f2d00001122334400000009616263');
  assert.equal(internetChecksum(g), 0);
  assert.equal(hex(emitGre(gre({ routing_present: 1 }))), '4000080000000000'); // checksum/offset words present, checksum not computed
  assert.equal(hex(emitGre(gre({ proto: 0x86dd }))), '000086dd');
});

test('ESP in UDP on 4500 (RFC 3948): the non-ESP marker before IKE, the one-octet keepalive', () => {
  const ike = emitUdp({ sport: NAT_T_PORT, dport: NAT_T_PORT, len: null, chksum: null }, emitNonEspMarker(Uint8Array.of(0, 1)), P);
  assert.equal(hex(ike), '11941194000ed6a3000000000001');
  const ka = emitUdp({ sport: NAT_T_PORT, dport: NAT_T_PORT, len: null, chksum: null }, emitNatKeepalive(), P);
  assert.equal(hex(ka), '119411940009d7adff');
});

test('round trip: ESP inside UDP 4500 and directly over IP dissects to its SPI and sequence number', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (spi, seq, udp) => {
    const esp = emitEsp({ spi, seq, data: new Uint8Array(16) });
    const l4 = udp ? emitUdp({ sport: NAT_T_PORT, dport: NAT_T_PORT, len: null, chksum: null }, esp, P) : esp;
    const pkt = emitIpv4({ version: 4, ihl: null, tos: 0, len: null, id: 1, flags: 0, frag: 0, ttl: 64, proto: udp ? 17 : 50, chksum: null, src: '1.1.1.1', dst: '2.2.2.2', options: new Uint8Array(0) }, l4);
    const f = dissect(pkt, LINKTYPE_RAW).fields;
    assert.equal(f['esp.spi'], spi);
    assert.equal(f['esp.sequence'], seq);
  }), { numRuns: 200 });
});
