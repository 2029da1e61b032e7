/**
 * The host packet path against the behaviour observed on Linux 6.18
 * (KERNEL-NOTES.md): each spec sends one packet into a router and checks its
 * fate, drop reason, the deciding rule or check, and what left the host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { buildRuleset, expectFate, routerHost, rule } from '../src/host/path/testing.js';
import { fragmentIpv4 } from '../src/host/path/fragment.js';
import { sysctlSet } from '../src/host/sysctl.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import type { Ruleset } from '../src/netfilter/ruleset.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';

const IP = 2, IP6 = 10, INET = 1;
const PRE = 0, IN = 1, FWD = 2, OUT = 3;

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }
function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

const DROP = '[ immediate reg 0 drop ]';
const TTL_EQ_64 = '[ payload load 1b @ network header + 8 => reg 1 ]\n[ cmp eq reg 1 0x00000040 ]';
const TCP_DPORT = (p: number): string => `[ meta load l4proto => reg 1 ]\n[ cmp eq reg 1 0x00000006 ]\n[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp eq reg 1 0x0000${(((p & 0xff) << 8) | (p >> 8)).toString(16).padStart(4, '0')} ]`;

function handleOf(r: Ruleset, family: number, table: string, chain: string, i = 0): number {
  return r.table(family, table)!.chains.get(chain)!.rules[i]!.handle!;
}

test('TTL is decremented before FORWARD: "ip ttl 64" never matches a packet sent with 64', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'fwd', hook: FWD, rules: [rule(`${TTL_EQ_64}\n${DROP}`, 'ip ttl 64 drop')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=64)/TCP(sport=40000,dport=80,flags="S")'), true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(out.emitted[0]!.frame[14 + 8], 63, 'the frame leaves with TTL 63');
  const hit = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=65)/TCP(sport=40000,dport=80,flags="S")'), true);
  expectFate(hit, { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { family: 'ip', table: 'f', chain: 'fwd', handle: handleOf(rs, IP, 'f', 'fwd') } });
});

test('TTL 1 never reaches FORWARD; its time exceeded is made locally and crosses OUTPUT', () => {
  const rs = buildRuleset([
    { family: IP, table: 'f', chain: 'fwd', hook: FWD, rules: [rule('[ counter pkts 0 bytes 0 ]')] },
    { family: IP, table: 'f', chain: 'out', hook: OUT },
  ]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/UDP(sport=1000,dport=53)'), true);
  expectFate(out, { fate: 'dropped', reason: 'IP_INHDR', check: /TTL 1/, emitted: ['lan0'] });
  assert.equal((rs.table(IP, 'f')!.chains.get('fwd')!.rules[0]!.exprs[0] as CounterExpr).packets, 0, 'FORWARD never saw it');
  assert.ok(out.trace.some((t) => t.hook === 'output' && t.generated), 'the ICMP error crossed OUTPUT');
  const icmp = out.emitted[0]!.frame.subarray(14);
  assert.equal(icmp[9], 1);
  assert.equal(icmp[20], 11, 'time exceeded');
  assert.equal(hex(icmp.subarray(12, 16)), hex(new Uint8Array([10, 0, 1, 1])), 'from the address of the interface it arrived on');
  assert.equal(icmp[28 + 8], 1, 'the quoted header carries the TTL it arrived with');

  const dropOut = buildRuleset([{ family: IP, table: 'f', chain: 'out', hook: OUT, policy: 0 }]);
  const p2 = new HostPath(routerHost(), { ruleset: dropOut });
  const killed = p2.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/UDP(sport=1000,dport=53)'), true);
  expectFate(killed, { fate: 'dropped', reason: 'IP_INHDR', emitted: [] });
  assert.deepEqual(killed.trace.map((t) => [t.hook, t.handle, t.verdict, t.generated]), [['output', null, 'drop', true]]);
});

test('a bad IPv4 header checksum is dropped before PREROUTING', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'pre', hook: PRE, rules: [rule('[ counter pkts 0 bytes 0 ]')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const bytes = l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(dport=80,flags="S")');
  bytes[10] ^= 0xff;
  expectFate(path.receive('lan0', bytes, true), { fate: 'dropped', reason: 'IP_CSUM', emitted: [] });
  assert.equal((rs.table(IP, 'f')!.chains.get('pre')!.rules[0]!.exprs[0] as CounterExpr).packets, 0);
});

test('counters count layer-3 bytes: a bare SYN in an Ethernet frame is 40', () => {
  const rs = buildRuleset([{ family: INET, table: 'f', chain: 'pre', hook: PRE, rules: [rule('[ counter pkts 0 bytes 0 ]')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const frame = packetFromExpression('Ether(dst="02:00:00:00:01:01",src="02:00:00:00:01:02")/IP(src="10.0.1.2",dst="198.51.100.7")/TCP(dport=80,flags="S")');
  assert.equal(frame.length, 54);
  expectFate(path.receive('lan0', frame), { fate: 'forwarded', emitted: ['wan0'] });
  const c = rs.table(INET, 'f')!.chains.get('pre')!.rules[0]!.exprs[0] as CounterExpr;
  assert.deepEqual([c.packets, c.bytes], [1, 40]);
});

test('a source address of our own is dropped before INPUT and FORWARD', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'in', hook: IN, rules: [rule('[ counter pkts 0 bytes 0 ]')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  expectFate(path.receive('lan0', l3('IP(src="192.0.2.1",dst="10.0.1.1")/ICMP()'), true), { fate: 'dropped', reason: 'IP_LOCAL_SOURCE', emitted: [] });
  expectFate(path.receive('lan0', l3('IP(src="192.0.2.1",dst="198.51.100.7")/ICMP()'), true), { fate: 'dropped', reason: 'IP_LOCAL_SOURCE', emitted: [] });
  expectFate(path.receive('lan0', l3('IP(src="224.0.0.5",dst="10.0.1.1")/ICMP()'), true), { fate: 'dropped', reason: 'IP_INVALID_SOURCE' });
  assert.equal((rs.table(IP, 'f')!.chains.get('in')!.rules[0]!.exprs[0] as CounterExpr).packets, 0);
});

test('rp_filter=1 drops a source whose route back leaves by another interface', () => {
  const h = routerHost();
  sysctlSet(h, 'net.ipv4.conf.all.rp_filter', '1');
  const path = new HostPath(h);
  expectFate(path.receive('wan0', l3('IP(src="10.0.1.9",dst="10.0.1.2")/ICMP()'), true), { fate: 'dropped', reason: 'IP_RPFILTER' });
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.9",dst="198.51.100.7")/ICMP()'), true), { fate: 'forwarded', emitted: ['wan0'] });
});

test('broadcasts are delivered locally, including the other link\'s subnet broadcast', () => {
  const path = new HostPath(routerHost());
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.1.255")/UDP(sport=1000,dport=9)'), true), { fate: 'delivered', emitted: [] });
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="192.0.2.255")/UDP(sport=1000,dport=9)'), true), { fate: 'delivered', emitted: [] });
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="255.255.255.255")/UDP(sport=68,dport=67)'), true), { fate: 'delivered', emitted: [] });
});

test('the router answers an echo request with an echo reply', () => {
  const path = new HostPath(routerHost());
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="192.0.2.1")/ICMP(id=7,seq=3)/Raw(load="ping")'), true);
  expectFate(out, { fate: 'delivered', emitted: ['lan0'] });
  const r = out.emitted[0]!.frame;
  assert.equal(hex(r.subarray(0, 12)), '020000000102020000000101');
  const ip = r.subarray(14);
  assert.equal(hex(ip.subarray(12, 20)), 'c0000201' + '0a000102', 'from the address asked, to the sender');
  assert.equal(ip[20], 0, 'echo reply');
  const req = l3('IP(src="10.0.1.2",dst="192.0.2.1")/ICMP(id=7,seq=3)/Raw(load="ping")');
  assert.equal(hex(ip.subarray(24)), hex(req.subarray(24)), 'id, sequence and data come back');
  let s = 0;
  for (let i = 20; i < ip.length; i += 2) s += (ip[i]! << 8) | (ip[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  assert.equal(s, 0xffff, 'ICMP checksum verifies');
});

test('TCP to a closed port gets a reset (seq 0, ack = seq + 1)', () => {
  const path = new HostPath(routerHost());
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,seq=1000,flags="S")'), true);
  expectFate(out, { fate: 'dropped', reason: 'NO_SOCKET', emitted: ['lan0'] });
  const want = l3('IP(src="10.0.1.1",dst="10.0.1.2",flags="DF",id=0,ttl=64)/TCP(sport=23,dport=40000,seq=0,ack=1001,flags="RA",window=0)');
  assert.equal(hex(out.emitted[0]!.frame.subarray(14)), hex(want));
  const listening = new HostPath(routerHost(), { listeners: [{ proto: 'tcp', port: 23 }] });
  expectFate(listening.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,flags="S")'), true), { fate: 'delivered', emitted: [] });
});

test('TCP in a link-layer broadcast frame to our address is discarded without a reset (tcp_v4_rcv: pkt_type != PACKET_HOST)', () => {
  const path = new HostPath(routerHost());
  const frame = packetFromExpression('Ether(dst="ff:ff:ff:ff:ff:ff",src="02:00:00:00:01:02")/IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,flags="S")', { link: 'ether' });
  expectFate(path.receive('lan0', frame, false), { fate: 'dropped', reason: 'NOT_SPECIFIED', emitted: [] });
  const unicast = packetFromExpression('Ether(dst="02:00:00:00:01:01",src="02:00:00:00:01:02")/IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,flags="S")', { link: 'ether' });
  expectFate(path.receive('lan0', unicast, false), { fate: 'dropped', reason: 'NO_SOCKET', emitted: ['lan0'] });
});

test('UDP to a closed port gets port unreachable from the address it was sent to', () => {
  const path = new HostPath(routerHost());
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="192.0.2.1")/UDP(sport=5000,dport=9)'), true);
  expectFate(out, { fate: 'dropped', reason: 'NO_SOCKET', emitted: ['lan0'] });
  const ip = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([ip[20], ip[21]], [3, 3]);
  assert.equal(hex(ip.subarray(12, 16)), 'c0000201');
  assert.equal(ip[1], 0xc0, 'precedence internetwork control');
});

test('without ip_forward a packet for elsewhere is dropped quietly', () => {
  const path = new HostPath(routerHost({ forward: false }));
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(dport=80,flags="S")'), true), { fate: 'dropped', reason: 'IP_INADDRERRORS', emitted: [] });
});

test('no route with forwarding on: ICMP net unreachable', () => {
  const h = routerHost();
  const path = new HostPath(h);
  path.host.routes = path.host.routes.filter((r) => !(r.family === 4 && r.plen === 0));
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(dport=80,flags="S")'), true);
  expectFate(out, { fate: 'dropped', reason: 'IP_INNOROUTES', emitted: ['lan0'] });
  assert.deepEqual([out.emitted[0]!.frame[14 + 20], out.emitted[0]!.frame[14 + 21]], [3, 0]);
});

test('a drop by a rule names the rule and its handle', () => {
  const rs = buildRuleset([{ family: INET, table: 'filter', chain: 'forward', hook: FWD, rules: [
    rule('[ counter pkts 0 bytes 0 ]'),
    rule(`${TCP_DPORT(22)}\n${DROP}`, 'tcp dport 22 drop'),
  ] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=22,flags="S")'), true);
  const h = handleOf(rs, INET, 'filter', 'forward', 1);
  expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { family: 'inet', table: 'filter', chain: 'forward', handle: h }, emitted: [] });
  assert.deepEqual(out.trace, [
    { hook: 'forward', family: 'inet', table: 'filter', chain: 'forward', handle: handleOf(rs, INET, 'filter', 'forward', 0), verdict: 'continue' },
    { hook: 'forward', family: 'inet', table: 'filter', chain: 'forward', handle: h, verdict: 'drop' },
  ]);
});

test('reject with tcp reset spoofs the original destination, seq 0, ack = seq + 1 + payload (byte-exact)', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'fwd', hook: FWD, rules: [rule(`${TCP_DPORT(23)}\n[ reject type 1 code 0 ]`, 'tcp dport 23 reject with tcp reset')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=23,seq=1000,flags="PA",ack=5)/Raw(load="hello")'), true);
  expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: ['lan0'] });
  // The segment had ACK: the reset's seq is its ack and the reset carries no ACK.
  let want = l3('IP(src="198.51.100.7",dst="10.0.1.2",flags="DF",id=0,ttl=64)/TCP(sport=23,dport=40000,seq=5,ack=0,flags="R",window=0)');
  assert.equal(hex(out.emitted[0]!.frame.subarray(14)), hex(want));
  const syn = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40001,dport=23,seq=1000,flags="S")/Raw(load="abc")'), true);
  want = l3('IP(src="198.51.100.7",dst="10.0.1.2",flags="DF",id=0,ttl=64)/TCP(sport=23,dport=40001,seq=0,ack=1004,flags="RA",window=0)');
  assert.equal(hex(syn.emitted[0]!.frame.subarray(14)), hex(want));
  assert.equal(hex(syn.emitted[0]!.frame.subarray(0, 12)), '020000000102020000000101');
});

test('reject with icmp port-unreachable in FORWARD comes from the inbound interface address', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'fwd', hook: FWD, rules: [rule(`${TCP_DPORT(25)}\n[ reject type 0 code 3 ]`)] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=9)/TCP(sport=40000,dport=25,flags="S")'), true);
  expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: ['lan0'] });
  const ip = out.emitted[0]!.frame.subarray(14);
  assert.equal(hex(ip.subarray(12, 16)), '0a000101');
  assert.deepEqual([ip[20], ip[21]], [3, 3]);
  assert.equal(ip[28 + 8], 8, 'the quoted header has the TTL already decremented');
});

test('a frame for another MAC is dropped as OTHERHOST', () => {
  const path = new HostPath(routerHost());
  const frame = packetFromExpression('Ether(dst="02:00:00:00:99:99",src="02:00:00:00:01:02")/IP(src="10.0.1.2",dst="10.0.1.1")/ICMP()');
  expectFate(path.receive('lan0', frame), { fate: 'dropped', reason: 'OTHERHOST' });
});

test('IPv6: hop limit decremented before FORWARD; hop limit 1 gets time exceeded', () => {
  const rs = buildRuleset([{ family: IP6, table: 'f', chain: 'fwd', hook: FWD, rules: [rule(`[ payload load 1b @ network header + 7 => reg 1 ]\n[ cmp eq reg 1 0x00000040 ]\n${DROP}`)] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:99::1",hlim=64)/UDP(sport=1000,dport=53)'), true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(out.emitted[0]!.frame[14 + 7], 63);
  const dead = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:99::1",hlim=1)/UDP(sport=1000,dport=53)'), true);
  expectFate(dead, { fate: 'dropped', reason: 'IP_INHDR', emitted: ['lan0'] });
  assert.equal(dead.emitted[0]!.frame[14 + 40], 3, 'ICMPv6 time exceeded');
});

test('IPv6: echo reply, and port unreachable for UDP', () => {
  const path = new HostPath(routerHost());
  const echo = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/ICMPv6EchoRequest(id=1,seq=1)'), true);
  expectFate(echo, { fate: 'delivered', emitted: ['lan0'] });
  assert.equal(echo.emitted[0]!.frame[14 + 40], 129);
  const udp = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/UDP(sport=1000,dport=9)'), true);
  expectFate(udp, { fate: 'dropped', reason: 'NO_SOCKET', emitted: ['lan0'] });
  assert.deepEqual([udp.emitted[0]!.frame[14 + 40], udp.emitted[0]!.frame[14 + 41]], [1, 4]);
});

test('ICMP errors are rate limited per icmp_ratelimit: 6 of 10 in a burst', () => {
  const h = routerHost();
  sysctlSet(h, 'net.ipv4.icmp_ratelimit', '1000');
  const path = new HostPath(h);
  let sent = 0;
  for (let i = 0; i < 10; i++) sent += path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/UDP(sport=1000,dport=53)'), true).emitted.length;
  assert.equal(sent, 6);
});

test('a packet sent by a local process crosses OUTPUT and POSTROUTING', () => {
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'out', hook: OUT, rules: [rule(`${TCP_DPORT(22)}\n${DROP}`)] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  expectFate(path.output(l3('IP(src="192.0.2.1",dst="198.51.100.7")/TCP(sport=1,dport=80,flags="S")')), { fate: 'forwarded', emitted: ['wan0'] });
  expectFate(path.output(l3('IP(src="192.0.2.1",dst="198.51.100.7")/TCP(sport=1,dport=22,flags="S")')), { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: [] });
});

test('conntrack is used when the ruleset needs it: a FIN with no connection is invalid and dropped by "ct state invalid drop"', () => {
  const rs = buildRuleset([{ family: INET, table: 'f', chain: 'fwd', hook: FWD, rules: [
    rule(`[ ct load state => reg 1 ]\n[ bitwise reg 1 = ( reg 1 & 0x00000001 ) ^ 0x00000000 ]\n[ cmp neq reg 1 0x00000000 ]\n${DROP}`, 'ct state invalid drop'),
  ] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  assert.ok(path.ct, 'conntrack is loaded');
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="F")'), true),
    { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { table: 'f', chain: 'fwd', handle: handleOf(rs, INET, 'f', 'fwd') } });
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="S")'), true), { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(new HostPath(routerHost()).ct, undefined, 'no ct rule: no conntrack');
});

test('a forwarded packet over the MTU: DF gets fragmentation needed, no DF leaves in fragments', () => {
  const h = routerHost();
  h.links.find((l) => l.name === 'wan0')!.mtu = 1280;
  const path = new HostPath(h);
  const big = (df: boolean): Uint8Array => l3(`IP(src="10.0.1.2",dst="198.51.100.7"${df ? ',flags="DF"' : ''})/UDP(sport=1,dport=9)/Raw(load="${'x'.repeat(1472)}")`);
  const dfOut = path.receive('lan0', big(true), true);
  expectFate(dfOut, { fate: 'dropped', reason: 'PKT_TOO_BIG', emitted: ['lan0'] });
  const icmp = dfOut.emitted[0]!.frame.subarray(14);
  assert.deepEqual([icmp[20], icmp[21], (icmp[26]! << 8) | icmp[27]!], [3, 4, 1280]);
  const frags = path.receive('lan0', big(false), true);
  expectFate(frags, { fate: 'forwarded', emitted: ['wan0', 'wan0'] });
  const [a, b] = frags.emitted.map((e) => e.frame.subarray(14));
  assert.deepEqual([(a![2]! << 8) | a![3]!, (a![6]! << 8) | a![7]!], [1276, 0x2000], 'first: 1256 bytes of data, MF');
  assert.deepEqual([(b![2]! << 8) | b![3]!, (b![6]! << 8) | b![7]!], [20 + 1480 - 1256, 1256 / 8], 'last: the rest at offset 157');
  assert.equal(a![8], 63);
});

test('a local packet to one of our own addresses loops back through lo and is answered', () => {
  const path = new HostPath(routerHost());
  const out = path.output(l3('IP(src="10.0.1.1",dst="192.0.2.1")/ICMP()'));
  expectFate(out, { fate: 'delivered', emitted: [] });
  assert.ok(out.steps.some((s) => s.kind === 'transmit' && /looped back through lo/.test(s.text)));
});

test('the fast mode (no steps, no rule events) reaches the same fates, reasons, deciders and frames', () => {
  const specs = [
    'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=22,flags="S")',
    'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="S")',
    'IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/UDP(sport=1,dport=2)',
    'IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=1,dport=23,flags="S")',
    'IP(src="192.0.2.1",dst="10.0.1.1")/ICMP()',
    'IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/ICMPv6EchoRequest()',
  ];
  const make = (detail: boolean): HostPath => new HostPath(routerHost(), { detail, ruleset: buildRuleset([{ family: INET, table: 'filter', chain: 'forward', hook: FWD, rules: [rule(`${TCP_DPORT(22)}\n${DROP}`)] }]) });
  const a = make(true), b = make(false);
  for (const e of specs) {
    const x = a.receive('lan0', l3(e), true), y = b.receive('lan0', l3(e), true);
    assert.deepEqual([y.fate, y.reason, y.dropBy, y.emitted.map((f) => hex(f.frame))], [x.fate, x.reason, x.dropBy, x.emitted.map((f) => hex(f.frame))], e);
    assert.deepEqual([y.steps.length, y.trace.length], [0, 0]);
  }
});

test('IPv6: reject with tcp reset in an inet table is byte-exact; icmpx port-unreachable becomes ICMPv6 code 4', () => {
  const rs = buildRuleset([{ family: INET, table: 'f', chain: 'fwd', hook: FWD, rules: [
    rule(`${TCP_DPORT(23)}\n[ reject type 1 code 0 ]`, 'tcp dport 23 reject with tcp reset'),
    rule(`${TCP_DPORT(25)}\n[ reject type 2 code 1 ]`, 'tcp dport 25 reject'),
  ] }]);
  const path = new HostPath(routerHost(), { ruleset: rs });
  const out = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:99::7")/TCP(sport=40000,dport=23,seq=7,flags="S")'), true);
  expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: ['lan0'] });
  const want = l3('IPv6(src="2001:db8:99::7",dst="2001:db8:1::2",hlim=64)/TCP(sport=23,dport=40000,seq=0,ack=8,flags="RA",window=0)');
  assert.equal(hex(out.emitted[0]!.frame.subarray(14)), hex(want));
  const icmp = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:99::7")/TCP(sport=40000,dport=25,flags="S")'), true);
  expectFate(icmp, { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: ['lan0'] });
  assert.deepEqual([icmp.emitted[0]!.frame[14 + 40], icmp.emitted[0]!.frame[14 + 41]], [1, 4]);
});

test('fragments: filtered one by one without conntrack; held, reassembled and refragmented with it', () => {
  const dgram = l3(`IP(src="10.0.1.2",dst="198.51.100.7",id=77)/UDP(sport=1000,dport=53)/Raw(load="${'q'.repeat(1000)}")`);
  const frags = fragmentIpv4(dgram, 600);
  assert.equal(frags.length, 2);
  const plain = new HostPath(routerHost());
  for (const f of frags) expectFate(plain.receive('lan0', f, true), { fate: 'forwarded', emitted: ['wan0'] });

  const rs = buildRuleset([{ family: INET, table: 'f', chain: 'fwd', hook: FWD, rules: [
    rule(`[ ct load state => reg 1 ]\n[ bitwise reg 1 = ( reg 1 & 0x00000001 ) ^ 0x00000000 ]\n[ cmp neq reg 1 0x00000000 ]\n${DROP}`),
  ] }]);
  const ct = new HostPath(routerHost(), { ruleset: rs });
  expectFate(ct.receive('lan0', frags[0]!, true), { fate: 'stolen', emitted: [] });
  const done = ct.receive('lan0', frags[1]!, true);
  expectFate(done, { fate: 'forwarded', emitted: ['wan0', 'wan0'] });
  done.emitted.forEach((e, i) => {
    const want = Uint8Array.from(frags[i]!);
    want[8] = want[8]! - 1;
    want[10] = 0; want[11] = 0;
    const got = Uint8Array.from(e.frame.subarray(14));
    got[10] = 0; got[11] = 0;
    assert.equal(hex(got), hex(want), `fragment ${i} leaves as it came, TTL decremented`);
  });
});
