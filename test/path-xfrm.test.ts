/**
 * IPsec in the host packet path, where Linux puts it: a gateway (routerHost:
 * lan0 10.0.1.1/24, wan0 192.0.2.1/24) with a tunnel to a peer gateway
 * 198.51.100.1 protecting 10.0.1.0/24 <-> 10.0.2.0/24. The peer is simulated
 * with the ESP engine directly: it encrypts with our inbound SA's keys and
 * decrypts with our outbound SA's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { explain } from '../src/cli/commands/why.js';
import { openPath, storePath } from '../src/host/path/state.js';
import { buildRuleset, expectFate, routerHost, rule } from '../src/host/path/testing.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Xfrm, ManualClock, ipXfrm, espSaConfigFromXfrm, formatXfrmStat, serializeXfrm } from '../src/xfrm/index.js';
import type { XfrmSA } from '../src/xfrm/index.js';
import { createEspSa, espInput, espOutput } from '../src/xfrm/esp/index.js';
import type { EspSa } from '../src/xfrm/esp/index.js';
import type { Ruleset } from '../src/netfilter/ruleset.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';

const IP = 2;
const FWD = 2, POST = 4;
const KEY_OUT = '0x' + '11'.repeat(20), KEY_IN = '0x' + '22'.repeat(20);

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }
function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

function xfrmCmd(x: Xfrm, line: string): void {
  const r = ipXfrm(line.split(/\s+/).filter(Boolean), x, {});
  assert.equal(r.status, 0, `ip xfrm ${line}: ${r.stderr}`);
}

/** Our SAD/SPD: out SA 0x1000 reqid 1, in SA 0x2000 reqid 2, tunnel policies out/in/fwd. */
function gatewayXfrm(extra: string[] = []): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x2000 reqid 2 mode tunnel replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  // Priority 100: a more urgent (lower) priority given by a test wins over them.
  xfrmCmd(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out priority 100 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  for (const dir of ['in', 'fwd'])
    xfrmCmd(x, `policy add src 10.0.2.0/24 dst 10.0.1.0/24 dir ${dir} priority 100 tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 2 mode tunnel`);
  for (const l of extra) xfrmCmd(x, l);
  return x;
}

function saBySpi(x: Xfrm, spi: number): XfrmSA { return x.sad.states.find((s) => s.spi === spi)!; }

/** The peer's half of our inbound SA: it sends what we receive. */
function peerSender(x: Xfrm, spi = 0x2000): EspSa { return createEspSa(espSaConfigFromXfrm(saBySpi(x, spi))); }
/** The peer's half of our outbound SA: it receives what we send. */
function peerReceiver(x: Xfrm): EspSa { return createEspSa(espSaConfigFromXfrm(saBySpi(x, 0x1000))); }

function espFrom(peer: EspSa, inner: Uint8Array): Uint8Array {
  const pkt = Packet.from(inner);
  const r = espOutput(peer, pkt);
  assert.ok(r.ok, 'the peer encrypts');
  return pkt.data.slice();
}

function stat(x: Xfrm, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(formatXfrmStat(x));
  return m ? Number(m[1]) : NaN;
}

const FROM_PEER_LAN = 'IP(src="10.0.2.5",dst="10.0.1.2",ttl=64)/UDP(sport=5000,dport=53)/Raw(load=b"hello")';
const TO_PEER_LAN = 'IP(src="10.0.1.2",dst="10.0.2.5",ttl=64)/TCP(sport=40000,dport=443,flags="S")';

/** A FORWARD chain with policy drop that accepts only packets with a secpath whose SA has reqid 2. */
function fwdNeedsIpsec(): Ruleset {
  return buildRuleset([{ family: IP, table: 'f', chain: 'fwd', hook: FWD, policy: 0, rules: [rule(
    '[ meta load secpath => reg 1 ]\n[ cmp eq reg 1 0x00000001 ]\n[ xfrm load in 0 reqid => reg 1 ]\n[ cmp eq reg 1 0x00000002 ]\n[ immediate reg 0 accept ]',
    'meta secpath exists ipsec in reqid 2 accept')] }]);
}

