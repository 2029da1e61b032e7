/**
 * The Linux bridge, configuration and packet path, as net/bridge does it:
 * ports and states, the bridge's MAC, learning and ageing in the FDB,
 * flooding, hairpin, local delivery through the bridge device, the host's own
 * packets out of br0, bridge-family hooks and meta keys, the bridge drop
 * reasons, and nf_conntrack_bridge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostFromJson, hostToJson } from '../src/host/store.js';
import { fdbEntries } from '../src/host/bridge-fdb.js';
import { runBridge } from '../src/host/bridge-cmd.js';
import type { Host } from '../src/host/types.js';
import { linkByName } from '../src/host/links.js';
import { expectFate } from '../src/host/path/testing.js';
import { formatConntrack } from '../src/netfilter/conntrack/index.js';
import { fragmentIpv4 } from '../src/host/path/fragment.js';
import { refragment6 } from '../src/host/path/bridge-ct.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';
import { BR_MAC, bridgeHost, bridgePath, frame, hex, ip, ipTry } from './support/bridge-host.js';

const A = BR_MAC.a, B = BR_MAC.b, C = BR_MAC.c;
const udp = (src: string, dst: string, ipSrc = '10.0.0.2', ipDst = '10.0.0.3'): Uint8Array =>
  frame(`Ether(src="${src}",dst="${dst}")/IP(src="${ipSrc}",dst="${ipDst}")/UDP(sport=1000,dport=2000)/Raw(load=b"hi")`);

// ---------------------------------------------------------------------------
// Configuration

test('ip link: a bridge and its ports list as iproute2 lists them, with "master br0"', () => {
  const h = bridgeHost();
  const out = ip(h, 'link show p0');
  assert.match(out, /^\d+: p0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\n/);
  assert.match(ip(h, 'link show br0'), /br0: <BROADCAST,MULTICAST,UP,LOWER_UP> .* state UP /);
  const d = ip(h, '-d link show p0');
  assert.match(d, /promiscuity 1  allmulti 1 minmtu 68/);
  assert.match(d, /\n {4}bridge_slave state forwarding priority 32 cost 100 hairpin off .* learning on flood on port_id 0x8001 port_no 0x1 /);
  assert.match(ip(h, '-d link show br0'), /\n {4}bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 0 vlan_protocol 802\.1Q bridge_id 8000\.2:0:0:0:10:0 .* gc_timer +[\d.]+ vlan_default_pvid 1 vlan_stats_enabled 0 vlan_stats_per_port 0 group_fwd_mask 0 /);
  const j = JSON.parse(ip(h, '-j -d link show p0')) as Array<Record<string, any>>;
  assert.equal(j[0]!['master'], 'br0');
  assert.equal(j[0]!['linkinfo'].info_slave_kind, 'bridge');
  assert.equal(j[0]!['linkinfo'].info_slave_data.state, 'forwarding');
  assert.deepEqual(ip(h, 'link show master br0').match(/^\d+: (\S+):/gm)!.map((s) => s.split(' ')[1]), ['p0:', 'p1:', 'p2:']);
});

test('the bridge MAC follows its lowest port MAC until set, and is all zeros with no ports (br_stp_recalculate_bridge_id)', () => {
  const h = bridgeHost();
  assert.match(ip(h, 'link show br0'), /link\/ether 02:00:00:00:10:00 /);
  ip(h, 'link set p0 nomaster');
  assert.match(ip(h, 'link show br0'), /link\/ether 02:00:00:00:11:00 /);
  ip(h, 'link set p1 nomaster\nlink set p2 nomaster');
  assert.match(ip(h, 'link show br0'), /<NO-CARRIER,BROADCAST,MULTICAST,UP> .* state DOWN .*\n {4}link\/ether 00:00:00:00:00:00 /);
  ip(h, 'link set br0 address 02:aa:00:00:00:01\nlink set p2 master br0');
  assert.match(ip(h, 'link show br0'), /link\/ether 02:aa:00:00:00:01 /, 'a MAC the user set stays');
});

test('a bridge brought up over a forwarding port gets its link-local address from its MAC', () => {
  const h = bridgeHost();
  assert.match(ip(h, 'addr show dev br0'), /inet6 fe80::ff:fe00:1000\/64 scope link/);
});

test('port states: disabled while the bridge or the port is down, forwarding when both run (STP off)', () => {
  const h = bridgeHost();
  ip(h, 'link set br0 down');
  assert.match(ip(h, '-d link show p1'), /bridge_slave state disabled /);
  ip(h, 'link set br0 up\nlink set p1 down');
  assert.match(ip(h, '-d link show p1'), /bridge_slave state disabled /);
  assert.match(ipTry(h, 'link set p1 type bridge_slave state 2').err, /RTNETLINK answers: Network is down/);
  ip(h, 'link set p1 up');
  assert.match(ip(h, '-d link show p1'), /bridge_slave state forwarding /);
  ip(h, 'link set p1 type bridge_slave state 2');
  assert.match(ip(h, '-d link show p1'), /bridge_slave state learning /);
  assert.match(ipTry(h, 'link set p1 type bridge_slave state learning').err, /state is invalid/, 'ip takes numbers only');
});

test('enslaving errors are the kernel\'s', () => {
  const h = bridgeHost();
  ip(h, 'link add br1 type bridge');
  assert.equal(ipTry(h, 'link set br1 master br0').err, 'Error: Can not enslave a bridge to a bridge.\n');
  assert.equal(ipTry(h, 'link set lo master br0').err, 'RTNETLINK answers: Invalid argument\n');
  assert.equal(ipTry(h, 'link set p0 master p1').err, 'RTNETLINK answers: Operation not supported\n');
  ip(h, 'link set p0 master br1');
  assert.match(ip(h, 'link show p0'), /master br1 /, 'a port moves to its new master');
  ip(h, 'link del br1');
  assert.doesNotMatch(ip(h, 'link show p0'), /master/, 'deleting a bridge frees its ports');
});

test('a bridged host survives the store round trip', () => {
  const h = bridgeHost();
  ip(h, 'link set br0 type bridge ageing_time 1000\nlink set p2 type bridge_slave hairpin on');
  const back = hostFromJson(JSON.parse(JSON.stringify(hostToJson(h))) as Record<string, unknown>);
  for (const dev of ['br0', 'p0', 'p1', 'p2']) assert.equal(ip(back, `-d link show ${dev}`), ip(h, `-d link show ${dev}`));
});

function bridgeCmd(h: Host, line: string, now = 0): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runBridge(h, line.split(/\s+/), { out: (t) => { out += t; }, err: (t) => { err += t; } }, now);
  return { status, out, err };
}

test('bridge link: ports as iproute2\'s bridge lists them; set changes flags and state with the kernel\'s errors', () => {
  const h = bridgeHost();
  assert.equal(bridgeCmd(h, 'link show dev p1').out, '3: p1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state forwarding priority 32 cost 100 \n'.replace('3:', `${linkByName(h, 'p1')!.index}:`));
  assert.equal(bridgeCmd(h, 'link set dev p1 hairpin on learning off state learning').status, 0);
  assert.match(bridgeCmd(h, '-d link show dev p1').out, /state learning .*\n {4}hairpin on guard off root_block off fastleave off learning off flood on /);
  ip(h, 'link set p2 down');
  assert.deepEqual(bridgeCmd(h, 'link set dev p2 state 3'), { status: 255, out: '', err: 'RTNETLINK answers: Network is down\n' });
  assert.equal(bridgeCmd(h, 'link set dev br0 hairpin on').err, 'RTNETLINK answers: Operation not supported\n');
});

test('bridge fdb: learnt entries newest first before each port\'s own addresses (VLAN 1, then none), aged on the host clock', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  path.receive('p0', udp(A, B));
  path.receive('p0', udp(C, B));
  path.receive('p1', udp(B, A));
  // A port's own MAC has a local entry in VID 0 (br_add_if) and, newer, in the default PVID (nbp_vlan_init).
  assert.equal(bridgeCmd(h, 'fdb show').out, [
    `${C} dev p0 master br0 `, `${A} dev p0 master br0 `, `${BR_MAC.p0} dev p0 vlan 1 master br0 permanent`, `${BR_MAC.p0} dev p0 master br0 permanent`,
    `${B} dev p1 master br0 `, `${BR_MAC.p1} dev p1 vlan 1 master br0 permanent`, `${BR_MAC.p1} dev p1 master br0 permanent`,
    `${BR_MAC.p2} dev p2 vlan 1 master br0 permanent`, `${BR_MAC.p2} dev p2 master br0 permanent`, '',
  ].join('\n'));
  assert.equal(bridgeCmd(h, 'fdb show br br0 brport p1 dynamic').out, `${B} master br0 \n`);
  assert.equal(bridgeCmd(h, 'fdb show dynamic', 300_000).out, '', 'all aged out after 300 s');
});

// ---------------------------------------------------------------------------
// Learning, forwarding, flooding, ageing

test('unknown unicast floods to every other port, most recently added first; the reply goes only where the FDB says', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  const first = path.receive('p0', udp(A, B));
  expectFate(first, { fate: 'forwarded', emitted: ['p2', 'p1'] });
  assert.equal(hex(first.emitted[0]!.frame), hex(udp(A, B)), 'bridged frames leave unchanged');
  const reply = path.receive('p1', udp(B, A, '10.0.0.3', '10.0.0.2'));
  expectFate(reply, { fate: 'forwarded', emitted: ['p0'] });
  const third = path.receive('p2', udp(C, B));
  expectFate(third, { fate: 'forwarded', emitted: ['p1'] });
  const fdb = fdbEntries(h, linkByName(h, 'br0')!, path.clock.nowMs()).map((e) => `${e.mac} ${e.dev}`).sort();
  assert.deepEqual(fdb, [`${A} p0`, `${B} p1`, `${C} p2`]);
});

test('a station that moves is learnt on its new port (roaming)', () => {
  const path = bridgePath(bridgeHost());
  path.receive('p0', udp(A, B));
  path.receive('p2', udp(A, B));
  expectFate(path.receive('p1', udp(B, A)), { fate: 'forwarded', emitted: ['p2'] });
});

test('learnt entries age out after ageing_time (300 s by default) on the virtual clock', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  path.receive('p1', udp(B, A));
  path.clock.advance(299_000);
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p1'] });
  path.clock.advance(1_000);
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p2', 'p1'] });
  ip(h, 'link set br0 type bridge ageing_time 0');
  path.receive('p2', udp(C, A));
  assert.deepEqual(fdbEntries(h, linkByName(h, 'br0')!, path.clock.nowMs()).filter((e) => e.mac === C), [], 'ageing_time 0: nothing is learnt');
});

test('a port that goes down forgets the stations it learnt (br_stp_disable_port)', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  path.receive('p1', udp(B, A));
  ip(h, 'link set p1 down\nlink set p1 up');
  path.refresh();
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p2', 'p1'] });
});

test('hairpin off: a frame for a station behind its own ingress port is dropped; hairpin on sends it back', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  path.receive('p0', udp(B, A));
  expectFate(path.receive('p0', udp(A, B)), { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /hairpin off/, emitted: [] });
  ip(h, 'link set p0 type bridge_slave hairpin on');
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p0'] });
});

test('ports that are down or not forwarding get no copies; with none left the flood has no target', () => {
  const h = bridgeHost();
  ip(h, 'link set p2 down');
  const path = bridgePath(h);
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p1'] });
  ip(h, 'link set p1 type bridge_slave state 1');
  expectFate(path.receive('p0', udp(A, B)), { fate: 'dropped', reason: 'NO_TX_TARGET' as never, emitted: [] });
  expectFate(path.receive('p1', udp(B, A)), { fate: 'dropped', reason: 'BRIDGE_INGRESS_STP_STATE' as never, check: /p1 is listening/ });
  ip(h, 'link set p1 type bridge_slave state 4');
  assert.match(ip(h, '-d link show p1'), /bridge_slave state forwarding /, 'with STP off a blocking port is made forwarding at once (br_make_forwarding)');
});

test('a learning port learns but does not forward (BRIDGE_INGRESS_STP_STATE)', () => {
  const h = bridgeHost();
  ip(h, 'link set p1 type bridge_slave state 2');
  const path = bridgePath(h);
  expectFate(path.receive('p1', udp(B, A)), { fate: 'dropped', reason: 'BRIDGE_INGRESS_STP_STATE' as never, check: /learning/ });
  assert.ok(fdbEntries(h, linkByName(h, 'br0')!, 0).some((e) => e.mac === B && e.dev === 'p1'));
});

test('invalid source MACs and pause frames are dropped with their reasons', () => {
  const path = bridgePath(bridgeHost());
  expectFate(path.receive('p0', udp('01:00:5e:00:00:01', B)), { fate: 'dropped', reason: 'MAC_INVALID_SOURCE' as never });
  expectFate(path.receive('p0', udp('00:00:00:00:00:00', B)), { fate: 'dropped', reason: 'MAC_INVALID_SOURCE' as never });
  const pause = frame(`Ether(src="${A}",dst="01:80:c2:00:00:01",type=0x8808)/Raw(load=b"\\x00\\x01\\x00\\x10")`);
  expectFate(path.receive('p0', pause), { fate: 'dropped', reason: 'MAC_IEEE_MAC_CONTROL' as never });
});

test('01:80:c2:00:00:00 (STP) is forwarded with STP off; other reserved groups go to the port\'s own stack', () => {
  const path = bridgePath(bridgeHost());
  const stp = frame(`Ether(src="${A}",dst="01:80:c2:00:00:00",type=0x0026)/Raw(load=b"\\x42\\x42\\x03")`);
  expectFate(path.receive('p0', stp), { fate: 'forwarded', emitted: ['p2', 'p1'] });
  const lldp = frame(`Ether(src="${A}",dst="01:80:c2:00:00:0e",type=0x88cc)/Raw(load=b"\\x02\\x07")`);
  expectFate(path.receive('p0', lldp), { fate: 'dropped', reason: 'UNHANDLED_PROTO', emitted: [] });
});

test('property: frames leave unchanged, never by their ingress port, and only where a model switch sends them', () => {
  const macs = [A, B, C, '02:00:00:00:0d:01', '02:00:00:00:0e:01'];
  const dsts = [...macs, 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01'];
  fc.assert(fc.property(fc.array(fc.record({ port: fc.integer({ min: 0, max: 2 }), src: fc.constantFrom(...macs), dst: fc.constantFrom(...dsts) }), { minLength: 1, maxLength: 30 }), (frames) => {
    const path = bridgePath(bridgeHost());
    const seen = new Map<string, number>();
    for (const f of frames) {
      const bytes = udp(f.src, f.dst);
      const out = path.receive(`p${f.port}`, bytes);
      seen.set(f.src, f.port);
      const where = seen.get(f.dst);
      const others = [2, 1, 0].filter((p) => p !== f.port).map((p) => `p${p}`);
      const want = f.dst.startsWith('02:') && where !== undefined ? (where === f.port ? [] : [`p${where}`]) : others;
      assert.deepEqual(out.emitted.map((e) => e.dev), want);
      for (const e of out.emitted) assert.equal(hex(e.frame), hex(bytes));
    }
  }), { numRuns: 100 });
});

// ---------------------------------------------------------------------------
// Local delivery and the host's own packets

test('a frame for the bridge MAC goes up with iif br0: bridge INPUT, inet INPUT, and the reply leaves by the learnt port', () => {
  const h = bridgeHost({ addr4: '10.0.0.1/24' });
  ip(h, `neigh add 10.0.0.2 lladdr ${A} dev br0 nud permanent`);
  const path = bridgePath(h, `
    table bridge b { chain in { type filter hook input priority 0; meta ibrname "br0" iifname "p0" counter; }; }
    table inet f { chain in { type filter hook input priority 0; iif "br0" counter; }; }`);
  const ping = frame(`Ether(src="${A}",dst="${BR_MAC.p0}")/IP(src="10.0.0.2",dst="10.0.0.1")/ICMP(type=8,id=7,seq=1)`);
  const out = path.receive('p0', ping);
  expectFate(out, { fate: 'delivered', emitted: ['p0'] });
  const counter = (fam: number, t: string): number => (path.ruleset.table(fam, t)!.chains.get('in')!.rules[0]!.exprs.find((e) => e.type === 'counter') as CounterExpr).packets;
  assert.equal(counter(7, 'b'), 1, 'meta ibrname "br0" iifname "p0" matched at bridge input');
  assert.equal(counter(1, 'f'), 1, 'iif "br0" matched at inet input');
  const reply = out.emitted[0]!.frame;
  assert.equal(hex(reply.subarray(0, 12)), (A + BR_MAC.p0).replace(/:/g, ''), 'the echo reply goes to A from the bridge MAC');
  assert.equal(reply[14 + 20], 0, 'an echo reply');
  assert.deepEqual([...new Set(out.trace.map((t) => `${t.family} ${t.hook}`))], ['bridge input', 'inet input']);
});

test('broadcast ARP floods to the other ports and goes up the stack too', () => {
  const path = bridgePath(bridgeHost({ addr4: '10.0.0.1/24' }), `
    table bridge b { chain in { type filter hook input priority 0; counter; }; }`);
  const arp = frame(`Ether(src="${A}",dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc="${A}",psrc="10.0.0.2",pdst="10.0.0.1")`);
  const out = path.receive('p0', arp);
  expectFate(out, { fate: 'forwarded', emitted: ['p2', 'p1'] });
  assert.ok(out.steps.some((s) => /ARP: handled by the neighbour layer/.test(s.text)), 'the local copy reached ARP');
  assert.equal((path.ruleset.table(7, 'b')!.chains.get('in')!.rules[0]!.exprs[0] as CounterExpr).packets, 1);
});

test('a frame for another port\'s MAC goes up but is PACKET_OTHERHOST there', () => {
  const path = bridgePath(bridgeHost({ addr4: '10.0.0.1/24' }));
  const out = path.receive('p0', udp(A, BR_MAC.p1, '10.0.0.2', '10.0.0.1'));
  expectFate(out, { fate: 'dropped', reason: 'OTHERHOST', emitted: [] });
});

test('the host\'s own packets out of br0: flooded while the station is unknown, then to its port; bridge OUTPUT and POSTROUTING see them', () => {
  const h = bridgeHost({ addr4: '10.0.0.1/24' });
  ip(h, `neigh add 10.0.0.2 lladdr ${A} dev br0 nud permanent`);
  const path = bridgePath(h, `
    table bridge b {
      chain out { type filter hook output priority 0; meta obrname "br0" counter; }
      chain post { type filter hook postrouting priority 0; counter; }
    }`);
  const l3 = packetFromExpression('IP(src="10.0.0.1",dst="10.0.0.2")/UDP(sport=5000,dport=53)', { link: 'raw' });
  expectFate(path.output(l3), { fate: 'forwarded', emitted: ['p2', 'p1', 'p0'] });
  const c = (chain: string): number => (path.ruleset.table(7, 'b')!.chains.get(chain)!.rules[0]!.exprs.find((e) => e.type === 'counter') as CounterExpr).packets;
  assert.equal(c('out'), 3, 'each copy crossed bridge OUTPUT, with obrname br0');
  assert.equal(c('post'), 3);
  path.receive('p0', udp(A, B));
  const again = path.output(l3);
  expectFate(again, { fate: 'forwarded', emitted: ['p0'] });
  assert.equal(hex(again.emitted[0]!.frame.subarray(0, 12)), (A + BR_MAC.p0).replace(/:/g, ''));
});

test('a forwarded IPv6 frame is bridged untouched (no hop-limit decrement)', () => {
  const path = bridgePath(bridgeHost());
  const f = frame(`Ether(src="${A}",dst="${B}")/IPv6(src="2001:db8::2",dst="2001:db8::3",hlim=1)/UDP(sport=1,dport=2)`);
  const out = path.receive('p0', f);
  expectFate(out, { fate: 'forwarded', emitted: ['p2', 'p1'] });
  assert.equal(hex(out.emitted[1]!.frame), hex(f));
});

// ---------------------------------------------------------------------------
// Bridge-family rules and meta keys

test('a bridge FORWARD rule drops one copy of a flood; the others still leave', () => {
  const path = bridgePath(bridgeHost(), `
    table bridge f { chain fw { type filter hook forward priority 0; oifname "p1" drop; }; }`);
  const out = path.receive('p0', udp(A, B));
  expectFate(out, { fate: 'forwarded', emitted: ['p2'] });
  assert.ok(out.steps.some((s) => /dropped by bridge f fw rule handle \d+ at bridge forward/.test(s.text)));
  const known = bridgePath(bridgeHost(), `
    table bridge f { chain fw { type filter hook forward priority 0; ether daddr ${B} drop; }; }`);
  known.receive('p1', udp(B, A));
  const handle = known.ruleset.table(7, 'f')!.chains.get('fw')!.rules[0]!.handle!;
  expectFate(known.receive('p0', udp(A, B)), { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { family: 'bridge', table: 'f', chain: 'fw', handle }, emitted: [] });
});

test('bridge PREROUTING sees the ingress port and the bridge name; POSTROUTING has no input device', () => {
  const path = bridgePath(bridgeHost(), `
    table bridge f {
      chain pre { type filter hook prerouting priority 0; iifname "p0" meta ibrname "br0" counter; }
      chain post { type filter hook postrouting priority 0; iifname "p0" counter; meta obrname "br0" oifname "p1" counter; }
    }`);
  path.receive('p1', udp(B, A));
  path.receive('p0', udp(A, B));
  const rules = (c: string): CounterExpr[] => path.ruleset.table(7, 'f')!.chains.get(c)!.rules.map((r) => r.exprs.find((e) => e.type === 'counter') as CounterExpr);
  assert.equal(rules('pre')[0]!.packets, 1);
  assert.equal(rules('post')[0]!.packets, 0, 'iifname breaks at bridge postrouting (nft_in is NULL)');
  assert.equal(rules('post')[1]!.packets, 1);
});

// ---------------------------------------------------------------------------
// nf_conntrack_bridge

const CT_FW = `
  table bridge f {
    chain fw {
      type filter hook forward priority 0; policy drop;
      ct state established,related accept
      ct state new ip saddr 10.0.0.2 accept
      ether type arp accept
    }
  }`;
const tcp = (src: string, dst: string, ips: string, ipd: string, flags: string, sport: number, dport: number, seq: number, ack = 0): Uint8Array =>
  frame(`Ether(src="${src}",dst="${dst}")/IP(src="${ips}",dst="${ipd}")/TCP(sport=${sport},dport=${dport},flags="${flags}",seq=${seq},ack=${ack})`);

test('bridge conntrack: "ct state established accept" in a bridge table lets replies through, not unsolicited packets', () => {
  const path = bridgePath(bridgeHost(), CT_FW);
  path.receive('p1', udp(B, A, '10.0.0.3', '10.0.0.9'));
  expectFate(path.receive('p0', tcp(A, B, '10.0.0.2', '10.0.0.3', 'S', 40000, 80, 1)), { fate: 'forwarded', emitted: ['p1'] });
  expectFate(path.receive('p1', tcp(B, A, '10.0.0.3', '10.0.0.2', 'SA', 80, 40000, 100, 2)), { fate: 'forwarded', emitted: ['p0'] });
  expectFate(path.receive('p0', tcp(A, B, '10.0.0.2', '10.0.0.3', 'A', 40000, 80, 2, 101)), { fate: 'forwarded', emitted: ['p1'] });
  expectFate(path.receive('p1', tcp(B, A, '10.0.0.3', '10.0.0.2', 'S', 81, 40001, 500)), { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: [] });
  assert.match(formatConntrack(path.ct!), /tcp +6 \d+ ESTABLISHED src=10\.0\.0\.2 dst=10\.0\.0\.3 sport=40000 dport=80 .*\[ASSURED\]/);
});

test('bridge conntrack: non-IP frames are untracked; conntrack trims the Ethernet padding of what it tracks', () => {
  const path = bridgePath(bridgeHost(), `
    table bridge f { chain pre { type filter hook prerouting priority 0; ct state untracked counter; }; }`);
  const arp = frame(`Ether(src="${A}",dst="ff:ff:ff:ff:ff:ff")/ARP(op=1,hwsrc="${A}",psrc="10.0.0.2",pdst="10.0.0.3")`);
  path.receive('p0', arp);
  assert.equal((path.ruleset.table(7, 'f')!.chains.get('pre')!.rules[0]!.exprs.find((e) => e.type === 'counter') as CounterExpr).packets, 1);
  const padded = new Uint8Array(64);
  padded.set(udp(A, B));
  const out = path.receive('p0', padded);
  assert.equal(out.emitted[0]!.frame.length, udp(A, B).length, 'pskb_trim_rcsum() in nf_ct_bridge_pre');
});

test('bridge conntrack defragments before tracking and refragments on the way out (nf_ct_bridge_refrag)', () => {
  const path = bridgePath(bridgeHost(), CT_FW);
  path.receive('p1', udp(B, A, '10.0.0.3', '10.0.0.9'));
  const big = packetFromExpression(`IP(src="10.0.0.2",dst="10.0.0.3",id=77)/UDP(sport=1000,dport=2000)/Raw(load=b"${'x'.repeat(1200)}")`, { link: 'raw' });
  const frags = fragmentIpv4(big, 600);
  const eth = frame(`Ether(src="${A}",dst="${B}")/Raw(load=b"")`).subarray(0, 12);
  const asFrame = (f: Uint8Array): Uint8Array => { const x = new Uint8Array(14 + f.length); x.set(eth); x[12] = 8; x.set(f, 14); return x; };
  const outs = frags.map((f) => path.receive('p0', asFrame(f)));
  expectFate(outs[0]!, { fate: 'stolen', emitted: [] });
  const last = outs[outs.length - 1]!;
  expectFate(last, { fate: 'forwarded', emitted: frags.map(() => 'p1') });
  assert.deepEqual(last.emitted.map((e) => hex(e.frame)), frags.map((f) => hex(asFrame(f))), 'the same fragments leave');
});

test('bridge conntrack refragments IPv6 to the largest fragment size with a new identification; under 1280 it is blackholed', () => {
  const path = bridgePath(bridgeHost(), CT_FW.replace('ct state new ip saddr 10.0.0.2 accept', 'ct state new ip6 saddr 2001:db8::2 accept'));
  path.receive('p1', udp(B, A, '10.0.0.3', '10.0.0.9'));
  const whole = packetFromExpression(`IPv6(src="2001:db8::2",dst="2001:db8::3")/UDP(sport=1000,dport=2000)/Raw(load=b"${'y'.repeat(2000)}")`, { link: 'raw' });
  const eth = hex(frame(`Ether(src="${A}",dst="${B}",type=0x86dd)/Raw(load=b"")`).subarray(0, 14));
  const send = (frags: Uint8Array[]) => frags.map((f) => path.receive('p0', Buffer.from(eth + hex(f), 'hex')));
  const frags = refragment6(whole, 1300, 1500, 0x1234)!;
  const outs = send(frags);
  const last = outs[outs.length - 1]!;
  expectFate(last, { fate: 'forwarded', emitted: frags.map(() => 'p1') });
  const noId = (h: string): string => h.slice(0, 28 + 2 * 44) + h.slice(28 + 2 * 48);
  assert.deepEqual(last.emitted.map((e) => noId(hex(e.frame))), frags.map((f) => noId(eth + hex(f))), 'same sizes and bytes but the identification');
  const lowWhole = packetFromExpression(`IPv6(src="2001:db8::2",dst="2001:db8::3")/UDP(sport=1001,dport=2000)/Raw(load=b"${'z'.repeat(1000)}")`, { link: 'raw' });
  // Hand-made 600-byte fragments (fine on the wire) are dropped when the bridge refragments them.
  const six = fragment6(lowWhole, 600);
  const r = send(six);
  expectFate(r[r.length - 1]!, { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /under 1280/, emitted: [] });
});

/** IPv6 fragments of `size` bytes, as a sender may make them (RFC 8200 §4.5), identification 0x42. */
function fragment6(l3: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const room = (size - 48) & ~7;
  const body = l3.subarray(40);
  for (let off = 0; off < body.length; off += room) {
    const len = Math.min(room, body.length - off);
    const f = new Uint8Array(48 + len);
    f.set(l3.subarray(0, 40));
    f[6] = 44;
    f[40] = l3[6]!;
    const w = off | (off + len < body.length ? 1 : 0);
    f[42] = w >> 8; f[43] = w & 0xff; f[47] = 0x42;
    f.set(body.subarray(off, off + len), 48);
    f[4] = (f.length - 40) >> 8; f[5] = (f.length - 40) & 0xff;
    out.push(f);
  }
  return out;
}

test('bridge conntrack: a frame for the host keeps its entry for the IP layer, which confirms it at INPUT', () => {
  const h = bridgeHost({ addr4: '10.0.0.1/24' });
  ip(h, `neigh add 10.0.0.2 lladdr ${A} dev br0 nud permanent`);
  const path = bridgePath(h, `
    table bridge f { chain pre { type filter hook prerouting priority 0; ct state new counter; }; }`);
  const ping = frame(`Ether(src="${A}",dst="${BR_MAC.p0}")/IP(src="10.0.0.2",dst="10.0.0.1")/ICMP(type=8,id=9,seq=1)`);
  expectFate(path.receive('p0', ping), { fate: 'delivered', emitted: ['p0'] });
  assert.match(formatConntrack(path.ct!), /icmp +1 \d+ src=10\.0\.0\.2 dst=10\.0\.0\.1 type=8 code=0 id=9 src=10\.0\.0\.1 dst=10\.0\.0\.2 type=0 code=0 id=9/);
});
