/**
 * NAT as nf_nat: snat, dnat, masquerade and redirect rewriting both
 * directions with valid checksums, the kernel's port-clash resolution, NAT
 * chains seeing only a connection's first packet, and ICMP errors translated
 * together with the packet they quote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ConntrackTable, IP_CT_ESTABLISHED_REPLY, IP_CT_NEW, IP_CT_RELATED_REPLY, connOf, conntrackIn, conntrackConfirm } from '../src/netfilter/conntrack/index.js';
import { natNeedsChains, natPacket, natSetup } from '../src/netfilter/nat/index.js';
import { checksumProblems, forward, ipPacket } from '../src/netfilter/conntrack/testing.js';
import type { NatRequest } from '../src/netfilter/host-services.js';
import type { Packet } from '../src/packet/packet.js';
import { NF_NAT_RANGE_PERSISTENT } from '../src/netfilter/bytecode.js';

const ip4 = (s: string) => new Uint8Array(s.split('.').map(Number));
const snat = (addr: string, port?: number, portMax?: number, flags = 0): NatRequest =>
  ({ natType: 0, kind: 'nat', family: 2, addrMin: ip4(addr), addrMax: ip4(addr), protoMin: port, protoMax: portMax ?? port, flags });
const dnat = (addr: string, port?: number): NatRequest =>
  ({ natType: 1, kind: 'nat', family: 2, addrMin: ip4(addr), addrMax: ip4(addr), protoMin: port, protoMax: port, flags: 0 });

function table(seed = 1): ConntrackTable {
  let x = seed;
  return new ConntrackTable(new VirtualClock(1e6), () => undefined, { random: () => ((x = (x * 48271) % 2147483647) / 2147483647) });
}

/** The four-tuple of an IPv4 TCP/UDP packet as text. */
function flow(p: Packet): string {
  const b = p.data;
  const ihl = (b[0]! & 15) * 4;
  const port = (o: number) => (b[ihl + o]! << 8) | b[ihl + o + 1]!;
  return `${b.subarray(12, 16).join('.')}:${port(0)} > ${b.subarray(16, 20).join('.')}:${port(2)}`;
}

function fwd(t: ConntrackTable, expr: string, opts: Parameters<typeof forward>[3] = {}) {
  const p = ipPacket(expr);
  const w = forward(t, p, 2, opts);
  assert.equal(checksumProblems(p), '', `checksums after NAT of ${expr}`);
  return { ...w, p, flow: flow(p) };
}

const C = 'IP(src="10.0.0.2",dst="192.0.2.10")';
const S = 'IP(src="192.0.2.10",dst="203.0.113.1")';

