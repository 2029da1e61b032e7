/**
 * The flowtable fast path (nf_flow_table_ip.c, nft_flow_offload.c): `flow add
 * @ft` offloads an established connection; its later packets leave from the
 * ingress hook with the bytes the slow path would have sent, past the
 * forward chain; FIN/RST, TTL 1, packets over the MTU, expiry and route
 * changes send packets back to the slow path. This kernel has no flowtable
 * module, so the oracle is the slow path itself (the same host without the
 * flowtable) and the kernel source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HostPath } from '../src/host/path/walk.js';
import { ipLines, routerHost } from '../src/host/path/testing.js';
import { sysctlSet } from '../src/host/sysctl.js';
import { openPath, storePath } from '../src/host/path/state.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { formatConn } from '../src/netfilter/conntrack/index.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import type { Host } from '../src/host/types.js';
import type { PacketOutcome } from '../src/host/path/types.js';

const FLOWTABLE = `
table inet f {
	flowtable ft { hook ingress priority filter; devices = { lan0, wan0 }; }
	chain forward {
		type filter hook forward priority filter; policy drop;
		meta l4proto { tcp, udp } flow add @ft counter
		ct state established,related counter accept
		iifname "lan0" counter accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}`;
/** The same firewall without the flowtable: the slow path, the oracle for the bytes. */
const SLOW = FLOWTABLE.replace(/\tflowtable ft[^\n]*\n/, '').replace(/\t\tmeta l4proto \{ tcp, udp \} flow add @ft counter\n/, '');

function load(host: Host, text: string, clock: VirtualClock): Ruleset {
  const rs = new Ruleset();
  let err = '';
  const rc = executeNft(rs, text, '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock);
  assert.equal(rc, 0, err);
  return rs;
}

function router(text = FLOWTABLE, detail = true): { host: Host; path: HostPath; clock: VirtualClock } {
  const host = routerHost();
  const clock = new VirtualClock(1_000_000);
  const path = new HostPath(host, { ruleset: load(host, text, clock), clock, detail });
  return { host, path, clock };
}

/** The IP packet `l3` in an Ethernet frame from a station to `dev`'s MAC. */
function frameTo(host: Host, dev: string, l3: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + l3.length);
  f.set(host.links.find((l) => l.name === dev)!.mac, 0);
  f.set([0x02, 0, 0, 0, 0x63, 0x63], 6);
  f[12] = l3[0]! >> 4 === 6 ? 0x86 : 0x08; f[13] = l3[0]! >> 4 === 6 ? 0xdd : 0x00;
  f.set(l3, 14);
  return f;
}

const l3 = (expr: string): Uint8Array => packetFromExpression(expr, { link: 'raw' });
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const LAN = 'IP(src="10.0.1.2",dst="198.51.100.7")';
const tcpOut = (flags: string, seq: number, ack: number, extra = '', ttl = 64) => l3(`IP(src="10.0.1.2",dst="198.51.100.7",ttl=${ttl})/TCP(sport=40000,dport=443,flags="${flags}",seq=${seq},ack=${ack})${extra}`);
const tcpIn = (flags: string, seq: number, ack: number, extra = '') => l3(`IP(src="198.51.100.7",dst="192.0.2.1")/TCP(sport=443,dport=40000,flags="${flags}",seq=${seq},ack=${ack})${extra}`);

/** The rule counters of chain forward, in order: [flow add, ct state established, iifname lan0]. */
function counters(path: HostPath): number[] {
  return path.ruleset.table(1, 'f')!.chains.get('forward')!.rules.map((r) => {
    const c = r.exprs.find((e) => e.type === 'counter') as { packets?: number; pkts?: number } | undefined;
    return Number((c as { packets?: bigint | number } | undefined)?.packets ?? 0);
  });
}

function handshake(path: HostPath): PacketOutcome[] {
  return [
    path.receive('lan0', tcpOut('S', 1000, 0), true),
    path.receive('wan0', tcpIn('SA', 5000, 1001), true),
    path.receive('lan0', tcpOut('A', 1001, 5001), true),
  ];
}

const onFastPath = (o: PacketOutcome): boolean => o.steps.some((s) => s.kind === 'flow' && /fast path/.test(s.text));
const sawHooks = (o: PacketOutcome): boolean => o.steps.some((s) => s.kind === 'hook' || s.kind === 'ct');

