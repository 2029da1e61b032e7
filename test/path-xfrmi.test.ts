/**
 * xfrm interfaces (net/xfrm/xfrm_interface_core.c; iproute2 ip/link_xfrm.c):
 * `ip link add ipsec0 type xfrm dev wan0 if_id 5`, a route into it, and the
 * packet path: output looks the SPD up with the interface's if_id
 * (xfrmi_xmit2 → xfrm_lookup_with_ifid), input moves what an SA with that
 * if_id decapsulated onto the interface (xfrmi_rcv_cb), and the policy check
 * then uses the interface's if_id (xfrmi_decode_session).
 *
 * The gateway is routerHost() (lan0 10.0.1.1/24, wan0 192.0.2.1/24); the
 * peer gateway 198.51.100.1 is simulated with the ESP engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIp } from '../src/host/ip/index.js';
import { hostFromJson, hostToJson } from '../src/host/store.js';
import { linkByName } from '../src/host/links.js';
import type { Host } from '../src/host/types.js';
import { expectFate, ipLines, routerHost } from '../src/host/path/testing.js';
import { xfrmiStats } from '../src/host/path/xfrmi.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Xfrm, ManualClock, ipXfrm, espSaConfigFromXfrm, formatXfrmStat } from '../src/xfrm/index.js';
import { createEspSa, espInput, espOutput } from '../src/xfrm/esp/index.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';
import { bridgePath } from './support/bridge-host.js';

const KEY_OUT = '0x' + '11'.repeat(20), KEY_IN = '0x' + '22'.repeat(20);
const TO_PEER_LAN = 'IP(src="10.0.1.2",dst="10.0.2.5",ttl=64)/UDP(sport=40000,dport=53)/Raw(load=b"query")';
const FROM_PEER_LAN = 'IP(src="10.0.2.5",dst="10.0.1.2",ttl=64)/UDP(sport=53,dport=40000)/Raw(load=b"answer")';

function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }
function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

function ip(h: Host, line: string): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runIp(h, line.split(/\s+/).filter(Boolean), { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

function xfrmCmd(x: Xfrm, line: string): void {
  const r = ipXfrm(line.split(/\s+/).filter(Boolean), x, {});
  assert.equal(r.status, 0, `ip xfrm ${line}: ${r.stderr}`);
}

function stat(x: Xfrm, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(formatXfrmStat(x));
  return m ? Number(m[1]) : NaN;
}

/** The gateway with ipsec0 (if_id 5, over wan0) up and 10.0.2.0/24 routed into it. */
function xfrmiHost(ifId = 5): Host {
  const h = routerHost();
  ipLines(h, `
    link add ipsec0 type xfrm dev wan0 if_id ${ifId}
    link set ipsec0 up
    route add 10.0.2.0/24 dev ipsec0
  `);
  return h;
}

/**
 * Route-based VPN SAs and policies: wildcard selectors, everything tied to
 * the interface by if_id (`stateIfId`/`polIfId` change one side for the error cases).
 */