test('snat rewrites the source, and the reply back to the client', () => {
  const t = table();
  const out = fwd(t, `${C}/TCP(sport=40000,dport=80,flags="S",seq=1)`, { snat: snat('203.0.113.1') });
  assert.equal(out.ctinfo, IP_CT_NEW);
  assert.equal(out.flow, '203.0.113.1:40000 > 192.0.2.10:80');
  const back = fwd(t, `${S}/TCP(sport=80,dport=40000,flags="SA",seq=9,ack=2)`, { snat: snat('203.0.113.1') });
  assert.equal(back.ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(back.flow, '192.0.2.10:80 > 10.0.0.2:40000');
});

test('dnat with a port rewrites the destination; the reply comes from the original address', () => {
  const t = table();
  const out = fwd(t, `IP(src="198.51.100.7",dst="203.0.113.1")/UDP(sport=5353,dport=53)/"query"`, { dnat: dnat('10.0.0.5', 5300) });
  assert.equal(out.flow, '198.51.100.7:5353 > 10.0.0.5:5300');
  const back = fwd(t, `IP(src="10.0.0.5",dst="198.51.100.7")/UDP(sport=5300,dport=5353)/"answer"`);
  assert.equal(back.ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(back.flow, '203.0.113.1:53 > 198.51.100.7:5353');
});

test('masquerade takes the out interface address; redirect the in interface address', () => {
  const t = table();
  const env = {
    masqueradeAddress: (_p: Packet, oif: number) => (oif === 3 ? ip4('203.0.113.9') : undefined),
    redirectAddress: (_p: Packet, iif: number) => (iif === 2 ? ip4('10.0.0.1') : undefined),
  };
  const masq: NatRequest = { natType: 0, kind: 'masq', family: 2, flags: 0 };
  const p = ipPacket(`${C}/TCP(sport=40000,dport=80,flags="S")`, { oif: 3 });
  forward(t, p, 2, { snat: masq, env });
  assert.equal(flow(p), '203.0.113.9:40000 > 192.0.2.10:80');
  assert.equal(checksumProblems(p), '');
  // No address on the interface: the kernel drops ("ate my IP address").
  const q = ipPacket(`${C}/TCP(sport=40001,dport=80,flags="S")`, { oif: 4 });
  assert.equal(forward(t, q, 2, { snat: masq, env }).verdict, 0);
  const redir: NatRequest = { natType: 1, kind: 'redir', family: 2, protoMin: 3128, protoMax: 3128, flags: 0 };
  const r = ipPacket(`IP(src="10.0.0.7",dst="93.184.216.34")/TCP(sport=50000,dport=80,flags="S")`, { iif: 2 });
  forward(t, r, 2, { dnat: redir, env });
  assert.equal(flow(r), '10.0.0.7:50000 > 10.0.0.1:3128');
});

test('NAT chains see only the first packet of a connection', () => {
  const t = table();
  const p = ipPacket(`${C}/UDP(sport=1000,dport=2000)`);
  conntrackIn(t, p, 2, 0);
  assert.equal(natNeedsChains(t, p, 0), true);
  natPacket(t, p, 0); // no dnat rule: null binding
  assert.equal(natNeedsChains(t, p, 0), false);
  assert.equal(natNeedsChains(t, p, 4), true);
  assert.equal(natSetup(t, p, snat('203.0.113.1'), 4, { masqueradeAddress: () => undefined, redirectAddress: () => undefined }), 1);
  assert.equal(natNeedsChains(t, p, 4), false);
  natPacket(t, p, 4);
  conntrackConfirm(t, p);
  const later = fwd(t, `${C}/UDP(sport=1000,dport=2000)`);
  assert.equal(later.flow, '203.0.113.1:1000 > 192.0.2.10:2000');
  const q = ipPacket(`${C}/UDP(sport=1000,dport=2000)`);
  conntrackIn(t, q, 2, 0);
  assert.equal(natNeedsChains(t, q, 0), false);
  assert.equal(natNeedsChains(t, q, 4), false);
});

test('port clash: a second client with the same source port gets another port, the reply finds it', () => {
  const t = table(7);
  const a = fwd(t, `${C}/TCP(sport=40000,dport=80,flags="S",seq=1)`, { snat: snat('203.0.113.1') });
  const b = fwd(t, `IP(src="10.0.0.3",dst="192.0.2.10")/TCP(sport=40000,dport=80,flags="S",seq=1)`, { snat: snat('203.0.113.1') });
  assert.equal(a.flow, '203.0.113.1:40000 > 192.0.2.10:80');
  const port = Number(/:(\d+) >/.exec(b.flow)![1]);
  assert.notEqual(port, 40000);
  assert.ok(port >= 1024 && port <= 65535);
  const back = fwd(t, `${S}/TCP(sport=80,dport=${port},flags="SA",seq=5,ack=2)`);
  assert.equal(back.flow, '192.0.2.10:80 > 10.0.0.3:40000');
  // Ports below 1024 stay below 1024 (below 512: 1..511).
  const c = fwd(t, `IP(src="10.0.0.4",dst="192.0.2.10")/UDP(sport=123,dport=123)`, { snat: snat('203.0.113.1') });
  const d = fwd(t, `IP(src="10.0.0.5",dst="192.0.2.10")/UDP(sport=123,dport=123)`, { snat: snat('203.0.113.1') });
  assert.equal(c.flow, '203.0.113.1:123 > 192.0.2.10:123');
  const dp = Number(/:(\d+) >/.exec(d.flow)![1]);
  assert.ok(dp >= 1 && dp <= 511 && dp !== 123, d.flow);
});

test('a port range is honoured, and the same random source gives the same ports', () => {
  const run = () => {
    const t = table(42);
    const ports: number[] = [];
    for (let i = 0; i < 5; i++) {
      const o = fwd(t, `IP(src="10.0.0.${10 + i}",dst="192.0.2.10")/UDP(sport=5000,dport=53)`, { snat: snat('203.0.113.1', 20000, 20003) });
      ports.push(Number(/:(\d+) >/.exec(o.flow)![1]));
    }
    return { ports, t };
  };
  const { ports } = run();
  assert.deepEqual(ports.slice(0, 4).sort(), [20000, 20001, 20002, 20003]);
  // The fifth finds the range full and keeps a clashing port: its confirmation fails and the packet is dropped.
  assert.deepEqual(run().ports, ports);
});

test('an address range picks an address inside it, the same for one client (persistent)', () => {
  const t = table();
  const req: NatRequest = { natType: 0, kind: 'nat', family: 2, addrMin: ip4('203.0.113.10'), addrMax: ip4('203.0.113.20'), flags: NF_NAT_RANGE_PERSISTENT };
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const o = fwd(t, `${C}/UDP(sport=${6000 + i},dport=${7000 + i})`, { snat: req });
    const a = o.flow.split(':')[0]!;
    const last = Number(a.split('.')[3]);
    assert.ok(last >= 10 && last <= 20, o.flow);
    seen.add(a);
  }
  assert.equal(seen.size, 1);
});

test('a UDP checksum of 0 stays 0 through NAT (RFC 768: none computed)', () => {
  const t = table();
  const o = fwd(t, `${C}/UDP(sport=1111,dport=2222,chksum=0)/"x"`, { snat: snat('203.0.113.1', 3333) });
  const b = o.p.data;
  assert.equal(o.flow, '203.0.113.1:3333 > 192.0.2.10:2222');
  assert.equal((b[26]! << 8) | b[27]!, 0);
});

test('ICMP echo through snat: the id moves only on a clash', () => {
  const t = table(3);
  const a = fwd(t, `${C}/ICMP(type=8,id=500,seq=1)`, { snat: snat('203.0.113.1') });
  const b = fwd(t, `IP(src="10.0.0.3",dst="192.0.2.10")/ICMP(type=8,id=500,seq=1)`, { snat: snat('203.0.113.1') });
  const id = (p: Packet) => (p.data[24]! << 8) | p.data[25]!;
  assert.equal(id(a.p), 500);
  assert.notEqual(id(b.p), 500);
  const back = fwd(t, `${S}/ICMP(type=0,id=${id(b.p)},seq=1)`);
  assert.equal(back.ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.deepEqual([...back.p.data.subarray(16, 20)], [10, 0, 0, 3]);
  assert.equal(id(back.p), 500);
});

test('an ICMP error is reverse-NATed together with the packet it quotes', () => {
  const t = table();
  fwd(t, `${C}/UDP(sport=40000,dport=33434)/"probe"`, { snat: snat('203.0.113.1', 41000) });
  // A router past the NAT reports the translated packet to the NAT address.
  const err = fwd(t, 'IP(src="198.51.100.1",dst="203.0.113.1")/ICMP(type=11,code=0)/IP(src="203.0.113.1",dst="192.0.2.10",ttl=1)/UDP(sport=41000,dport=33434)/"probe"');
  assert.equal(err.ctinfo, IP_CT_RELATED_REPLY);
  const b = err.p.data;
  assert.deepEqual([...b.subarray(16, 20)], [10, 0, 0, 2], 'outer destination back to the client');
  const inner = 28;
  assert.deepEqual([...b.subarray(inner + 12, inner + 16)], [10, 0, 0, 2], 'quoted source back to the client');
  assert.equal((b[inner + 20]! << 8) | b[inner + 21]!, 40000, 'quoted source port back to the client');
  assert.deepEqual([...b.subarray(12, 16)], [198, 51, 100, 1], 'the reporting router is untouched');
});

test('dnat and the server\'s ICMP port unreachable: the quoted destination is the public one again', () => {
  const t = table();
  fwd(t, `IP(src="198.51.100.7",dst="203.0.113.1")/UDP(sport=5353,dport=53)/"q"`, { dnat: dnat('10.0.0.5', 5300) });
  const err = fwd(t, 'IP(src="10.0.0.5",dst="198.51.100.7")/ICMP(type=3,code=3)/IP(src="198.51.100.7",dst="10.0.0.5")/UDP(sport=5353,dport=5300)/"q"');
  assert.equal(err.ctinfo, IP_CT_RELATED_REPLY);
  const b = err.p.data;
  assert.deepEqual([...b.subarray(12, 16)], [203, 0, 113, 1], 'outer source is the public address');
  assert.deepEqual([...b.subarray(28 + 16, 28 + 20)], [203, 0, 113, 1], 'quoted destination is the public address');
  assert.equal((b[28 + 22]! << 8) | b[28 + 23]!, 53);
});

test('IPv6 snat keeps TCP and ICMPv6 checksums valid through the pseudo-header', () => {
  const t = table();
  const addr = new Uint8Array(16);
  addr.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x99]);
  addr[15] = 1;
  const req: NatRequest = { natType: 0, kind: 'nat', family: 10, addrMin: addr, addrMax: addr, flags: 0 };
  for (const l4 of ['TCP(sport=40000,dport=80,flags="S")', 'ICMPv6EchoRequest(id=9,seq=1)', 'UDP(sport=1,dport=2)/"v6"']) {
    const p = ipPacket(`IPv6(src="fd00::2",dst="2001:db8:1::10")/${l4}`);
    forward(t, p, 10, { snat: req });
    assert.deepEqual([...p.data.subarray(8, 24)], [...addr], l4);
    assert.equal(checksumProblems(p), '', l4);
    assert.ok(connOf(t, p));
  }
});