test('the handshake\'s last ACK offloads the connection; later packets take the fast path with the slow path\'s bytes', () => {
  const fast = router(), slow = router(SLOW);
  const hf = handshake(fast.path), hs = handshake(slow.path);
  for (let i = 0; i < 3; i++) assert.equal(hf[i]!.fate, 'forwarded');
  // SYN: not confirmed yet; SYN-ACK: not established+assured; the ACK: offloaded (the counter after `flow add` counts it).
  assert.ok(!hf[0]!.steps.some((s) => s.kind === 'flow') && !hf[1]!.steps.some((s) => s.kind === 'flow'));
  assert.ok(hf[2]!.steps.some((s) => s.kind === 'flow' && /offloaded/.test(s.text)));
  // The ACK goes on after `flow add`: the established rule counts the SYN-ACK and it.
  assert.deepEqual(counters(fast.path), [1, 2, 1]);
  const c = [...fast.path.ct!.slots].find((x) => x !== null)!;
  // [OFFLOAD] instead of [ASSURED]; nf_ct_offload_timeout() leaves 5 days alone (it pushes on only below half a day).
  assert.match(formatConn(fast.path.ct!, c), /^tcp +6 432000 ESTABLISHED .* \[OFFLOAD\] mark=0/);
  const data = [
    ['lan0', tcpOut('PA', 1001, 5001, `/Raw(load=b"${'x'.repeat(300)}")`)], ['wan0', tcpIn('A', 5001, 1301, `/Raw(load=b"${'y'.repeat(1000)}")`)],
    ['lan0', tcpOut('A', 1301, 6001)], ['wan0', tcpIn('PA', 6001, 1301, `/Raw(load=b"${'z'.repeat(20)}")`)],
  ] as const;
  for (const [dev, pkt] of data) {
    const a = fast.path.receive(dev, pkt, true), b = slow.path.receive(dev, pkt, true);
    assert.ok(onFastPath(a) && !sawHooks(a), `fast path for ${dev}: ${a.steps.map((s) => s.text).join(' | ')}`);
    assert.equal(a.fate, 'forwarded');
    assert.deepEqual(a.emitted.map((e) => [e.dev, hex(e.frame)]), b.emitted.map((e) => [e.dev, hex(e.frame)]), 'the same bytes as the slow path');
  }
  // The forward chain saw none of them.
  assert.deepEqual(counters(fast.path), [1, 2, 1]);
});

test('FIN or RST tears the flow down and goes the slow way; the connection is conntrack\'s again', () => {
  const { path } = router();
  handshake(path);
  const fin = path.receive('lan0', tcpOut('FA', 1001, 5001), true);
  assert.equal(fin.fate, 'forwarded');
  assert.ok(fin.steps.some((s) => s.kind === 'flow' && /FIN: flow torn down/.test(s.text)));
  assert.ok(sawHooks(fin) && !onFastPath(fin), 'the FIN walked the hooks');
  const c = [...path.ct!.slots].find((x) => x !== null)!;
  const line = formatConn(path.ct!, c);
  assert.match(line, /FIN_WAIT .*\[ASSURED\]/);
  assert.doesNotMatch(line, /OFFLOAD/);
  // A FIN is no reason to offload again: the next packets stay on the slow path.
  const ack = path.receive('wan0', tcpIn('A', 5001, 1002), true);
  assert.ok(!onFastPath(ack) && sawHooks(ack));
});

test('TTL 1 and packets over the flow\'s MTU leave the fast path to the slow one, which answers with ICMP', () => {
  const { host, path } = router();
  ipLines(host, 'link set wan0 mtu 1400');
  path.refresh();
  handshake(path);
  const ttl1 = path.receive('lan0', tcpOut('A', 1001, 5001, '', 1), true);
  assert.equal(ttl1.fate, 'dropped');
  assert.equal(ttl1.reason, 'IP_INHDR');
  assert.equal(ttl1.emitted[0]?.dev, 'lan0', 'time exceeded back to the sender');
  const big = path.receive('lan0', l3(`${LAN.replace(')', ',flags="DF")')}/TCP(sport=40000,dport=443,flags="A",seq=1001,ack=5001)/Raw(load=b"${'q'.repeat(1420)}")`), true);
  assert.equal(big.reason, 'PKT_TOO_BIG');
  const icmp = big.emitted[0]!.frame.subarray(14);
  assert.equal(icmp[20], 3); assert.equal(icmp[21], 4);
  assert.equal((icmp[26]! << 8) | icmp[27]!, 1400, 'frag needed with the route\'s MTU');
  // The flow is still there: a packet that fits takes the fast path.
  assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)));
});

