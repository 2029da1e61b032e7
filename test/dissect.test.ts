import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_FIELDS, dissect } from '../src/packet/dissect.js';
import type { Dissection } from '../src/packet/dissect.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Asserts the listed fields (and only checks those). */
function expectFields(d: Dissection, want: Record<string, number | string | undefined>): void {
  const got: Record<string, unknown> = {};
  for (const k of Object.keys(want)) got[k] = d.fields[k];
  assert.deepEqual(got, want);
}

const ETH = '66778899aabb 001122334455';
// IP(192.0.2.1 > 198.51.100.7, Router Alert option)/TCP SYN with options.
const IP_TCP = '46b90040123440004006a68ac0000201c633640794040000' +
  '9c400016000000010000000 0a00220009f080000020405b40402080a000000640000000001030307';

test('ethernet / IPv4 / TCP: the CLI.md fields with Wireshark names, units and formats', () => {
  const d = dissect(hex(ETH + '0800' + IP_TCP), 1);
  assert.equal(d.malformed, undefined);
  assert.deepEqual(d.layers.map((l) => l.name), ['eth', 'ip', 'tcp']);
  expectFields(d, {
    'frame.len': 78, 'eth.dst': '66:77:88:99:aa:bb', 'eth.src': '00:11:22:33:44:55', 'eth.type': 0x0800,
    'ip.version': 4, 'ip.hdr_len': 24, 'ip.dsfield.dscp': 46, 'ip.dsfield.ecn': 1, 'ip.len': 64, 'ip.id': 0x1234,
    'ip.flags.df': 1, 'ip.frag_offset': 0, 'ip.ttl': 64, 'ip.proto': 6, 'ip.checksum': 0xa68a,
    'ip.src': '192.0.2.1', 'ip.dst': '198.51.100.7',
    'tcp.srcport': 40000, 'tcp.dstport': 22, 'tcp.seq_raw': 1, 'tcp.ack_raw': 0, 'tcp.flags': 2,
    'tcp.window_size_value': 8192, 'tcp.options.mss_val': 1460, 'tcp.options.wscale.shift': 7,
    'tcp.options.timestamp.tsval': 100, 'tcp.len': 0, 'tcp.hdr_len': 40,
  });
});

test('raw IP link types: 101 picks the version from the first nibble; 228 and 229 are fixed', () => {
  const v4 = hex(IP_TCP);
  for (const lt of [101, 228]) {
    const d = dissect(v4, lt);
    assert.deepEqual(d.layers.map((l) => l.name), ['ip', 'tcp'], `link type ${lt}`);
    assert.equal(d.fields['eth.src'], undefined);
  }
  const v6 = hex('6000000000083a4020010db800000000000000000000000120010db8000000000000000000000002 8000 7d67 0001 0001');
  for (const lt of [101, 229]) {
    const d = dissect(v6, lt);
    expectFields(d, { 'ipv6.src': '2001:db8::1', 'icmpv6.type': 128, 'icmpv6.echo.identifier': 1, 'ip.version': 6 });
  }
  assert.match(dissect(v6, 228).malformed ?? '', /version 6/, 'IPv6 bytes on the IPv4 link type');
});

test('linux cooked v1 and v2 captures', () => {
  const v1 = dissect(hex('0004 0001 0006 001122334455 0000 0800' + IP_TCP), 113);
  expectFields(v1, { 'sll.pkttype': 4, 'sll.hatype': 1, 'sll.halen': 6, 'sll.src.eth': '00:11:22:33:44:55', 'sll.etype': 0x0800, 'ip.src': '192.0.2.1', 'tcp.dstport': 22 });
  const v2 = dissect(hex('0800 0000 00000003 0001 00 06 001122334455 0000' + IP_TCP), 276);
  expectFields(v2, { 'sll.etype': 0x0800, 'sll.ifindex': 3, 'sll.pkttype': 0, 'ip.dst': '198.51.100.7', 'tcp.srcport': 40000 });
});

test('stacked VLAN tags: 802.1ad is ieee8021ad.*, 802.1Q is vlan.* (Wireshark\'s naming)', () => {
  const d = dissect(hex('66778899aabb00112233445588a8a064810070c808004500001c00010000401166ce0a0000010a00000204d200350008e6d4'), 1);
  assert.deepEqual(d.layers.map((l) => l.name), ['eth', 'ieee8021ad', 'vlan', 'ip', 'udp']);
  expectFields(d, { 'eth.type': 0x88a8, 'ieee8021ad.id': 100, 'ieee8021ad.priority': 5, 'vlan.id': 200, 'vlan.priority': 3, 'vlan.dei': 1, 'vlan.etype': 0x0800, 'udp.dstport': 53, 'udp.length': 8 });
});

