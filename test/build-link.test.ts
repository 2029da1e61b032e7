/** Builders: Ethernet II, 802.1Q/802.1ad tags, ARP — fixed bytes and round trips through the dissector. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emitArp, ARPOP_REPLY } from '../src/packet/build/arp.js';
import { emitEther, emitVlan, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP } from '../src/packet/build/ethernet.js';
import { parseIPv4, parseIPv6, parseMac } from '../src/packet/build/fields.js';
import { dissect } from '../src/packet/dissect.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const LINKTYPE_ETHERNET = 1;
const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));

test('Ethernet II: destination, source, EtherType, then the payload', () => {
  const f = emitEther({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', type: ETH_P_IP }, Uint8Array.of(0xab));
  assert.equal(hex(f), 'ffffffffffff0200000000010800ab');
  // Addresses may be given as bytes.
  assert.equal(hex(emitEther({ dst: new Uint8Array(6), src: new Uint8Array(6).fill(1), type: 0x9000 })), '0000000000000101010101019000');
});

test('VLAN tags: PCP, DEI, VID, inner EtherType; Q-in-Q stacks an 802.1ad tag over an 802.1Q one', () => {
  assert.equal(hex(emitVlan({ prio: 5, id: 1, vlan: 0xabc, type: ETH_P_IP })), 'babc0800');
  const inner = emitVlan({ prio: 0, id: 0, vlan: 200, type: ETH_P_ARP });
  const outer = emitVlan({ prio: 3, id: 0, vlan: 100, type: ETH_P_8021Q }, inner);
  const frame = emitEther({ dst: '00:00:00:00:00:02', src: '00:00:00:00:00:01', type: ETH_P_8021AD }, outer);
  assert.equal(hex(frame), '000000000002' + '000000000001' + '88a8' + '6064' + '8100' + '00c8' + '0806');
});

test('ARP: lengths follow the addresses given unless set', () => {
  const a = emitArp({ hwtype: 1, ptype: ETH_P_IP, hwlen: null, plen: null, op: ARPOP_REPLY, hwsrc: '02:00:00:00:00:01', psrc: '10.0.0.1', hwdst: '02:00:00:00:00:02', pdst: '10.0.0.2' });
  assert.equal(hex(a), '0001080006040002' + '0200000000010a000001' + '0200000000020a000002');
  const b = emitArp({ hwtype: 1, ptype: ETH_P_IP, hwlen: 9, plen: 7, op: 1, hwsrc: '02:00:00:00:00:01', psrc: '10.0.0.1', hwdst: '00:00:00:00:00:00', pdst: '0.0.0.0' });
  assert.equal(hex(b.subarray(4, 6)), '0907');
});

test('address parsers accept the usual text forms and reject the rest', () => {
  assert.equal(hex(parseMac('0:1:22:a:bb:CC')!), '0001220abbcc');
  assert.equal(parseMac('00-01-02-03-04-05'), null); // scapy accepts colons only
  assert.equal(parseMac('00:01:02:03:04'), null);
  assert.equal(hex(parseIPv4('192.0.2.255')!), 'c00002ff');
  for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.4.5', '1..2.3', ' 1.2.3.4']) assert.equal(parseIPv4(bad), null, bad);
  assert.equal(hex(parseIPv6('2001:db8::1')!), '20010db8000000000000000000000001');
  assert.equal(hex(parseIPv6('::')!), '0'.repeat(32));
  assert.equal(hex(parseIPv6('::ffff:192.0.2.1')!), '00000000000000000000ffffc0000201');
  assert.equal(hex(parseIPv6('1:2:3:4:5:6:7:8')!), '00010002000300040005000600070008');
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':1', 'g::', '1:2:3:4:5:6:7']) assert.equal(parseIPv6(bad), null, bad);
});

test('round trip: a built frame dissects to the fields it was built from', () => {
  fc.assert(fc.property(macArb, macArb, fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 2 }), (dst, src, vid, op) => {
    const arp = emitArp({ hwtype: 1, ptype: ETH_P_IP, hwlen: null, plen: null, op, hwsrc: src, psrc: '10.1.2.3', hwdst: dst, pdst: '10.3.2.1' });
    const frame = emitEther({ dst, src, type: ETH_P_8021Q }, emitVlan({ prio: 0, id: 0, vlan: vid, type: ETH_P_ARP }, arp));
    const d = dissect(frame, LINKTYPE_ETHERNET);
    assert.equal(d.malformed, undefined);
    assert.equal(d.fields['eth.dst'], dst);
    assert.equal(d.fields['eth.src'], src);
    assert.equal(d.fields['vlan.id'], vid);
    assert.equal(d.fields['arp.opcode'], op);
  }), { numRuns: 200 });
});