test('an ICMPv6 error is reverse-NATed with its quoted packet, checksum over the new pseudo-header', () => {
  const t = table();
  const nat = new Uint8Array(16);
  nat.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x99]);
  nat[15] = 1;
  const req: NatRequest = { natType: 0, kind: 'nat', family: 10, addrMin: nat, addrMax: nat, flags: 0 };
  forward(t, ipPacket('IPv6(src="fd00::2",dst="2001:db8:1::10")/UDP(sport=7000,dport=33434)/"probe"'), 10, { snat: req });
  const e = ipPacket('IPv6(src="2001:db8:ff::1",dst="2001:db8:99::1")/ICMPv6TimeExceeded(code=0)/IPv6(src="2001:db8:99::1",dst="2001:db8:1::10",hlim=1)/UDP(sport=7000,dport=33434)/"probe"');
  const w = forward(t, e, 10);
  assert.equal(w.ctinfo, IP_CT_RELATED_REPLY);
  const b = e.data;
  const fd002 = [0xfd, 0, ...Array(13).fill(0), 2];
  assert.deepEqual([...b.subarray(24, 40)], fd002, 'outer destination');
  assert.deepEqual([...b.subarray(48 + 8, 48 + 24)], fd002, 'quoted source');
  assert.equal(checksumProblems(e), '');
});