test('a flow without traffic for nf_flowtable_tcp_timeout (30 s) is collected; a route change tears it down', () => {
  const { host, path, clock } = router();
  handshake(path);
  clock.advance(20_000);
  assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)), 'refreshed at 20 s');
  clock.advance(31_000);
  const late = path.receive('lan0', tcpOut('A', 1001, 5001), true);
  assert.ok(!onFastPath(late) && sawHooks(late), 'expired: the slow path');
  // ... whose forward chain offloads the connection again (`flow add`).
  assert.ok(late.steps.some((s) => s.kind === 'flow' && /offloaded/.test(s.text)));
  // Then a route change makes the flow's dst obsolete.
  assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)));
  ipLines(host, 'route replace default via 192.0.2.253 dev wan0\nneigh add 192.0.2.253 lladdr 02:00:00:00:02:fd dev wan0 nud permanent');
  const after = path.receive('lan0', tcpOut('A', 1001, 5001), true);
  assert.ok(after.steps.some((s) => s.kind === 'flow' && /route changed/.test(s.text)));
  assert.equal(after.fate, 'forwarded');
  assert.equal(hex(after.emitted[0]!.frame.subarray(0, 6)), '0200000002fd', 'the slow path uses the new gateway');
  // The torn-down flow stays in the table until the gc (once a second) removes it, and the kernel's
  // rhashtable refuses a second flow with its key: until then `flow add` breaks, no offload.
  assert.ok(after.steps.some((s) => s.kind === 'flow' && /still in the table/.test(s.text)));
  assert.doesNotMatch(formatConn(path.ct!, [...path.ct!.slots].find((x) => x !== null)!), /OFFLOAD/);
  clock.advance(1_000);
  const later = path.receive('lan0', tcpOut('A', 1001, 5001), true);
  assert.ok(!onFastPath(later) && later.steps.some((s) => s.kind === 'flow' && /offloaded/.test(s.text)), 'collected, then offloaded again');
  assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)));
  assert.equal(hex(path.receive('lan0', tcpOut('A', 1001, 5001), true).emitted[0]!.frame.subarray(0, 6)), '0200000002fd', 'the new flow has the new route');
});

test('UDP is offloaded from its second packet (its entry is confirmed by then); ICMP never (the rule breaks before its counter)', () => {
  const { path } = router();
  const q = () => path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.53")/UDP(sport=5353,dport=53)/Raw(load=b"q")'), true);
  assert.ok(!q().steps.some((s) => s.kind === 'flow'));
  const out = path.receive('wan0', l3('IP(src="198.51.100.53",dst="192.0.2.1")/UDP(sport=53,dport=5353)/Raw(load=b"a")'), true);
  assert.ok(out.steps.some((s) => s.kind === 'flow' && /offloaded/.test(s.text)));
  assert.ok(onFastPath(q()));
  const before = counters(path)[0];
  path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.9")/ICMP()'), true);
  path.receive('wan0', l3('IP(src="198.51.100.9",dst="192.0.2.1")/ICMP(type=0)'), true);
  assert.equal(counters(path)[0], before, 'no ICMP offload');
});

test('IPv6 flows take the fast path too (masqueraded by the inet nat chain, hop limit decremented)', () => {
  const fast = router(), slow = router(SLOW);
  const pkts = [
    ['lan0', 'IPv6(src="2001:db8:1::2",dst="2001:db8:ff::7")/TCP(sport=41000,dport=80,flags="S",seq=1)'],
    ['wan0', 'IPv6(src="2001:db8:ff::7",dst="2001:db8:2::1")/TCP(sport=80,dport=41000,flags="SA",seq=9,ack=2)'],
    ['lan0', 'IPv6(src="2001:db8:1::2",dst="2001:db8:ff::7")/TCP(sport=41000,dport=80,flags="A",seq=2,ack=10)'],
    ['lan0', 'IPv6(src="2001:db8:1::2",dst="2001:db8:ff::7")/TCP(sport=41000,dport=80,flags="PA",seq=2,ack=10)/Raw(load=b"GET /")'],
    ['wan0', 'IPv6(src="2001:db8:ff::7",dst="2001:db8:2::1")/TCP(sport=80,dport=41000,flags="A",seq=10,ack=7)'],
  ] as const;
  const outs = pkts.map(([dev, e]) => [fast.path.receive(dev, l3(e), true), slow.path.receive(dev, l3(e), true)] as const);
  assert.ok(onFastPath(outs[3]![0]) && onFastPath(outs[4]![0]));
  for (const [a, b] of outs) assert.deepEqual(a.emitted.map((e) => hex(e.frame)), b.emitted.map((e) => hex(e.frame)));
});

