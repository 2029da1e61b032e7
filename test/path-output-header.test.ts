/**
 * The link-layer pieces of output.ts that the walk and the flowtable share: dev_hard_header()
 * (`hardHeader`: destination and source MACs read from two places, the family's EtherType) and
 * neigh_hh_output() (`hhOutput`: a whole cached 14-byte header), both in front of the network
 * header without moving it, reallocating when there is no headroom; and the next hop's MAC
 * (`unicastNextHopMac`): a neighbour entry's, none for a FAILED one, else the answer ARP/NDP
 * would have given (derived from the address, as the walk's trace says).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packet } from '../src/packet/packet.js';
import { hardHeader, hhOutput, unicastNextHopMac } from '../src/host/path/output.js';
import { newHost } from '../src/host/model.js';
import { neighAdd } from '../src/host/rules.js';
import { deriveMac } from '../src/host/links.js';

const ip4 = Uint8Array.from([0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const DST = Uint8Array.from([2, 0, 0, 0, 0, 0xd]), SRC = Uint8Array.from([2, 0, 0, 0, 0, 0x5]);

for (const [name, make] of [['with headroom', () => Packet.from(ip4)], ['without headroom', () => Packet.wrap(ip4.slice())]] as const) {
  test(`hardHeader and hhOutput put the header in front of the network header (${name})`, () => {
    const a = make();
    hardHeader(a, Uint8Array.from([9, ...DST]), 1, SRC, 0, 4);
    assert.equal(a.buffer[a.head], 0x45, 'the packet still starts at its network header');
    assert.equal(a.macHeader, a.head - 14);
    assert.equal(hex(a.view(a.macHeader, a.tail)), `${hex(DST)}${hex(SRC)}0800${hex(ip4)}`);
    const b = make();
    hhOutput(b, Uint8Array.from([...DST, ...SRC, 0x86, 0xdd]));
    assert.equal(b.buffer[b.head], 0x45);
    assert.equal(hex(b.view(b.macHeader, b.tail)), `${hex(DST)}${hex(SRC)}86dd${hex(ip4)}`);
  });
}

test('unicastNextHopMac: the neighbour entry, nothing for a FAILED one, else the derived answer', () => {
  const host = newHost('nh');
  const next = Uint8Array.from([10, 0, 0, 2]), failed = Uint8Array.from([10, 0, 0, 3]), unknown = Uint8Array.from([10, 0, 0, 4]);
  neighAdd(host, { family: 4, dst: next, dev: 7, lladdr: DST, state: 'PERMANENT', router: false }, 'add');
  neighAdd(host, { family: 4, dst: failed, dev: 7, state: 'FAILED', router: false }, 'add');
  assert.deepEqual(unicastNextHopMac(host, 4, 7, Uint8Array.from([0, ...next]), 1), DST, 'read at the offset given');
  assert.equal(unicastNextHopMac(host, 4, 7, failed, 0), undefined);
  assert.deepEqual(unicastNextHopMac(host, 4, 7, unknown, 0), deriveMac('neighbour', '10.0.0.4'));
  assert.deepEqual(unicastNextHopMac(host, 4, 8, next, 0), deriveMac('neighbour', '10.0.0.2'), 'another device has no entry for it');
});