test('tunnel-mode ESP from the peer is decrypted, re-enters PREROUTING with a secpath and is forwarded to the LAN', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { ruleset: fwdNeedsIpsec(), xfrm: x });
  const inner = l3(FROM_PEER_LAN);
  const out = path.receive('wan0', espFrom(peerSender(x), inner), true);
  expectFate(out, { fate: 'forwarded', emitted: ['lan0'] });
  const sent = out.emitted[0]!.frame.subarray(14);
  assert.equal(sent[8], 63, 'the inner packet was forwarded (TTL decremented)');
  assert.equal(hex(sent.subarray(20)), hex(inner.subarray(20)), 'the inner UDP datagram is intact');
  assert.deepEqual(out.trace.map((t) => [t.hook, t.verdict]), [['forward', 'accept']], '`meta secpath exists ipsec in reqid 2` matched in FORWARD');
  const steps = out.steps.map((s) => s.text).join('\n');
  assert.match(steps, /decrypted by SA 0x00002000 reqid 2 \(tunnel mode\)/);
  assert.match(steps, /xfrm policy check \(fwd\): allowed by policy/);
  assert.equal(saBySpi(x, 0x2000).curlft.packets, 1, 'the SA counted the packet');
});

test('without a secpath the same inner packet is dropped: the fwd policy requires IPsec (XfrmInTmplMismatch)', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { xfrm: x });
  const out = path.receive('wan0', l3(FROM_PEER_LAN), true);
  expectFate(out, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInTmplMismatch/, emitted: [] });
  assert.equal(stat(x, 'XfrmInTmplMismatch'), 1);
});

test('outbound LAN traffic matching the out policy leaves encrypted to the peer, through POSTROUTING twice', () => {
  const x = gatewayXfrm();
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'post', hook: POST, rules: [rule(
    '[ xfrm load out 0 spi => reg 1 ]\n[ cmp eq reg 1 0x00100000 ]\n[ counter pkts 0 bytes 0 ]', 'ipsec out spi 0x1000 counter')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs, xfrm: x });
  const inner = l3(TO_PEER_LAN);
  const out = path.receive('lan0', inner, true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  const outer = out.emitted[0]!.frame.subarray(14);
  assert.equal(outer[9], 50, 'ESP');
  assert.equal(hex(outer.subarray(12, 20)), hex(new Uint8Array([192, 0, 2, 1, 198, 51, 100, 1])), 'outer 192.0.2.1 > 198.51.100.1');
  assert.equal(hex(outer.subarray(20, 28)), '0000100000000001', 'SPI 0x1000, sequence number 1');
  // The inner packet met POSTROUTING with its bundle (`ipsec out spi 0x1000` matched); the ESP packet met it again, without one.
  assert.deepEqual(out.trace.map((t) => [t.hook, t.handle === null ? 'policy' : 'rule']), [['postrouting', 'rule'], ['postrouting', 'policy'], ['postrouting', 'policy']]);
  assert.equal((rs.table(IP, 'f')!.chains.get('post')!.rules[0]!.exprs[2] as CounterExpr).packets, 1);
  const peer = peerReceiver(x);
  const pkt = Packet.from(outer);
  const r = espInput(peer, pkt);
  assert.ok(r.ok && r.kind === 'esp', 'the peer decrypts it');
  const back = pkt.data;
  assert.equal(back[8], 63, 'the inner was forwarded before encryption');
  assert.equal(hex(back.subarray(20)), hex(inner.subarray(20)), 'the inner TCP segment is intact');
  assert.equal(saBySpi(x, 0x1000).replay.oseq, 1, 'the SAD entry records the sequence number sent');
});

test('a replayed packet is dropped with XfrmInStateSeqError, and why names it', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { xfrm: x });
  const esp = espFrom(peerSender(x), l3(FROM_PEER_LAN));
  expectFate(path.receive('wan0', esp.slice(), true), { fate: 'forwarded', emitted: ['lan0'] });
  const again = path.receive('wan0', esp.slice(), true);
  expectFate(again, { fate: 'dropped', check: /XfrmInStateSeqError/, emitted: [] });
  assert.ok(again.steps.some((s) => s.kind === 'drop' && /XfrmInStateSeqError/.test(s.text)));
  assert.equal(stat(x, 'XfrmInStateSeqError'), 1);
  assert.equal(saBySpi(x, 0x2000).stats.replay, 1);
});

test('a tampered ICV is dropped with XfrmInStateProtoError', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { xfrm: x });
  const esp = espFrom(peerSender(x), l3(FROM_PEER_LAN));
  esp[esp.length - 1]! ^= 0x01;
  expectFate(path.receive('wan0', esp, true), { fate: 'dropped', check: /XfrmInStateProtoError/, emitted: [] });
  assert.equal(stat(x, 'XfrmInStateProtoError'), 1);
});

test('ESP for an unknown SPI is dropped with XfrmInNoStates', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { xfrm: x });
  const out = path.receive('wan0', l3('IP(src="198.51.100.1",dst="192.0.2.1")/ESP(spi=0x9999,seq=1)/Raw(load=b"0123456789abcdef0123456789abcdef")'), true);
  expectFate(out, { fate: 'dropped', check: /XfrmInNoStates.*spi 0x00009999/, emitted: [] });
  assert.equal(stat(x, 'XfrmInNoStates'), 1);
});