test('flows are kept with the host between commands (state.ts) and torn down when the routes changed meanwhile', () => {
  const host = routerHost();
  const clock = new VirtualClock(5_000_000);
  const live = new HostPath(host, { ruleset: load(host, FLOWTABLE, clock), clock });
  handshake(live);
  storePath(host, Object.assign(live, { clock }) as HostPath & { clock: VirtualClock });
  const again = openPath(host, { detail: true });
  assert.ok(onFastPath(again.receive('lan0', tcpOut('A', 1001, 5001), true)), 'the saved flow is used');
  storePath(host, again);
  ipLines(host, 'route add 203.0.113.0/24 via 192.0.2.254 dev wan0');
  const changed = openPath(host, { detail: true });
  const o = changed.receive('lan0', tcpOut('A', 1001, 5001), true);
  assert.ok(!onFastPath(o) && sawHooks(o), 'routes changed since: the slow path (and a new offload)');
  assert.ok(o.steps.some((s) => s.kind === 'flow' && /offloaded/.test(s.text)));
});

test('a flowtable with `counter` counts the fast path in conntrack\'s accounting (nf_conntrack_acct on)', () => {
  const host = routerHost();
  sysctlSet(host, 'net.netfilter.nf_conntrack_acct', '1');
  const clock = new VirtualClock(1_000_000);
  const text = FLOWTABLE.replace('devices = { lan0, wan0 }; }', 'devices = { lan0, wan0 }; counter; }');
  const rs = load(host, text, clock);
  const path = new HostPath(host, { ruleset: rs, clock });
  assert.match(rs.table(1, 'f')!.flowtables.get('ft')!.flags.toString(), /^2$/, 'NFT_FLOWTABLE_COUNTER');
  handshake(path);
  const c = [...path.ct!.slots].find((x) => x !== null)!;
  const before = [...c.packets];
  const bytesBefore = c.bytes[0];
  for (let i = 0; i < 3; i++) assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)));
  assert.ok(onFastPath(path.receive('wan0', tcpIn('A', 5001, 1001), true)));
  assert.deepEqual(c.packets, [before[0]! + 3, before[1]! + 1]);
  assert.equal(c.bytes[0] - bytesBefore, 3 * 40, 'layer-3 bytes (skb->len)');
});

