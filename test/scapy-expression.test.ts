/**
 * The packet-expression language: literals as Python reads them, scapy's
 * defaults and bindings, nfx's fixed address defaults, and the Ether() that
 * is added for an Ethernet link. (Byte-for-byte agreement with scapy over
 * random expressions is scapy-differential.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPacket, LAYERS, packetFromExpression, parsePacketExpression } from '../src/packet/scapy/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const expectBytes = (expr: string, h: string, opts?: Parameters<typeof packetFromExpression>[1]) => assert.equal(hex(packetFromExpression(expr, opts)), h, expr);
const load = (lit: string) => hex(packetFromExpression(`Raw(load=${lit})`));

test('the CLI.md example builds as scapy builds it', () => {
  expectBytes(
    'Ether(dst="02:00:00:00:00:02",src="02:00:00:00:00:01")/Dot1Q(vlan=5)/IP(src="10.0.0.1",dst="10.0.0.2",ttl=3)/TCP(sport=40000,dport=22,flags="S")/Raw(load="hi")',
    '0200000000020200000000018100000508004500002a000100000306a3cb0a0000010a0000029c400016000000000000000050022000771e00006869',
  );
});

test('string literals follow Python: escapes, raw strings, text encoded as UTF-8, bytes as is', () => {
  assert.equal(load('"a\\x41\\n\\t\\\\\\"\\0"'), '61410a095c2200');
  assert.equal(load("'it\\'s'"), '69742773');
  assert.equal(load('"\\xff"'), 'c3bf'); // text: U+00FF, encoded as UTF-8 like scapy's bytes_encode
  assert.equal(load('b"\\xff"'), 'ff'); // bytes: the byte itself
  assert.equal(load('"\\u20ac€\\U0001F600"'), 'e282ace282acf09f9880');
  assert.equal(load('"\\101\\7"'), '4107'); // octal escapes
  assert.equal(load('r"\\x41"'), '5c783431'); // raw: no escapes
  assert.equal(load('"\\q"'), '5c71'); // unknown escapes keep the backslash
  assert.equal(load('""'), '');
});

test('integer literals follow Python: decimal, 0x, 0o, 0b, underscores; True/False are 1/0', () => {
  const ports = (e: string) => hex(packetFromExpression(e).subarray(0, 4));
  assert.equal(ports('UDP(sport=0x1F90,dport=8_080)'), '1f901f90');
  assert.equal(ports('UDP(sport=0o17,dport=0b101)'), '000f0005');
  assert.equal(ports('UDP(sport=True,dport=False)'), '00010000');
});

test('a bare string after a layer is a Raw payload', () => {
  assert.equal(hex(packetFromExpression('UDP(sport=1,dport=2,chksum=0)/"ab"/b"c"')), '00010002000b0000616263');
});

test('scapy defaults: IP id 1, ttl 64; TCP 20 → 80 SYN window 8192; UDP 53 → 53', () => {
  expectBytes('IP(src="10.0.0.1",dst="10.0.0.2")/TCP(sport=40000,dport=22,flags="S")', '4500002800010000400666cd0a0000010a0000029c400016000000000000000050022000df890000');
  const tcp = packetFromExpression('TCP()');
  assert.equal(hex(tcp), '0014005000000000000000005002200000000000'); // no IP below: checksum left 0, as scapy does
});

test('addresses scapy takes from the machine have fixed defaults here', () => {
  // IP/IPv6 src and dst: loopback; Ether: broadcast from 00:00:00:00:00:00; ARP: zero sender.
  expectBytes('IP()/UDP()', '4500001c0001000040117cce7f0000017f0000010035003500080172');
  expectBytes('IPv6()/UDP()', '60000000000811400000000000000000000000000000000100000000000000000000000000000001003500350008ff72');
  expectBytes('Ether()/ARP()', 'ffffffffffff000000000000080600010800060400010000000000000000000000000000000000000000');
});

test('bindings: the upper layer sets type/proto/nh and ports in the layer below, unless given', () => {
  const b = packetFromExpression('IP()/UDP()/ESP()');
  assert.equal(b[9], 17);
  assert.equal(hex(b.subarray(20, 24)), '11940035'); // scapy binds ESP on UDP with sport 4500
  const n = packetFromExpression('IP()/UDP()/NAT_KEEPALIVE()');
  assert.equal(hex(n.subarray(20, 24)), '11941194');
  assert.equal(n[28], 0xff);
  assert.equal(packetFromExpression('IP(proto=99)/TCP()')[9], 99); // given values win
  const igmp = packetFromExpression('IP()/IGMPv3()/IGMPv3mq()');
  assert.deepEqual([igmp[1], igmp[8], hex(igmp.subarray(16, 20))], [0xc0, 1, 'e0000016']); // tos, ttl, dst 224.0.0.22
});

test('link "ether" adds Ether() in front of a layer-3 expression, addressed as asked', () => {
  const opts = { link: 'ether' as const, defaultEther: { src: '02:00:00:00:00:01', dst: 'aa:bb:cc:dd:ee:ff' } };
  expectBytes('IPv6(src="::1",dst="::1")/ICMPv6EchoRequest()', 'aabbccddeeff02000000000186dd6000000000083a40000000000000000000000000000000010000000000000000000000000000000180007fbb00000000', opts);
  // Default addresses, and the ARP EtherType from the binding.
  expectBytes('ARP()', 'ffffffffffff000000000000080600010800060400010000000000000000000000000000000000000000', { link: 'ether' });
  // Already an Ethernet frame, or not a network layer: nothing is added.
  expectBytes('Ether(src="00:00:00:00:00:01",dst="00:00:00:00:00:02")/Raw(load="x")', '000000000002000000000001900078', { link: 'ether' });
  expectBytes('UDP(chksum=0)', '0035003500080000', { link: 'ether' });
  // 'raw' (the default) builds exactly what was written.
  expectBytes('IP()/UDP()', '4500001c0001000040117cce7f0000017f0000010035003500080172', { link: 'raw' });
});

test('the parsed form keeps every layer with its source location', () => {
  const p = parsePacketExpression('IP(ttl=3)/TCP(dport=22)');
  assert.deepEqual(p.layers.map((l) => [l.def.name, l.loc]), [['IP', { start: 0, end: 9 }], ['TCP', { start: 10, end: 23 }]]);
  assert.equal(p.layers[0]!.set.get('ttl'), 3);
  assert.equal(p.layers[0]!.over['proto'], 6);
  // Building does not change the parsed form: it can be built again, with or without Ether().
  const a = hex(buildPacket(p));
  buildPacket(p, { link: 'ether' });
  assert.equal(hex(buildPacket(p)), a);
});

test('every layer the brief names is registered, with scapy field names', () => {
  const names = new Set(LAYERS.map((l) => l.name));
  for (const n of [
    'Ether', 'Dot1Q', 'Dot1AD', 'ARP', 'IP', 'IPv6', 'IPv6ExtHdrHopByHop', 'IPv6ExtHdrRouting', 'IPv6ExtHdrSegmentRouting', 'IPv6ExtHdrFragment',
    'IPv6ExtHdrDestOpt', 'TCP', 'UDP', 'UDPLite', 'SCTP', 'DCCP', 'ICMP', 'ICMPv6EchoRequest', 'ICMPv6EchoReply', 'ICMPv6DestUnreach',
    'ICMPv6PacketTooBig', 'ICMPv6TimeExceeded', 'ICMPv6ParamProblem', 'ICMPv6ND_RS', 'ICMPv6ND_RA', 'ICMPv6ND_NS', 'ICMPv6ND_NA',
    'ICMPv6ND_Redirect', 'ICMPv6NDOptSrcLLAddr', 'ICMPv6NDOptDstLLAddr', 'ICMPv6NDOptPrefixInfo', 'ICMPv6NDOptMTU', 'IPerror', 'TCPerror',
    'UDPerror', 'ICMPerror', 'IPerror6', 'IGMP', 'IGMPv3', 'ICMPv6MLQuery', 'ICMPv6MLReport', 'ESP', 'AH', 'GRE', 'NON_ESP', 'NAT_KEEPALIVE',
    'Raw', 'Padding',
  ]) assert.ok(names.has(n), n);
  const ip = LAYERS.find((l) => l.name === 'IP')!;
  assert.deepEqual(ip.fields.map((f) => f.name), ['version', 'ihl', 'tos', 'len', 'id', 'flags', 'frag', 'ttl', 'proto', 'chksum', 'src', 'dst', 'options']);
  const tcp = LAYERS.find((l) => l.name === 'TCP')!;
  assert.deepEqual(tcp.fields.map((f) => [f.name, f.default]).slice(0, 10), [
    ['sport', 20], ['dport', 80], ['seq', 0], ['ack', 0], ['dataofs', null], ['reserved', 0], ['flags', 2], ['window', 8192], ['chksum', null], ['urgptr', 0],
  ]);
});