test('block policies drop in both directions: XfrmInPolBlock and XfrmOutPolBlock', () => {
  const x = gatewayXfrm([
    'policy add src 10.0.2.66/32 dst 10.0.1.0/24 dir fwd action block priority 1',
    'policy add src 10.0.1.0/24 dst 203.0.113.0/24 dir out action block',
  ]);
  const path = new HostPath(routerHost(), { xfrm: x });
  const inBlocked = path.receive('wan0', espFrom(peerSender(x), l3('IP(src="10.0.2.66",dst="10.0.1.2")/UDP(sport=1,dport=2)')), true);
  expectFate(inBlocked, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInPolBlock/, emitted: [] });
  const outBlocked = path.receive('lan0', l3('IP(src="10.0.1.2",dst="203.0.113.9")/UDP(sport=1,dport=2)'), true);
  expectFate(outBlocked, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmOutPolBlock/, emitted: [] });
  assert.equal(stat(x, 'XfrmInPolBlock'), 1);
  assert.equal(stat(x, 'XfrmOutPolBlock'), 1);
});

test('an out policy without an SA for its template drops with XfrmOutNoStates and an acquire', () => {
  const x = gatewayXfrm(['policy add src 10.0.1.0/24 dst 10.0.3.0/24 dir out tmpl src 192.0.2.1 dst 198.51.100.3 proto esp reqid 3 mode tunnel']);
  const acquires: unknown[] = [];
  x.events.subscribe((e) => { if (e.type === 'acquire') acquires.push(e); }, ['acquire']);
  const path = new HostPath(routerHost(), { xfrm: x });
  expectFate(path.receive('lan0', l3('IP(src="10.0.1.2",dst="10.0.3.4")/UDP(sport=1,dport=2)'), true), { fate: 'dropped', check: /XfrmOutNoStates/, emitted: [] });
  assert.equal(stat(x, 'XfrmOutNoStates'), 1);
  assert.equal(acquires.length, 1, 'the key manager is asked for an SA');
});

test('without xfrm states or policies the walk is unchanged; the state survives openPath/storePath', () => {
  const host = routerHost();
  const plain = new HostPath(host).receive('wan0', l3(FROM_PEER_LAN), true);
  expectFate(plain, { fate: 'forwarded', emitted: ['lan0'] });
  const x = gatewayXfrm();
  host.sections['xfrm'] = serializeXfrm(x);
  const p1 = openPath(host);
  const esp = espFrom(peerSender(x), l3(FROM_PEER_LAN));
  expectFate(p1.receive('wan0', esp.slice(), true), { fate: 'forwarded', emitted: ['lan0'] });
  storePath(host, p1);
  const p2 = openPath(host);
  assert.equal(p2.xfrm?.sad.states.find((s) => s.spi === 0x2000)?.replay.seq, 1, 'the replay state was saved with the host');
  expectFate(p2.receive('wan0', esp.slice(), true), { fate: 'dropped', check: /XfrmInStateSeqError/ });
});

test('transport mode to the host: INPUT sees the ESP packet, then the decrypted echo; the reply leaves in ESP', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x3000 reqid 3 mode transport replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x3001 reqid 3 mode transport aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, 'policy add src 198.51.100.1/32 dst 192.0.2.1/32 dir in tmpl proto esp reqid 3 mode transport');
  xfrmCmd(x, 'policy add src 192.0.2.1/32 dst 198.51.100.1/32 dir out tmpl proto esp reqid 3 mode transport');
  const rs = buildRuleset([{ family: IP, table: 'f', chain: 'in', hook: 1, rules: [rule(
    '[ xfrm load in 0 spi => reg 1 ]\n[ cmp eq reg 1 0x00300000 ]\n[ counter pkts 0 bytes 0 ]', 'ipsec in spi 0x3000 counter')] }]);
  const path = new HostPath(routerHost(), { ruleset: rs, xfrm: x });
  const echo = l3('IP(src="198.51.100.1",dst="192.0.2.1")/ICMP(type=8,id=7,seq=1)/Raw(load=b"ping")');
  const out = path.receive('wan0', espFrom(peerSender(x, 0x3000), echo), true);
  expectFate(out, { fate: 'delivered', emitted: ['wan0'] });
  assert.deepEqual(out.trace.filter((t) => !t.generated).map((t) => [t.hook, t.handle === null ? 'policy' : 'rule']),
    [['input', 'policy'], ['input', 'rule'], ['input', 'policy']], 'INPUT saw the ESP packet, then the decrypted one');
  const reply = out.emitted[0]!.frame.subarray(14);
  assert.equal(reply[9], 50, 'the echo reply left as ESP');
  const pkt = Packet.from(reply);
  const r = espInput(createEspSa(espSaConfigFromXfrm(saBySpi(x, 0x3001))), pkt);
  assert.ok(r.ok && r.kind === 'esp', 'the peer decrypts the reply');
  assert.equal(pkt.data[9], 1, 'ICMP');
  assert.equal(pkt.data[20], 0, 'an echo reply');
  // The same echo in clear breaks the in policy's template.
  expectFate(path.receive('wan0', echo, true), { fate: 'dropped', check: /XfrmInTmplMismatch/ });
});