test('a field that occurs twice holds its first, outermost occurrence; layers keep both', () => {
  // ICMP port unreachable quoting 10.0.0.2 > 10.0.0.9 UDP 1111 > 53.
  const d = dissect(hex(ETH + '0800' + '4500003800070000400166bc0a0000010a000002030311210000000' +
    '04500001c00090000401166be0a0000020a000009045700350008e747'), 1);
  assert.deepEqual(d.layers.map((l) => `${l.name}${l.quoted ? '*' : ''}`), ['eth', 'ip', 'icmp', 'ip*', 'udp*']);
  expectFields(d, { 'ip.src': '10.0.0.1', 'ip.dst': '10.0.0.2', 'ip.id': 7, 'icmp.type': 3, 'icmp.code': 3, 'udp.srcport': 1111, 'udp.dstport': 53 });
  assert.equal(d.layers[3]!.fields['ip.dst'], '10.0.0.9');
});

test('IPv6 extension headers each become a layer, walked to the transport', () => {
  const d = dissect(hex('6b812345004d004020010db8000000000000000000000001 20010db8000000000000000000000002' +
    '2b00050200000100 2c04040101000000 20010db800000000000000000000000a 20010db800000000000000000000000b' +
    '3c000001abcdef01 1100010400000000 13881770000d358d68656c6c6f'), 229);
  assert.deepEqual(d.layers.map((l) => l.name), ['ipv6', 'ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'udp']);
  expectFields(d, {
    'ipv6.tclass': 0xb8, 'ipv6.flow': 0x12345, 'ipv6.plen': 77, 'ipv6.nxt': 0, 'ipv6.hlim': 64,
    'ipv6.routing.type': 4, 'ipv6.routing.segleft': 1, 'ipv6.routing.srh.last_entry': 1, 'ipv6.routing.srh.addr': '2001:db8::a',
    'ipv6.fraghdr.more': 1, 'ipv6.fraghdr.ident': 0xabcdef01, 'udp.srcport': 5000, 'udp.length': 13,
  });
});

test('ESP in UDP on 4500, and the non-ESP marker and keepalive are not ESP', () => {
  const ip = (payload: string, len: number) => {
    const total = 28 + len;
    return hex(`450000${total.toString(16).padStart(2, '0')}00010000401100000a0000010a000002 11941194 00${(8 + len).toString(16).padStart(2, '0')} 0000 ${payload}`);
  };
  const esp = dissect(ip('00000100 00000001 0000000000000000', 16), 228);
  expectFields(esp, { 'esp.spi': 256, 'esp.sequence': 1 });
  assert.deepEqual(esp.layers.map((l) => l.name), ['ip', 'udp', 'udpencap', 'esp']);
  const ike = dissect(ip('00000000 0102030405060708', 12), 228);
  assert.deepEqual(ike.layers.map((l) => l.name), ['ip', 'udp', 'udpencap', 'isakmp']);
  assert.equal(ike.fields['esp.spi'], undefined);
  const ka = dissect(ip('ff', 1), 228);
  assert.deepEqual(ka.layers.map((l) => l.name), ['ip', 'udp', 'udpencap']);
});

test('a non-first fragment is not decoded past IP; a first fragment is', () => {
  const later = dissect(hex('4500001c000120034011000 00a0000010a000002 0000000000000000'), 228);
  assert.deepEqual(later.layers.map((l) => l.name), ['ip']);
  expectFields(later, { 'ip.frag_offset': 3, 'ip.flags.mf': 1 });
  const first = dissect(hex('4500001c000120004011000 00a0000010a000002 04d2003500080000'), 228);
  assert.deepEqual(first.layers.map((l) => l.name), ['ip', 'udp']);
});

test('truncated and malformed frames: the fields so far plus a reason, never an exception', () => {
  const full = hex(ETH + '0800' + IP_TCP);
  const cut = dissect(full.subarray(0, 14 + 24 + 10), 1);
  assert.match(cut.malformed ?? '', /tcp/);
  expectFields(cut, { 'ip.src': '192.0.2.1', 'tcp.srcport': undefined });
  assert.match(dissect(full.subarray(0, 10), 1).malformed ?? '', /ethernet/);
  assert.match(dissect(new Uint8Array(0), 101).malformed ?? '', /empty/);
  assert.match(dissect(full, 9999).malformed ?? '', /unsupported link type 9999/);
  const badIhl = full.slice();
  badIhl[14] = 0x43;
  assert.match(dissect(badIhl, 1).malformed ?? '', /header length 12/);
});

test('the CLI.md field list', () => {
  assert.equal(CLI_FIELDS.length, 42);
  for (const f of ['frame.len', 'vlan.id', 'arp.opcode', 'ip.frag_offset', 'ipv6.flow', 'tcp.options.mss_val', 'udp.length', 'icmpv6.code', 'esp.sequence']) {
    assert.ok(CLI_FIELDS.includes(f), f);
  }
});