test('a TCP header quoted short (8 bytes) is translated without touching its checksum', () => {
  const t = table();
  fwd(t, `${C}/TCP(sport=40000,dport=80,flags="S",seq=1)`, { snat: snat('203.0.113.1', 41000) });
  const full = ipPacket('IP(src="198.51.100.1",dst="203.0.113.1")/ICMP(type=11,code=0)/IP(src="203.0.113.1",dst="192.0.2.10",ttl=1)/TCP(sport=41000,dport=80,flags="S",seq=1)');
  // Cut the quoted TCP header after 8 bytes, as old routers do (RFC 792).
  const cut = full.data.slice(0, 20 + 8 + 20 + 8);
  cut[2] = 0; cut[3] = cut.length;
  cut[10] = 0; cut[11] = 0;
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (cut[i]! << 8) | cut[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  cut[10] = (~s >> 8) & 0xff; cut[11] = ~s & 0xff;
  const icmp = cut.subarray(20);
  icmp[2] = 0; icmp[3] = 0;
  s = 0;
  for (let i = 0; i < icmp.length; i += 2) s += (icmp[i]! << 8) | (icmp[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  icmp[2] = (~s >> 8) & 0xff; icmp[3] = ~s & 0xff;
  const p = ipPacket('IP()');
  const q = (p.constructor as typeof import('../src/packet/packet.js').Packet).from(cut);
  q.networkHeader = q.head;
  const w = forward(t, q, 2);
  assert.equal(w.ctinfo, IP_CT_RELATED_REPLY);
  assert.equal(w.verdict, 1);
  assert.deepEqual([...q.data.subarray(16, 20)], [10, 0, 0, 2]);
  assert.equal((q.data[48]! << 8) | q.data[49]!, 40000);
  assert.equal(checksumProblems(q), '');
});