test('ESP in UDP 4500 (NAT-T) to an encapsulation port is decapsulated like ESP; a keepalive is consumed', () => {
  const x = gatewayXfrm();
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x4000 reqid 2 mode tunnel encap espinudp 4500 4500 0.0.0.0 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  const path = new HostPath(routerHost(), { xfrm: x });
  const esp = espFrom(peerSender(x, 0x4000), l3(FROM_PEER_LAN));
  assert.equal(esp[9], 17, 'the peer sent UDP');
  const out = path.receive('wan0', esp, true);
  expectFate(out, { fate: 'forwarded', emitted: ['lan0'] });
  const ka = path.receive('wan0', l3('IP(src="198.51.100.1",dst="192.0.2.1")/UDP(sport=4500,dport=4500)/Raw(load=b"\\xff")'), true);
  expectFate(ka, { fate: 'delivered', emitted: [] });
});

test('why explains an IPsec drop by its xfrm_stat counter', () => {
  const x = gatewayXfrm();
  const path = new HostPath(routerHost(), { xfrm: x });
  const esp = espFrom(peerSender(x), l3(FROM_PEER_LAN));
  path.receive('wan0', esp.slice(), true);
  const again = path.receive('wan0', esp.slice(), true);
  const text = explain(path.ruleset, { data: esp, l3: true, tsSec: 0, tsNsec: 0, timed: false }, 'wan0', again).join('\n');
  assert.match(text, /xfrm input: ESP spi 0x00002000 seq 1 to 192\.0\.2\.1/);
  assert.match(text, /by the stack's check: xfrm XfrmInStateSeqError: /);
});

test('IPv6 in IPv6: ESP from the peer is forwarded to the LAN, and LAN traffic leaves in ESP over IPv6', () => {
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 2001:db8:9::1 dst 2001:db8:2::1 proto esp spi 0x6000 reqid 6 mode tunnel replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128`);
  xfrmCmd(x, `state add src 2001:db8:2::1 dst 2001:db8:9::1 proto esp spi 0x6001 reqid 6 mode tunnel aead rfc4106(gcm(aes)) ${KEY_OUT} 128`);
  xfrmCmd(x, 'policy add src 2001:db8:1::/64 dst 2001:db8:7::/64 dir out tmpl src 2001:db8:2::1 dst 2001:db8:9::1 proto esp reqid 6 mode tunnel');
  xfrmCmd(x, 'policy add src 2001:db8:7::/64 dst 2001:db8:1::/64 dir fwd tmpl src 2001:db8:9::1 dst 2001:db8:2::1 proto esp reqid 6 mode tunnel');
  const path = new HostPath(routerHost(), { xfrm: x });
  const inner = l3('IPv6(src="2001:db8:7::5",dst="2001:db8:1::2",hlim=64)/UDP(sport=5000,dport=53)/Raw(load=b"hello")');
  const got = path.receive('wan0', espFrom(peerSender(x, 0x6000), inner), true);
  expectFate(got, { fate: 'forwarded', emitted: ['lan0'] });
  assert.equal(hex(got.emitted[0]!.frame.subarray(14 + 40)), hex(inner.subarray(40)));
  const sent = path.receive('lan0', l3('IPv6(src="2001:db8:1::2",dst="2001:db8:7::5")/TCP(sport=40000,dport=443,flags="S")'), true);
  expectFate(sent, { fate: 'forwarded', emitted: ['wan0'] });
  const outer = sent.emitted[0]!.frame.subarray(14);
  assert.equal(outer[6], 50, 'next header ESP');
  const pkt = Packet.from(outer);
  assert.ok(espInput(createEspSa(espSaConfigFromXfrm(saBySpi(x, 0x6001))), pkt).ok, 'the peer decrypts it');
});
