import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketParseError } from '../src/packet/errors.js';
import { EthernetView, isVlanEtherType, Sll2View, SllView, VlanTagView } from '../src/packet/wire/ethernet.js';
import { ArpView } from '../src/packet/wire/arp.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const expectParseError = (f: () => unknown) => assert.throws(f, PacketParseError);

// Ether(src=00:11:22:33:44:55, dst=66:77:88:99:aa:bb)/Dot1AD(prio=5,vlan=100)/Dot1Q(prio=3,id=1,vlan=200)/IP/UDP
const QINQ = hex('66778899aabb 001122334455 88a8 a064 8100 70c8 0800 4500001c00010000401166ce0a0000010a00000204d200350008e6d4');

test('ethernet: addresses and ethertype read in place', () => {
  const eth = new EthernetView(QINQ);
  assert.equal(eth.destinationText, '66:77:88:99:aa:bb');
  assert.equal(eth.sourceText, '00:11:22:33:44:55');
  assert.equal(eth.etherType, 0x88a8);
  assert.equal(eth.payloadOffset, 14);
  assert.equal(eth.source.buffer, QINQ.buffer, 'a view, not a copy');
});

test('ethernet: rewriting the source MAC writes the frame itself', () => {
  const f = QINQ.slice();
  new EthernetView(f).setSource(hex('020000000001'));
  assert.equal(new EthernetView(f).sourceText, '02:00:00:00:00:01');
  assert.deepEqual(f.subarray(0, 6), QINQ.subarray(0, 6));
});

test('802.1ad S-tag then 802.1Q C-tag: each tag is a view after its TPID', () => {
  const s = new VlanTagView(QINQ, 14);
  assert.ok(isVlanEtherType(0x88a8) && isVlanEtherType(0x8100) && !isVlanEtherType(0x0800));
  assert.deepEqual([s.pcp, s.dei, s.vid, s.etherType], [5, 0, 100, 0x8100]);
  const c = new VlanTagView(QINQ, s.payloadOffset);
  assert.deepEqual([c.pcp, c.dei, c.vid, c.etherType], [3, 1, 200, 0x0800]);
  assert.equal(c.payloadOffset, 22);
});

test('vlan: vid and pcp writes keep the other TCI bits', () => {
  const f = QINQ.slice();
  const c = new VlanTagView(f, 18);
  c.vid = 4094;
  c.pcp = 7;
  assert.deepEqual([c.pcp, c.dei, c.vid], [7, 1, 4094]);
});

test('ethernet and vlan: impossible lengths are the typed parse error', () => {
  expectParseError(() => new EthernetView(QINQ.subarray(0, 13)));
  expectParseError(() => new EthernetView(QINQ, QINQ.length - 10));
  expectParseError(() => new VlanTagView(QINQ, QINQ.length - 3));
});

// Ether()/ARP(op=1, hwsrc=00:11:22:33:44:55, psrc=10.0.0.1, pdst=10.0.0.2)
const ARP_REQ = hex('0001 0800 06 04 0001 001122334455 0a000001 000000000000 0a000002');

test('arp: Ethernet/IPv4 request fields', () => {
  const a = new ArpView(ARP_REQ);
  assert.deepEqual([a.hardwareType, a.protocolType, a.hardwareSize, a.protocolSize, a.opcode], [1, 0x0800, 6, 4, 1]);
  assert.ok(a.isEthernetIPv4);
  assert.equal(a.senderHardwareText(), '00:11:22:33:44:55');
  assert.equal(a.senderProtocolText(), '10.0.0.1');
  assert.equal(a.targetHardwareText(), '00:00:00:00:00:00');
  assert.equal(a.targetProtocolText(), '10.0.0.2');
  assert.equal(a.length, 28);
});

test('arp: address sizes that overrun the packet are rejected', () => {
  const bad = ARP_REQ.slice();
  bad[4] = 200; // hardware size
  expectParseError(() => new ArpView(bad));
  expectParseError(() => new ArpView(ARP_REQ.subarray(0, 27)));
  expectParseError(() => new ArpView(ARP_REQ.subarray(0, 7)));
});

test('linux cooked v1 and v2 headers', () => {
  // SLL: outgoing (4), ARPHRD_ETHER, 6-byte address, 2 bytes padding, IPv4.
  const v1 = new SllView(hex('0004 0001 0006 001122334455 0000 0800 45'));
  assert.deepEqual([v1.packetType, v1.hatype, v1.addressLength, v1.protocol, v1.payloadOffset], [4, 1, 6, 0x0800, 16]);
  // SLL2: IPv6, reserved, ifindex 3, ARPHRD_ETHER, host (0), 6-byte address.
  const v2 = new Sll2View(hex('86dd 0000 00000003 0001 00 06 001122334455 0000 60'));
  assert.deepEqual([v2.protocol, v2.interfaceIndex, v2.hatype, v2.packetType, v2.addressLength, v2.payloadOffset], [0x86dd, 3, 1, 0, 6, 20]);
  expectParseError(() => new SllView(new Uint8Array(15)));
  expectParseError(() => new Sll2View(new Uint8Array(19)));
});