function vpnXfrm(o: { stateIfId?: number; polIfId?: number; out?: boolean } = {}): Xfrm {
  const sid = o.stateIfId ?? 5, pid = o.polIfId ?? 5;
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  const ifs = (n: number): string => (n ? ` if_id ${n}` : '');
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) ${KEY_OUT} 128${ifs(sid)}`);
  xfrmCmd(x, `state add src 198.51.100.1 dst 192.0.2.1 proto esp spi 0x2000 reqid 2 mode tunnel replay-window 32 aead rfc4106(gcm(aes)) ${KEY_IN} 128${ifs(sid)}`);
  if (o.out !== false) xfrmCmd(x, `policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir out${ifs(pid)} tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel`);
  for (const dir of ['in', 'fwd'])
    xfrmCmd(x, `policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir ${dir}${ifs(pid)} tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 2 mode tunnel`);
  return x;
}

function sa(x: Xfrm, spi: number) { return x.sad.states.find((s) => s.spi === spi)!; }

function espFromPeer(x: Xfrm, inner: Uint8Array): Uint8Array {
  const peer = createEspSa(espSaConfigFromXfrm(sa(x, 0x2000)));
  const pkt = Packet.from(inner);
  assert.ok(espOutput(peer, pkt).ok, 'the peer encrypts');
  return pkt.data.slice();
}

function counter(path: ReturnType<typeof bridgePath>, table: string, chain: string, fam = 2): number {
  return (path.ruleset.table(fam, table)!.chains.get(chain)!.rules[0]!.exprs.find((e) => e.type === 'counter') as CounterExpr).packets;
}

// ---------------------------------------------------------------------------
// ip link

test('ip link add type xfrm: NOARP, link/none, mtu 1500, named after its device; ip -d shows if_id in hex', () => {
  const h = xfrmiHost();
  const l = linkByName(h, 'ipsec0')!;
  const r = ip(h, '-d link show ipsec0');
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out,
    `${l.index}: ipsec0@wan0: <NOARP,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\n` +
    '    link/none  promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n' +
    '    xfrm if_id 0x5 addrgenmode random numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size 65536 tso_max_segs 65535 gro_max_size 65536 \n');
  assert.equal(ip(h, '-br link show ipsec0').out, 'ipsec0@wan0      UNKNOWN        <NOARP,UP,LOWER_UP> \n', 'no address in the brief form');
  const j = JSON.parse(ip(h, '-d -j link show ipsec0').out)[0];
  assert.equal(j.link, 'wan0');
  assert.equal(j.link_type, 'none');
  assert.equal(j.address, undefined, 'ARPHRD_NONE with addr_len 0: no IFLA_ADDRESS');
  assert.deepEqual(j.linkinfo, { info_kind: 'xfrm', info_data: { if_id: '0x5' } });
  // The lower device going down marks the interface M-DOWN, as print_name_and_link does.
  ip(h, 'link set wan0 down');
  assert.match(ip(h, 'link show ipsec0').out, /ipsec0@wan0: <NOARP,UP,LOWER_UP,M-DOWN>/);
  assert.equal(ip(h, 'link show type xfrm').out.split('\n').filter((x) => /^\d+:/.test(x)).length, 1, '`type xfrm` filters');
});

test('ip link add type xfrm external: no device (@NONE), `xfrm external`; one per namespace', () => {
  const h = routerHost();
  assert.equal(ip(h, 'link add ipsec9 type xfrm external').status, 0);
  assert.match(ip(h, 'link show ipsec9').out, /^\d+: ipsec9@NONE: <NOARP> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n {4}link\/none \n$/);
  assert.match(ip(h, '-d link show ipsec9').out, /\n {4}xfrm external addrgenmode/);
  assert.equal(JSON.parse(ip(h, '-j link show ipsec9').out)[0].link, null);
  const again = ip(h, 'link add ipsec8 type xfrm external');
  assert.deepEqual([again.status, again.err], [2, 'RTNETLINK answers: File exists\n'], 'xfrmi_newlink: collect_md_xfrmi is taken');
});

test('ip link add type xfrm refuses what iproute2 and xfrmi_newlink refuse', () => {
  const h = xfrmiHost();
  const cases: [string, number, string][] = [
    ['link add x1 type xfrm dev wan0 if_id 0', 1, 'Error: argument "0" is wrong: if_id value is invalid\n'],
    ['link add x1 type xfrm dev wan0', 1, 'Error: argument "IF_ID" is required\n'],
    ['link add x1 type xfrm dev nosuch if_id 3', 1, 'Cannot find device "nosuch"\n'],
    ['link add x1 type xfrm external if_id 3', 1, "xfrmi: both 'external' and if_id/link cannot be specified\n"],
    // xfrmi_locate(): one interface per if_id.
    ['link add x1 type xfrm dev lan0 if_id 5', 2, 'RTNETLINK answers: File exists\n'],
  ];
  for (const [line, status, err] of cases) {
    const r = ip(h, line);
    assert.deepEqual([r.status, r.err], [status, err], line);
  }
  assert.equal(ip(h, 'link add x1 type xfrm if_id 0x6').status, 0, 'no device is fine (link 0)');
  assert.match(ip(h, '-d link show x1').out, /x1@NONE:[^\n]*\n[^\n]*\n {4}xfrm if_id 0x6 /);
});

test('ip link set NAME type xfrm if_id N changes the if_id (xfrmi_changelink); the device must stay, the if_id be free', () => {
  const h = xfrmiHost();
  ipLines(h, 'link add ipsec1 type xfrm dev wan0 if_id 7');
  const cases: [string, number, string][] = [
    ['link set ipsec0 type xfrm dev wan0 if_id 7', 2, 'RTNETLINK answers: File exists\n'],
    // xfrmi_change(): IFLA_XFRM_LINK is compared, and `dev` left out is link 0.
    ['link set ipsec0 type xfrm if_id 6', 2, 'RTNETLINK answers: Invalid argument\n'],
    ['link set ipsec0 type xfrm external', 2, 'Error: if_id must be non zero.\n'],
    ['link set lan0 type xfrm dev wan0 if_id 9', 2, 'RTNETLINK answers: Operation not supported\n'],
  ];
  for (const [line, status, err] of cases) {
    const r = ip(h, line);
    assert.deepEqual([r.status, r.err], [status, err], line);
  }
  assert.equal(ip(h, 'link set ipsec0 type xfrm dev wan0 if_id 0x10').status, 0);
  assert.match(ip(h, '-d link show ipsec0').out, /\n {4}xfrm if_id 0x10 /);
  assert.equal(ip(h, 'link set ipsec0 type xfrm dev wan0 if_id 16').status, 0, 'its own if_id again is fine');
});

test('an xfrm interface survives the store: kind, if_id, device, external', () => {
  const h = xfrmiHost();
  ip(h, 'link add ipsec9 type xfrm external');
  const back = hostFromJson(JSON.parse(JSON.stringify(hostToJson(h))));
  assert.deepEqual(linkByName(back, 'ipsec0')!.xfrm, { link: linkByName(h, 'wan0')!.index, ifId: 5, external: false });
  assert.deepEqual(linkByName(back, 'ipsec9')!.xfrm, { link: 0, ifId: 0, external: true });
  assert.equal(ip(back, '-d link show').out, ip(h, '-d link show').out);
});

// ---------------------------------------------------------------------------
// Output

test('a packet routed into ipsec0 crosses FORWARD and POSTROUTING with oifname ipsec0, is encrypted by the if_id 5 SA and leaves by wan0', () => {
  const h = xfrmiHost();
  const x = vpnXfrm();
  const path = bridgePath(h, `
    table ip f {
      chain fw { type filter hook forward priority 0; oifname "ipsec0" counter; }
      chain post { type filter hook postrouting priority 0; oifname "ipsec0" counter; }
    }`, { xfrm: x });
  const inner = l3(TO_PEER_LAN);
  const out = path.receive('lan0', inner, true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(counter(path, 'f', 'fw'), 1, 'FORWARD saw oifname "ipsec0"');
  assert.equal(counter(path, 'f', 'post'), 1, 'POSTROUTING saw the inner packet leave by ipsec0');
  const outer = out.emitted[0]!.frame.subarray(14);
  assert.equal(outer[9], 50, 'ESP');
  assert.equal(hex(outer.subarray(12, 20)), 'c0000201c6336401', 'outer 192.0.2.1 > 198.51.100.1');
  const peer = createEspSa(espSaConfigFromXfrm(sa(x, 0x1000)));
  const pkt = Packet.from(outer);
  assert.ok(espInput(peer, pkt).ok, 'the peer decrypts it');
  assert.equal(hex(pkt.data.subarray(20)), hex(inner.subarray(20)), 'the inner datagram is intact');
  assert.equal(pkt.data[8], 63, 'forwarded: TTL decremented once');
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.txPackets, s.txBytes, s.txErrors], [1, inner.length - 0, 0]);
});

test('if_id 0 policies do not serve ipsec0: no policy with if_id 5 is a link failure (tx_carrier_errors, ICMP host unreachable)', () => {
  const h = xfrmiHost();
  // A catch-all out policy with if_id 7: neither the route-time lookup (if_id 0) nor ipsec0's (if_id 5) finds it.
  const x = vpnXfrm({ polIfId: 7, stateIfId: 7 });
  const path = bridgePath(h, '', { xfrm: x });
  const out = path.receive('lan0', l3(TO_PEER_LAN), true);
  assert.equal(out.fate, 'dropped');
  assert.match(out.steps.map((s) => s.text).join('\n'), /no IPsec policy with if_id 5 matches the packet/);
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.txCarrierErrors, s.txErrors, s.txDropped, s.txPackets], [1, 1, 1, 0]);
  // dst_link_failure() → ipv4_link_failure(): destination unreachable, host unreachable, back to the sender.
  assert.deepEqual(out.emitted.map((e) => e.dev), ['lan0']);
  const icmp = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([icmp[9], icmp[20], icmp[21]], [1, 3, 1], 'ICMP type 3 code 1');
  assert.equal(hex(icmp.subarray(16, 20)), '0a000102', 'to 10.0.1.2');
});

test('a policy with if_id 5 whose template finds no SA with if_id 5 counts XfrmOutNoStates and fails the link', () => {
  const h = xfrmiHost();
  const x = vpnXfrm({ stateIfId: 9 });
  const path = bridgePath(h, '', { xfrm: x });
  const out = path.receive('lan0', l3(TO_PEER_LAN), true);
  assert.equal(out.fate, 'dropped');
  assert.equal(stat(x, 'XfrmOutNoStates'), 1);
  assert.equal(xfrmiStats(linkByName(h, 'ipsec0')!).txCarrierErrors, 1);
});

test('a tunnel endpoint routed through ipsec0 itself is a routing loop: collisions, dropped', () => {
  const h = xfrmiHost();
  ipLines(h, 'route add 198.51.100.1/32 dev ipsec0');
  const path = bridgePath(h, '', { xfrm: vpnXfrm() });
  const out = path.receive('lan0', l3(TO_PEER_LAN), true);
  expectFate(out, { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /local routing loop/, emitted: [] });
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.collisions, s.txErrors, s.txCarrierErrors], [1, 1, 0]);
});

test('an external interface cannot transmit without route metadata (-EINVAL: tx_errors)', () => {
  const h = routerHost();
  ipLines(h, `
    link add ipsec9 type xfrm external
    link set ipsec9 up
    route add 10.0.2.0/24 dev ipsec9
  `);
  const out = bridgePath(h, '', { xfrm: vpnXfrm() }).receive('lan0', l3(TO_PEER_LAN), true);
  expectFate(out, { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /external interface/, emitted: [] });
  assert.equal(xfrmiStats(linkByName(h, 'ipsec9')!).txErrors, 1);
});

test('over the bundle\'s MTU a DF packet gets fragmentation needed with the tunnel\'s MTU (xfrmi_xmit2: -EMSGSIZE)', () => {
  const h = xfrmiHost();
  const path = bridgePath(h, '', { xfrm: vpnXfrm() });
  // 1500 bytes fit ipsec0 (mtu 1500) but not ESP in tunnel mode over wan0: 1446 with AES-GCM.
  const big = l3(`IP(src="10.0.1.2",dst="10.0.2.5",ttl=64,flags="DF")/UDP(sport=40000,dport=53)/Raw(load=b"${"x".repeat(1472)}")`);
  assert.equal(big.length, 1500);
  const out = path.receive('lan0', big, true);
  assert.equal(out.fate, 'dropped');
  assert.deepEqual(out.emitted.map((e) => e.dev), ['lan0']);
  const icmp = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([icmp[20], icmp[21], (icmp[26]! << 8) | icmp[27]!], [3, 4, 1446], 'frag needed, next-hop MTU 1446');
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.txErrors, s.txDropped, s.txCarrierErrors], [1, 1, 0]);
  // Without DF it goes on: the ESP packet is fragmented after encryption.
  const nodf = l3(`IP(src="10.0.1.2",dst="10.0.2.5",ttl=64)/UDP(sport=40000,dport=53)/Raw(load=b"${"x".repeat(1472)}")`);
  const out2 = path.receive('lan0', nodf, true);
  expectFate(out2, { fate: 'forwarded', emitted: ['wan0', 'wan0'] });
});

test('IPv6 into ipsec0 over an IPv4 tunnel (6in4): lookup with if_id 5, encrypted, out by wan0', () => {
  const h = xfrmiHost();
  ipLines(h, '-6 route add 2001:db8:9::/64 dev ipsec0');
  const x = new Xfrm({ clock: new ManualClock(1_700_000_000_000) });
  xfrmCmd(x, `state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x1000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) ${KEY_OUT} 128 sel src ::/0 dst ::/0 if_id 5`);
  xfrmCmd(x, 'policy add src ::/0 dst ::/0 dir out if_id 5 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  const inner = l3('IPv6(src="2001:db8:1::2",dst="2001:db8:9::5",hlim=64)/UDP(sport=40000,dport=53)/Raw(load=b"v6")');
  const out = bridgePath(h, '', { xfrm: x }).receive('lan0', inner, true);
  expectFate(out, { fate: 'forwarded', emitted: ['wan0'] });
  const outer = out.emitted[0]!.frame.subarray(14);
  assert.deepEqual([outer[0]! >> 4, outer[9]], [4, 50], 'IPv4 ESP');
  const pkt = Packet.from(outer);
  assert.ok(espInput(createEspSa(espSaConfigFromXfrm(sa(x, 0x1000))), pkt).ok);
  assert.equal(hex(pkt.data.subarray(40)), hex(inner.subarray(40)));
  assert.equal(pkt.data[7], 63, 'hop limit decremented');
});

// ---------------------------------------------------------------------------
// Input

test('ESP decapsulated by an if_id 5 SA re-enters on ipsec0: iifname "ipsec0" in PREROUTING and FORWARD, fwd policy with if_id 5', () => {
  const h = xfrmiHost();
  const x = vpnXfrm();
  const path = bridgePath(h, `
    table ip f {
      chain pre { type filter hook prerouting priority 0; iifname "ipsec0" counter; }
      chain fw { type filter hook forward priority 0; iifname "ipsec0" counter; }
    }`, { xfrm: x });
  const inner = l3(FROM_PEER_LAN);
  const out = path.receive('wan0', espFromPeer(x, inner), true);
  expectFate(out, { fate: 'forwarded', emitted: ['lan0'] });
  assert.equal(counter(path, 'f', 'pre'), 1, 'PREROUTING of the inner packet saw iifname "ipsec0"');
  assert.equal(counter(path, 'f', 'fw'), 1);
  assert.equal(hex(out.emitted[0]!.frame.subarray(14 + 20)), hex(inner.subarray(20)));
  assert.match(out.steps.map((s) => s.text).join('\n'), /received on ipsec0 \(xfrmi_rcv_cb\)/);
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.rxPackets, s.rxBytes], [1, inner.length]);
});

test('the inbound check on ipsec0 uses if_id 5: if_id 0 policies alone do not admit the packet', () => {
  const h = xfrmiHost();
  const x = vpnXfrm({ polIfId: 0 });
  const out = bridgePath(h, '', { xfrm: x }).receive('wan0', espFromPeer(x, l3(FROM_PEER_LAN)), true);
  expectFate(out, { fate: 'dropped', reason: 'XFRM_POLICY', check: /XfrmInNoPols/, emitted: [] });
});

test('with ipsec0 down, the if_id 5 SA\'s packets stay on wan0 and are checked with if_id 0', () => {
  const h = xfrmiHost();
  ipLines(h, 'link set ipsec0 down');
  // No out policy: with if_id 0, a catch-all one would claim the forwarded packet for the tunnel.
  const x = vpnXfrm({ polIfId: 0, out: false });
  const path = bridgePath(h, 'table ip f { chain pre { type filter hook prerouting priority 0; iifname "wan0" counter; }; }', { xfrm: x });
  const out = path.receive('wan0', espFromPeer(x, l3(FROM_PEER_LAN)), true);
  expectFate(out, { fate: 'forwarded', emitted: ['lan0'] });
  assert.equal(counter(path, 'f', 'pre'), 2, 'the ESP packet and the inner packet both arrived on wan0');
  assert.equal(xfrmiStats(linkByName(h, 'ipsec0')!).rxPackets, 0);
});

test('a ping through the tunnel to the gateway itself passes the in policy with if_id 5, and the reply goes back through ipsec0', () => {
  const h = xfrmiHost();
  const x = vpnXfrm();
  const path = bridgePath(h, 'table ip f { chain in { type filter hook input priority 0; iifname "ipsec0" counter; }; }', { xfrm: x });
  const ping = l3('IP(src="10.0.2.5",dst="10.0.1.1",ttl=64)/ICMP(type=8,id=9,seq=1)');
  const out = path.receive('wan0', espFromPeer(x, ping), true);
  expectFate(out, { fate: 'delivered', emitted: ['wan0'] });
  assert.equal(counter(path, 'f', 'in'), 1, 'INPUT saw the echo request arrive on ipsec0');
  const reply = Packet.from(out.emitted[0]!.frame.subarray(14));
  assert.equal(reply.data[9], 50, 'the reply left as ESP');
  assert.ok(espInput(createEspSa(espSaConfigFromXfrm(sa(x, 0x1000))), reply).ok);
  assert.deepEqual([hex(reply.data.subarray(12, 20)), reply.data[20]], ['0a0001010a000205', 0], 'echo reply 10.0.1.1 > 10.0.2.5');
  const s = xfrmiStats(linkByName(h, 'ipsec0')!);
  assert.deepEqual([s.rxPackets, s.txPackets], [1, 1]);
});
