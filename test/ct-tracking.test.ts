/**
 * The TCP state machine through a whole connection, timeouts on the virtual
 * clock, ICMP echo and errors related through the quoted tuple, `ct` keys,
 * the `conntrack -L` listing and the JSON round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../src/netfilter/clock.js';
import {
  ConntrackTable, conntrackIn, conntrackConfirm, conntrackRelease, connOf, ctLoad, ctStore, formatConntrack, notrack,
  serializeConntrack, deserializeConntrack, connlimitCount, CT_INVALID, IP_CT_ESTABLISHED, IP_CT_ESTABLISHED_REPLY, IP_CT_NEW,
  IP_CT_RELATED, IP_CT_RELATED_REPLY, IP_CT_UNTRACKED, IPS_ASSURED, TCP_CONNTRACK_NAMES, NF_CT_STATE_UNTRACKED_BIT,
} from '../src/netfilter/conntrack/index.js';
import { ipPacket } from '../src/netfilter/conntrack/testing.js';
import { NFT_CT } from '../src/netfilter/bytecode.js';

function setup(sysctl: Record<string, number> = {}): { t: ConntrackTable; clock: VirtualClock } {
  const clock = new VirtualClock(5_000_000);
  return { t: new ConntrackTable(clock, (k) => sysctl[k]), clock };
}

function pass(t: ConntrackTable, expr: string, family: 2 | 10 = 2) {
  const p = ipPacket(expr);
  const r = { ...conntrackIn(t, p, family, 0) };
  const c = connOf(t, p);
  conntrackConfirm(t, p);
  return { ...r, state: c?.tcp ? TCP_CONNTRACK_NAMES[c.tcp.state] : undefined, conn: c, pkt: p };
}

const C = 'IP(src="10.0.0.2",dst="192.0.2.10")';
const S = 'IP(src="192.0.2.10",dst="10.0.0.2")';
const ct = (sp: number, dp: number, flags: string, seq: number, ack: number, data = '') =>
  `TCP(sport=${sp},dport=${dp},flags="${flags}",seq=${seq},ack=${ack},window=64240)${data ? `/"${data}"` : ''}`;

test('TCP: handshake, data, close — states, ctinfo, ASSURED, timeouts', () => {
  const { t } = setup();
  const steps: Array<[string, number, string]> = [
    [`${C}/${ct(40000, 80, 'S', 100, 0)}`, IP_CT_NEW, 'SYN_SENT'],
    [`${S}/${ct(80, 40000, 'SA', 900, 101)}`, IP_CT_ESTABLISHED_REPLY, 'SYN_RECV'],
    [`${C}/${ct(40000, 80, 'A', 101, 901)}`, IP_CT_ESTABLISHED, 'ESTABLISHED'],
    [`${C}/${ct(40000, 80, 'PA', 101, 901, 'GET /')}`, IP_CT_ESTABLISHED, 'ESTABLISHED'],
    [`${S}/${ct(80, 40000, 'A', 901, 106)}`, IP_CT_ESTABLISHED_REPLY, 'ESTABLISHED'],
    [`${C}/${ct(40000, 80, 'FA', 106, 901)}`, IP_CT_ESTABLISHED, 'FIN_WAIT'],
    [`${S}/${ct(80, 40000, 'A', 901, 107)}`, IP_CT_ESTABLISHED_REPLY, 'CLOSE_WAIT'],
    [`${S}/${ct(80, 40000, 'FA', 901, 107)}`, IP_CT_ESTABLISHED_REPLY, 'LAST_ACK'],
    [`${C}/${ct(40000, 80, 'A', 107, 902)}`, IP_CT_ESTABLISHED, 'TIME_WAIT'],
  ];
  for (const [expr, ctinfo, state] of steps) {
    const r = pass(t, expr);
    assert.equal(r.ctinfo, ctinfo, `${expr}: ${r.reason}`);
    assert.equal(r.state, state, expr);
  }
  const c = t.confirmed()[0]!;
  assert.ok(c.status & IPS_ASSURED);
  assert.equal(c.timeoutAt - t.now(), 120_000); // nf_conntrack_tcp_timeout_time_wait
  assert.equal(t.count, 1);
});

test('TCP: the third ACK makes the connection ASSURED with the established timeout', () => {
  const { t } = setup();
  pass(t, `${C}/${ct(40000, 80, 'S', 100, 0)}`);
  let c = pass(t, `${S}/${ct(80, 40000, 'SA', 900, 101)}`).conn!;
  assert.equal(c.status & IPS_ASSURED, 0);
  assert.equal(c.timeoutAt - t.now(), 60_000);
  c = pass(t, `${C}/${ct(40000, 80, 'A', 101, 901)}`).conn!;
  assert.ok(c.status & IPS_ASSURED);
  assert.equal(c.timeoutAt - t.now(), 432_000_000);
  assert.match(formatConntrack(t), /^tcp      6 432000 ESTABLISHED src=10\.0\.0\.2 dst=192\.0\.2\.10 sport=40000 dport=80 src=192\.0\.2\.10 dst=10\.0\.0\.2 sport=80 dport=40000 \[ASSURED\] mark=0 use=1$/m);
});

test('TCP: an out-of-window segment is invalid, accepted with be_liberal', () => {
  for (const liberal of [0, 1]) {
    const { t } = setup({ 'net.netfilter.nf_conntrack_tcp_be_liberal': liberal });
    pass(t, `${C}/${ct(40000, 80, 'S', 100, 0)}`);
    pass(t, `${S}/${ct(80, 40000, 'SA', 900, 101)}`);
    pass(t, `${C}/${ct(40000, 80, 'A', 101, 901)}`);
    const r = pass(t, `${C}/${ct(40000, 80, 'PA', 101 + 5_000_000, 901, 'late')}`);
    if (liberal) assert.equal(r.ctinfo, IP_CT_ESTABLISHED);
    else {
      assert.equal(r.ctinfo, CT_INVALID);
      assert.match(r.reason, /SEQ is over upper bound/);
    }
  }
});

test('TCP: an RST as the only answer to a SYN removes the entry', () => {
  const { t } = setup();
  pass(t, `${C}/${ct(40000, 81, 'S', 100, 0)}`);
  const r = pass(t, `${S}/${ct(81, 40000, 'RA', 0, 101)}`);
  assert.equal(r.ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(t.count, 0);
});

test('TCP: a SYN in TIME_WAIT reopens the connection as new', () => {
  const { t } = setup();
  for (const [e] of [[`${C}/${ct(40000, 80, 'S', 100, 0)}`], [`${S}/${ct(80, 40000, 'SA', 900, 101)}`], [`${C}/${ct(40000, 80, 'A', 101, 901)}`],
    [`${C}/${ct(40000, 80, 'FA', 101, 901)}`], [`${S}/${ct(80, 40000, 'FA', 901, 102)}`], [`${C}/${ct(40000, 80, 'A', 102, 902)}`]]) pass(t, e!);
  assert.equal(t.confirmed()[0]!.tcp!.state, 7);
  const r = pass(t, `${C}/${ct(40000, 80, 'S', 5000, 0)}`);
  assert.equal(r.ctinfo, IP_CT_NEW);
  assert.equal(r.state, 'SYN_SENT');
});

test('timeouts run on the virtual clock: UDP unreplied 30 s, then gone', () => {
  const { t, clock } = setup();
  pass(t, `${C}/UDP(sport=5000,dport=53)/"q"`);
  clock.advance(29_999);
  assert.equal(pass(t, `${S}/UDP(sport=53,dport=5000)/"a"`).ctinfo, IP_CT_ESTABLISHED_REPLY);
  clock.advance(30_000);
  // Expired: the same reply now starts a new connection of its own.
  assert.equal(pass(t, `${S}/UDP(sport=53,dport=5000)/"a"`).ctinfo, IP_CT_NEW);
});

test('UDP: a stream active after 2 s becomes ASSURED with the 120 s stream timeout', () => {
  const { t, clock } = setup();
  pass(t, `${C}/UDP(sport=5000,dport=1194)/"q"`);
  pass(t, `${S}/UDP(sport=1194,dport=5000)/"a"`);
  clock.advance(2500);
  const c = pass(t, `${C}/UDP(sport=5000,dport=1194)/"q"`).conn!;
  assert.ok(c.status & IPS_ASSURED);
  assert.equal(c.timeoutAt - t.now(), 120_000);
  assert.match(formatConntrack(t), /^udp      17 120 src=10\.0\.0\.2 dst=192\.0\.2\.10 sport=5000 dport=1194 src=192\.0\.2\.10 dst=10\.0\.0\.2 sport=1194 dport=5000 \[ASSURED\] mark=0 use=1$/m);
});

test('ICMP echo: request new, reply established; an echo reply alone is invalid', () => {
  const { t } = setup();
  assert.equal(pass(t, `${C}/ICMP(type=8,id=77,seq=1)`).ctinfo, IP_CT_NEW);
  assert.equal(pass(t, `${S}/ICMP(type=0,id=77,seq=1)`).ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(pass(t, `${S}/ICMP(type=0,id=78,seq=1)`).ctinfo, CT_INVALID);
  assert.match(formatConntrack(t), /^icmp     1 30 src=10\.0\.0\.2 dst=192\.0\.2\.10 type=8 code=0 id=77 src=192\.0\.2\.10 dst=10\.0\.0\.2 type=0 code=0 id=77 mark=0 use=1$/m);
});

test('ICMP errors are related to the connection of the packet they quote', () => {
  const { t } = setup();
  pass(t, `${C}/UDP(sport=5000,dport=33434)/"probe"`);
  // A router on the way answers the client: reply direction.
  const e1 = pass(t, `IP(src="198.51.100.1",dst="10.0.0.2")/ICMP(type=11,code=0)/IP(src="10.0.0.2",dst="192.0.2.10",ttl=1)/UDP(sport=5000,dport=33434)/"probe"`);
  assert.equal(e1.ctinfo, IP_CT_RELATED_REPLY);
  // The client complains about the server's packet: original direction.
  pass(t, `${S}/UDP(sport=33434,dport=5000)/"r"`);
  const e2 = pass(t, `IP(src="10.0.0.2",dst="192.0.2.10")/ICMP(type=3,code=3)/IP(src="192.0.2.10",dst="10.0.0.2")/UDP(sport=33434,dport=5000)`);
  assert.equal(e2.ctinfo, IP_CT_RELATED);
  // An error quoting an unknown flow is invalid.
  const e3 = pass(t, `IP(src="198.51.100.1",dst="10.0.0.2")/ICMP(type=3,code=3)/IP(src="10.0.0.2",dst="192.0.2.99")/UDP(sport=1,dport=2)`);
  assert.equal(e3.ctinfo, CT_INVALID);
});

test('ICMPv6: echo tracked, errors related, neighbour discovery untracked', () => {
  const { t } = setup();
  const A = 'IPv6(src="2001:db8::2",dst="2001:db8:1::10")';
  assert.equal(pass(t, `${A}/ICMPv6EchoRequest(id=5,seq=1)`, 10).ctinfo, IP_CT_NEW);
  assert.equal(pass(t, `IPv6(src="2001:db8:1::10",dst="2001:db8::2")/ICMPv6EchoReply(id=5,seq=1)`, 10).ctinfo, IP_CT_ESTABLISHED_REPLY);
  pass(t, `${A}/UDP(sport=7,dport=9)/"x"`, 10);
  const err = pass(t, `IPv6(src="2001:db8:ff::1",dst="2001:db8::2")/ICMPv6DestUnreach(code=4)/IPv6(src="2001:db8::2",dst="2001:db8:1::10")/UDP(sport=7,dport=9)/"x"`, 10);
  assert.equal(err.ctinfo, IP_CT_RELATED_REPLY);
  assert.equal(pass(t, `IPv6(src="fe80::1",dst="ff02::1:ff00:2")/ICMPv6ND_NS(tgt="2001:db8::2")`, 10).ctinfo, IP_CT_UNTRACKED);
});

test('ct keys: state, direction, mark set/get, l3proto, addresses and ports per direction, expiration', () => {
  const { t } = setup();
  pass(t, `${C}/TCP(sport=40000,dport=443,flags="S",seq=1)`);
  const p = ipPacket(`${S}/TCP(sport=443,dport=40000,flags="SA",seq=9,ack=2)`);
  conntrackIn(t, p, 2, 0);
  const r = new Uint8Array(16);
  const u32 = () => new DataView(r.buffer).getUint32(0, true);
  assert.ok(ctLoad(t, p, NFT_CT.DIRECTION, undefined, r, 0));
  assert.equal(r[0], 1);
  r.set([0x2a, 0, 0, 0]);
  ctStore(t, p, NFT_CT.MARK, undefined, r, 0, 4);
  r.fill(0);
  ctLoad(t, p, NFT_CT.MARK, undefined, r, 0);
  assert.equal(u32(), 42);
  ctLoad(t, p, NFT_CT.SRC, 0, r, 0);
  assert.deepEqual([...r.subarray(0, 4)], [10, 0, 0, 2]);
  ctLoad(t, p, NFT_CT.PROTO_DST, 1, r, 0);
  assert.deepEqual([...r.subarray(0, 2)], [0x9c, 0x40]); // 40000, network order
  ctLoad(t, p, NFT_CT.EXPIRATION, undefined, r, 0);
  assert.equal(u32(), 60_000);
  assert.equal(ctLoad(t, p, NFT_CT.SRC_IP6, 0, r, 0), false);
  const u = ipPacket(`${C}/UDP(sport=1,dport=2)`);
  notrack(t, u);
  assert.equal(conntrackIn(t, u, 2, 0).ctinfo, IP_CT_UNTRACKED);
  ctLoad(t, u, NFT_CT.STATE, undefined, r, 0);
  assert.equal(u32(), NF_CT_STATE_UNTRACKED_BIT);
  assert.equal(ctLoad(t, u, NFT_CT.MARK, undefined, r, 0), false);
});

test('zones separate identical tuples; nf_conntrack_max drops when every entry is assured', () => {
  const { t } = setup({ 'net.netfilter.nf_conntrack_max': 1 });
  const a = ipPacket(`${C}/UDP(sport=1,dport=2)`);
  assert.equal(conntrackIn(t, a, 2, 0, 1).ctinfo, IP_CT_NEW);
  conntrackConfirm(t, a);
  // The unassured entry is early-dropped to make room.
  const b = ipPacket(`${C}/UDP(sport=1,dport=2)`);
  assert.equal(conntrackIn(t, b, 2, 0, 2).ctinfo, IP_CT_NEW);
  conntrackConfirm(t, b);
  assert.equal(t.count, 1);
  t.confirmed()[0]!.status |= IPS_ASSURED;
  const c = ipPacket(`${C}/UDP(sport=3,dport=4)`);
  const r = conntrackIn(t, c, 2, 0);
  assert.equal(r.verdict, 0);
  assert.match(r.reason, /table full/);
});

test('an unconfirmed entry released with its packet leaves no trace', () => {
  const { t } = setup();
  const p = ipPacket(`${C}/UDP(sport=1,dport=2)`);
  conntrackIn(t, p, 2, 0);
  conntrackRelease(t, p);
  assert.equal(t.slots.filter((s) => s !== null).length, 0);
});

test('connlimit counts live connections of a list', () => {
  const { t } = setup();
  const list = {};
  for (let i = 0; i < 3; i++) {
    const p = ipPacket(`${C}/TCP(sport=${1000 + i},dport=22,flags="S")`);
    conntrackIn(t, p, 2, 0);
    assert.equal(connlimitCount(t, p, list), i + 1);
    conntrackConfirm(t, p);
  }
});

test('the table survives a JSON round trip (ids, timeouts, TCP state, marks)', () => {
  const { t, clock } = setup();
  pass(t, `${C}/${ct(40000, 80, 'S', 100, 0)}`);
  pass(t, `${S}/${ct(80, 40000, 'SA', 900, 101)}`).conn!.mark = 7;
  const json = JSON.parse(JSON.stringify(serializeConntrack(t)));
  const t2 = new ConntrackTable(clock);
  deserializeConntrack(t2, json);
  assert.equal(formatConntrack(t2), formatConntrack(t));
  assert.equal(pass(t2, `${C}/${ct(40000, 80, 'A', 101, 901)}`).ctinfo, IP_CT_ESTABLISHED);
  assert.equal(t2.confirmed()[0]!.tcp!.state, 3);
});

test('an ICMP error sent to another address than its connection expects is invalid (checked on Linux 6.18)', () => {
  const { t } = setup();
  pass(t, 'IP(src="10.9.0.1",dst="10.9.0.7")/UDP(sport=5000,dport=6000)/"x"');
  const ok = pass(t, 'IP(src="10.9.0.1",dst="10.9.0.7")/ICMP(type=3,code=3)/IP(src="10.9.0.7",dst="10.9.0.1")/UDP(sport=6000,dport=5000)/"x"');
  assert.equal(ok.ctinfo, IP_CT_RELATED);
  const bad = pass(t, 'IP(src="10.9.0.1",dst="10.9.0.8")/ICMP(type=3,code=3)/IP(src="10.9.0.7",dst="10.9.0.1")/UDP(sport=6000,dport=5000)/"x"');
  assert.equal(bad.ctinfo, CT_INVALID);
});

test('TCP, as observed on Linux 6.18: a client SYN-ACK is invalid; a segment a little past the window passes without moving the state', () => {
  const { t } = setup();
  pass(t, `${C}/${ct(40000, 80, 'S', 100, 0)}`);
  pass(t, `${S}/${ct(80, 40000, 'SA', 900, 101)}`);
  pass(t, `${C}/${ct(40000, 80, 'A', 101, 901)}`);
  assert.equal(pass(t, `${C}/${ct(40000, 80, 'SA', 101, 901)}`).ctinfo, CT_INVALID);
  const u = setup().t;
  pass(u, `${C}/TCP(sport=4200,dport=80,flags="S",seq=25868,window=51110)`);
  pass(u, `${S}/TCP(sport=80,dport=4200,flags="S",seq=1061791,window=43468)`);
  const r = pass(u, `${C}/TCP(sport=4200,dport=80,flags="R",seq=25885,ack=120497)`);
  assert.equal(r.ctinfo, IP_CT_ESTABLISHED);
  assert.equal(r.state, 'SYN_SENT2');
});