test('deleting the flowtable\'s table tears its flows down: the connection is conntrack\'s again', () => {
  const { host, path, clock } = router();
  handshake(path);
  assert.ok(onFastPath(path.receive('lan0', tcpOut('A', 1001, 5001), true)));
  let err = '';
  assert.equal(executeNft(path.ruleset, 'delete table inet f', '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
  const o = path.receive('lan0', tcpOut('A', 1001, 5001), true);
  assert.ok(!onFastPath(o));
  assert.equal(o.fate, 'forwarded', 'no firewall left: forwarded by the slow path');
});

test('property: with or without the flowtable, the router sends the same bytes and decides the same fates', (t) => {
  // Connections through the masquerade and through a port forward, their packets interleaved at
  // random: in-window TCP data both ways with random sizes, UDP both ways, some TTL 1 packets,
  // some closed with FIN. The flowtable may change only what the forward chain saw, never the wire.
  // A third router runs in the fast mode on Ethernet frames, where offloaded flows leave before
  // the frame becomes a packet (flowtableFront): its fates, bytes, counters and conntrack table
  // must be those of the one that walks every packet.
  const text = FLOWTABLE.replace('oifname "wan0" masquerade', 'oifname "wan0" masquerade\n\t}\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tiifname "wan0" tcp dport 8080 dnat ip to 10.0.1.2:80')
    .replace('iifname "lan0" counter accept', 'iifname "lan0" counter accept\n\t\tct status dnat counter accept');
  const slowText = SLOW.replace('oifname "wan0" masquerade', 'oifname "wan0" masquerade\n\t}\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tiifname "wan0" tcp dport 8080 dnat ip to 10.0.1.2:80')
    .replace('iifname "lan0" counter accept', 'iifname "lan0" counter accept\n\t\tct status dnat counter accept');
  let fastPackets = 0, slowPackets = 0, frontPackets = 0;
  const step = fc.record({ conn: fc.nat(3), fromClient: fc.boolean(), len: fc.oneof(fc.constant(0), fc.nat(1400)), ttl1: fc.nat(20).map((n) => n === 0), fin: fc.nat(30).map((n) => n === 0) });
  fc.assert(fc.property(fc.array(step, { minLength: 5, maxLength: 40 }), (steps) => {
    const fast = router(text), slow = router(slowText), front = router(text, false);
    // conn 0, 1: LAN clients out through the masquerade (TCP, UDP); 2: a WAN client to the port
    // forward (TCP); 3: another LAN client over TCP.
    const conns = [0, 1, 2, 3].map((i) => ({ i, udp: i === 1, inbound: i === 2, cseq: 1000 * (i + 1), sseq: 50_000 * (i + 1), open: false, closed: false }));
    const send = (dev: string, e: string): void => {
      const a = fast.path.receive(dev, l3(e), true), b = slow.path.receive(dev, l3(e), true);
      const early = front.path.flowtables.early, f = front.path.receive(dev, frameTo(front.host, dev, l3(e)));
      if (onFastPath(a)) fastPackets++; else slowPackets++;
      frontPackets += front.path.flowtables.early - early;
      assert.equal(a.fate, b.fate, e);
      assert.deepEqual(a.emitted.map((x) => [x.dev, hex(x.frame)]), b.emitted.map((x) => [x.dev, hex(x.frame)]), e);
      assert.deepEqual([f.fate, f.reason], [a.fate, a.reason], e);
      assert.deepEqual(f.emitted.map((x) => [x.dev, hex(x.frame)]), a.emitted.map((x) => [x.dev, hex(x.frame)]), e);
    };
    const ends = (c: typeof conns[number]) => c.inbound
      ? { cdev: 'wan0', sdev: 'lan0', cip: '198.51.100.9', sip: '10.0.1.2', cport: 33000, sport: 80, cdst: '192.0.2.1', cdport: 8080, sdst: '198.51.100.9' }
      : { cdev: 'lan0', sdev: 'wan0', cip: '10.0.1.2', sip: `198.51.100.${20 + c.i}`, cport: 40000 + c.i, sport: c.udp ? 53 : 443, cdst: `198.51.100.${20 + c.i}`, cdport: c.udp ? 53 : 443, sdst: '192.0.2.1' };
    for (const s of steps) {
      const c = conns[s.conn]!;
      if (c.closed) continue;
      const e = ends(c);
      const raw = s.len > 0 ? `/Raw(load=b"${'d'.repeat(s.len)}")` : '';
      const ttl = s.ttl1 ? ',ttl=1' : '';
      if (c.udp) {
        if (s.fromClient) send(e.cdev, `IP(src="${e.cip}",dst="${e.cdst}"${ttl})/UDP(sport=${e.cport},dport=${e.cdport})${raw}`);
        else send(e.sdev, `IP(src="${e.sip}",dst="${e.sdst}"${ttl})/UDP(sport=${e.sport},dport=${e.cport})${raw}`);
        continue;
      }
      if (!c.open) {
        send(e.cdev, `IP(src="${e.cip}",dst="${e.cdst}")/TCP(sport=${e.cport},dport=${e.cdport},flags="S",seq=${c.cseq - 1})`);
        send(e.sdev, `IP(src="${e.sip}",dst="${e.sdst}")/TCP(sport=${e.sport},dport=${e.cport},flags="SA",seq=${c.sseq - 1},ack=${c.cseq})`);
        send(e.cdev, `IP(src="${e.cip}",dst="${e.cdst}")/TCP(sport=${e.cport},dport=${e.cdport},flags="A",seq=${c.cseq},ack=${c.sseq})`);
        c.open = true;
        continue;
      }
      const flags = s.fin ? 'FA' : s.len > 0 ? 'PA' : 'A';
      // A TTL 1 packet dies at the router: the sequence space does not move.
      if (s.fromClient) {
        send(e.cdev, `IP(src="${e.cip}",dst="${e.cdst}"${ttl})/TCP(sport=${e.cport},dport=${e.cdport},flags="${flags}",seq=${c.cseq},ack=${c.sseq})${raw}`);
        if (!s.ttl1) c.cseq += s.len + (s.fin ? 1 : 0);
      } else {
        send(e.sdev, `IP(src="${e.sip}",dst="${e.sdst}"${ttl})/TCP(sport=${e.sport},dport=${e.cport},flags="${flags}",seq=${c.sseq},ack=${c.cseq})${raw}`);
        if (!s.ttl1) c.sseq += s.len + (s.fin ? 1 : 0);
      }
      if (s.fin && !s.ttl1) c.closed = true;
    }
    assert.deepEqual(counters(front.path), counters(fast.path), 'forward chain counters');
    const table = (p: HostPath) => p.ct!.slots.filter((c) => c !== null).map((c) => formatConn(p.ct!, c!)).sort();
    assert.deepEqual(table(front.path), table(fast.path), 'conntrack tables');
  }), { numRuns: 25, seed: 0x6e6678 });
  // The property says something only if both paths were taken often.
  assert.ok(fastPackets > 100 && slowPackets > 100, `fast ${fastPackets}, slow ${slowPackets}`);
  assert.equal(frontPackets, fastPackets, 'in the fast mode every offloaded packet left before it became a packet');
  t.diagnostic(`${fastPackets} packets took the fast path, ${slowPackets} the slow path`);
});

for (const detail of [true, false]) {
  test(`the flowtable sits among the device's netdev ingress chains by priority: chains above it never see an offloaded packet (${detail ? 'walk recorded' : 'fast mode'})`, () => {
    const host = routerHost();
    const clock = new VirtualClock(1_000_000);
    const rs = load(host, FLOWTABLE + `
table netdev n {
	chain early {
		type filter hook ingress device lan0 priority -10; policy accept;
		counter
	}
	chain late {
		type filter hook ingress device lan0 priority 10; policy accept;
		counter
	}
}`, clock);
    const path = new HostPath(host, { ruleset: rs, clock, detail });
    // The fast mode gets Ethernet frames, which an offloaded flow could take before they become
    // packets (flowtableFront) were it not for the chain before the flowtable.
    const receive = (dev: string, l3: Uint8Array): PacketOutcome => path.receive(dev, frameTo(host, dev, l3));
    const count = (chain: string): number => Number((rs.table(5, 'n')!.chains.get(chain)!.rules[0]!.exprs[0] as { packets: number }).packets);
    receive('lan0', tcpOut('S', 1000, 0)); receive('wan0', tcpIn('SA', 5000, 1001)); receive('lan0', tcpOut('A', 1001, 5001));
    assert.deepEqual([count('early'), count('late')], [2, 2]);   // the handshake's two packets from lan0, both on the slow path
    const ft = path.flowtables.all(rs)[0]!;
    for (let i = 0; i < 3; i++) assert.equal(receive('lan0', tcpOut('A', 1001, 5001)).fate, 'forwarded');
    assert.equal(ft.packets, 3);
    assert.equal(path.flowtables.early, 0);
    assert.deepEqual([count('early'), count('late')], [5, 2], 'priority -10 before the flowtable (0), 10 after it');
    // A drop before the flowtable wins over the fast path.
    let err = '';
    assert.equal(executeNft(rs, 'add rule netdev n early tcp dport 443 drop', '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
    assert.equal(receive('lan0', tcpOut('A', 1001, 5001)).fate, 'dropped');
    assert.equal(ft.packets, 3);
    // Without netdev chains the fast mode forwards the flow's frames before they become packets.
    assert.equal(executeNft(rs, 'delete table netdev n', '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
    assert.equal(receive('lan0', tcpOut('A', 1001, 5001)).fate, 'forwarded');
    assert.deepEqual([ft.packets, path.flowtables.early], [4, detail ? 0 : 1]);
    // An egress chain on the way out sees every frame the flowtable sends: then the frame becomes a packet first.
    assert.equal(executeNft(rs, 'table netdev e { chain out { type filter hook egress device wan0 priority 0; counter; }; }', '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
    assert.equal(receive('lan0', tcpOut('A', 1001, 5001)).fate, 'forwarded');
    assert.deepEqual([ft.packets, path.flowtables.early], [5, detail ? 0 : 1]);
    assert.equal(Number((rs.table(5, 'e')!.chains.get('out')!.rules[0]!.exprs[0] as { packets: number }).packets), 1);
  });
}
