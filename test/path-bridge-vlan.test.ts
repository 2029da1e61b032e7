/**
 * VLAN-aware bridges and static FDB entries, as net/bridge does them:
 * `bridge vlan` and `bridge fdb add|append|replace|del` with iproute2 6.1's
 * wording and the kernel's errors, `vlan_filtering` / `vlan_default_pvid`,
 * and on the packet path ingress filtering (br_allowed_ingress), the FDB
 * keyed by (MAC, VID), flooding within a VLAN, egress tagging per port
 * (br_handle_vlan) and local delivery through the bridge's own VLANs.
 * The kernel the tests run on may lack CONFIG_BRIDGE_VLAN_FILTERING; these
 * specs follow net/bridge/br_vlan.c, br_fdb.c, br_input.c and br_forward.c.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostFromJson, hostToJson } from '../src/host/store.js';
import { runBridge } from '../src/host/bridge-cmd.js';
import type { Host } from '../src/host/types.js';
import { expectFate } from '../src/host/path/testing.js';
import { BR_MAC, bridgeHost, bridgePath, frame, hex, ip, ipTry } from './support/bridge-host.js';

const A = BR_MAC.a, B = BR_MAC.b, C = BR_MAC.c;

function bridge(h: Host, line: string, now = 0): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runBridge(h, line.split(/\s+/), { out: (t) => { out += t; }, err: (t) => { err += t; } }, now);
  return { status, out, err };
}

/** Runs bridge lines that must succeed. */
function ok(h: Host, lines: string): void {
  for (const l of lines.split('\n').map((x) => x.trim()).filter(Boolean)) {
    const r = bridge(h, l);
    assert.equal(r.status, 0, `bridge ${l}: ${r.err}`);
  }
}

/** The fdb listing without the ports' own (permanent) addresses. */
function fdbLines(h: Host, args = '', now = 0): string[] {
  return bridge(h, `fdb show ${args}`.trim(), now).out.split('\n').filter((l) => l && !l.endsWith('permanent'));
}

const udp = (src: string, dst: string, tag = ''): Uint8Array =>
  frame(`Ether(src="${src}",dst="${dst}")${tag}/IP(src="10.0.0.2",dst="10.0.0.3")/UDP(sport=1000,dport=2000)/Raw(load=b"hi")`);
const dot1q = (vid: number, prio = 0): string => `/Dot1Q(vlan=${vid}${prio ? `,prio=${prio}` : ''})`;

/** A frame's 802.1Q VID on the wire, or undefined when it leaves untagged. */
function vidOf(f: Uint8Array): number | undefined {
  return f[12] === 0x81 && f[13] === 0x00 ? ((f[14]! << 8) | f[15]!) & 0xfff : undefined;
}

/** br0 over p0..p2 with VLAN filtering: p0 trunk (10, 20 tagged; PVID 1), p1 access 10, p2 access 20. */
function vlanHost(): Host {
  const h = bridgeHost({ addr4: '10.0.0.1/24' });
  ip(h, 'link set br0 type bridge vlan_filtering 1');
  ok(h, `
    vlan add dev p0 vid 10
    vlan add dev p0 vid 20
    vlan add dev p1 vid 10 pvid untagged
    vlan del dev p1 vid 1
    vlan add dev p2 vid 20 pvid untagged
    vlan del dev p2 vid 1
  `);
  return h;
}

// ---------------------------------------------------------------------------
// Configuration: bridge vlan, ip link

test('bridge vlan show: the bridge and every port start with VLAN 1 as PVID, egress untagged (br_vlan_init, nbp_vlan_init)', () => {
  const h = bridgeHost();
  assert.equal(bridge(h, 'vlan show').out, [
    'port              vlan-id  ',
    'br0               1 PVID Egress Untagged',
    'p0                1 PVID Egress Untagged',
    'p1                1 PVID Egress Untagged',
    'p2                1 PVID Egress Untagged', '',
  ].join('\n'));
  assert.equal(bridge(h, '-j vlan show dev p1').out,
    '[{"ifname":"p1","vlans":[{"vlan":1,"flags":["PVID","Egress Untagged"]}]}]\n');
});

test('bridge vlan add: ranges, pvid and untagged; adding an existing VID replaces its flags; -compressvlans prints runs', () => {
  const h = bridgeHost();
  ok(h, 'vlan add dev p0 vid 10-12\nvlan add dev p0 vid 20 pvid untagged');
  assert.equal(bridge(h, 'vlan show dev p0').out, [
    'port              vlan-id  ',
    'p0                1 Egress Untagged', '                  10', '                  11', '                  12',
    '                  20 PVID Egress Untagged', '',
  ].join('\n'), 'the PVID moved from 1 to 20');
  assert.equal(bridge(h, '-compressvlans vlan show dev p0').out.split('\n')[2], '                  10-12');
  assert.equal(bridge(h, '-com -j vlan show dev p0').out,
    '[{"ifname":"p0","vlans":[{"vlan":1,"flags":["Egress Untagged"]},{"vlan":10,"vlanEnd":12,"flags":[]},{"vlan":20,"flags":["PVID","Egress Untagged"]}]}]\n');
  ok(h, 'vlan add dev p0 vid 20');
  assert.match(bridge(h, 'vlan show dev p0').out, /\n {18}20\n$/, 'without pvid/untagged the flags go (__vlan_add_flags)');
  assert.equal(bridge(h, 'vlan show vid 11').out, 'port              vlan-id  \np0                11\n');
  ok(h, 'vlan del dev p0 vid 10-12\nvlan del dev p0 vid 99');
  assert.doesNotMatch(bridge(h, 'vlan show dev p0').out, /1[0-2]/);
});

test('bridge vlan: "self" on the bridge makes the bridge device a member; the kernel\'s and iproute2\'s errors', () => {
  const h = bridgeHost();
  ok(h, 'vlan add dev br0 vid 30 self');
  assert.equal(bridge(h, 'vlan show dev br0').out, 'port              vlan-id  \nbr0               1 PVID Egress Untagged\n                  30\n');
  const e = (line: string): string => { const r = bridge(h, line); return `${r.status} ${r.err}`; };
  assert.equal(e('vlan add dev br0 vid 40'), '255 RTNETLINK answers: Operation not supported\n', 'master on a bridge: it has no master');
  assert.equal(e('vlan add dev p0 vid 40 self'), '255 RTNETLINK answers: Operation not supported\n', 'a port has no ndo_bridge_setlink');
  assert.equal(e('vlan add dev p0 vid 0'), '255 Error: bridge: Vlan id is invalid.\n');
  assert.equal(e('vlan add dev p0 vid 4095'), '255 Error: bridge: Vlan id is invalid.\n');
  assert.equal(e('vlan add dev p0 vid 4096'), '255 Invalid VLAN ID "4096"\n');
  assert.equal(e('vlan add dev p0 vid 12-10'), '255 Invalid VLAN range "12-10"\n');
  assert.equal(e('vlan add dev p0 vid 10-12 pvid'), '255 pvid cannot be configured for a vlan range\n');
  assert.equal(e('vlan add dev nosuch vid 10'), '255 Cannot find bridge device "nosuch"\n');
  assert.equal(e('vlan add vid 10'), '255 Device and VLAN ID are required arguments.\n');
  assert.equal(e('vlan del dev br0 vid 1 self') + e('vlan show dev br0'), '0 0 ', 'the bridge without VLANs is not listed');
});

test('ip link: vlan_filtering and vlan_default_pvid as br_changelink applies them, printed by ip -d link show', () => {
  const h = bridgeHost();
  ok(h, 'vlan add dev p1 vid 7 pvid untagged');
  ip(h, 'link set br0 type bridge vlan_filtering 1 vlan_default_pvid 5');
  assert.match(ip(h, '-d link show br0'), / vlan_filtering 1 vlan_protocol 802\.1Q bridge_id .* vlan_default_pvid 5 vlan_stats_enabled 0 vlan_stats_per_port 0 /);
  const j = JSON.parse(ip(h, '-j -d link show br0')) as Array<{ linkinfo: { info_data: Record<string, unknown> } }>;
  assert.equal(j[0]!.linkinfo.info_data['vlan_filtering'], 1);
  assert.equal(j[0]!.linkinfo.info_data['vlan_default_pvid'], 5);
  // The default moved where it was still as the default put it; p1's own PVID stays (__br_vlan_set_default_pvid).
  assert.equal(bridge(h, 'vlan show').out, [
    'port              vlan-id  ',
    'br0               5 PVID Egress Untagged',
    'p0                5 PVID Egress Untagged',
    'p1                1 Egress Untagged', '                  7 PVID Egress Untagged',
    'p2                5 PVID Egress Untagged', '',
  ].join('\n'));
  ip(h, 'link add p3 type ether\nlink set p3 master br0');
  assert.match(bridge(h, 'vlan show dev p3').out, /p3 +5 PVID Egress Untagged/, 'a new port gets the new default');
  ip(h, 'link set br0 type bridge vlan_default_pvid 0');
  assert.match(bridge(h, 'vlan show dev p3').out, /^port +vlan-id +\n$/);
  assert.match(ipTry(h, 'link set br0 type bridge vlan_filtering x').err, /invalid vlan_filtering/);
  assert.match(ipTry(h, 'link add br1 type bridge vlan_protocol 802.1ad').err, /802\.1Q only/);
  ip(h, 'link add br2 type bridge vlan_filtering 1 vlan_default_pvid 3');
  assert.match(bridge(h, 'vlan show dev br2').out, /br2 +3 PVID Egress Untagged\n$/);
});

// ---------------------------------------------------------------------------
// Static FDB entries

test('bridge fdb add: static, permanent and dynamic entries in VID 0 and every VLAN of the port; show as iproute2 prints them', () => {
  const h = bridgeHost();
  ok(h, `
    fdb add ${A} dev p0 master static
    fdb add ${B} dev p1 master
    fdb add ${C} dev p2 master dynamic
    fdb add 02:00:00:00:0e:01 dev p2 master sticky static vlan 1
  `);
  assert.deepEqual(fdbLines(h, 'br br0'), [
    `${A} dev p0 vlan 1 master br0 static`, `${A} dev p0 master br0 static`,
    '02:00:00:00:0e:01 dev p2 vlan 1 sticky master br0 static',
    `${C} dev p2 vlan 1 master br0 `, `${C} dev p2 master br0 `,
  ]);
  assert.match(bridge(h, 'fdb show dev p1').out, new RegExp(`^${B} vlan 1 master br0 permanent\n${B} master br0 permanent\n`), 'no state word means permanent (iproute2 assumes NUD_PERMANENT)');
  assert.equal(bridge(h, 'fdb show state static vlan 1').out, `${A} dev p0 vlan 1 master br0 static\n02:00:00:00:0e:01 dev p2 vlan 1 sticky master br0 static\n`);
  assert.deepEqual(JSON.parse(bridge(h, '-j fdb show br br0 brport p2 vlan 1').out), [
    { mac: '02:00:00:00:0e:01', vlan: 1, flags: ['sticky'], master: 'br0', state: 'static' },
    { mac: C, vlan: 1, flags: [], master: 'br0', state: '' },
    { mac: BR_MAC.p2, vlan: 1, flags: [], master: 'br0', state: 'permanent' },
  ]);
  // `dynamic` hides only permanent entries (static ones stay), as iproute2's filter does.
  assert.equal(bridge(h, 'fdb show brport p0 dynamic').out, `${A} vlan 1 master br0 static\n${A} master br0 static\n`);
});

test('bridge fdb: the kernel\'s errors — EEXIST without replace, ENOENT on delete, EINVAL, EPERM, and iproute2\'s own', () => {
  const h = bridgeHost();
  const e = (line: string): string => { const r = bridge(h, line); return `${r.status} ${r.err}`; };
  ok(h, `fdb add ${A} dev p0 master static`);
  assert.equal(e(`fdb add ${A} dev p0 master static`), '255 RTNETLINK answers: File exists\n');
  assert.equal(e(`fdb add ${A} dev p1 master static`), '255 RTNETLINK answers: File exists\n', 'the key is (MAC, VID), whatever the port');
  assert.equal(e(`fdb add ${BR_MAC.p1} dev p0 master static`), '255 RTNETLINK answers: File exists\n', 'a port\'s own address exists already');
  assert.equal(e('fdb add 00:00:00:00:00:00 dev p0 master static'), '255 RTNETLINK answers: Invalid argument\n');
  assert.equal(e(`fdb add ${B} dev p0 master static vlan 0`), '255 Error: invalid vlan id.\n');
  assert.equal(e(`fdb add ${B} dev p0 master static vlan 4095`), '255 Error: invalid vlan id.\n');
  assert.equal(e(`fdb add ${B} dev p0 master static vlan 5`), '255 RTNETLINK answers: Invalid argument\n', 'VLAN 5 is not on p0');
  assert.equal(e(`fdb add ${B} dev p0 master sticky`), '255 RTNETLINK answers: Invalid argument\n', 'sticky cannot be local');
  assert.equal(e(`fdb add ${B} dev br0 self static`), '255 RTNETLINK answers: Invalid argument\n', 'an entry on the bridge itself must be permanent');
  assert.equal(e(`fdb add ${B} dev br0 master`), '255 RTNETLINK answers: Operation not supported\n');
  assert.equal(e(`fdb del ${B} dev p0 master`), '255 RTNETLINK answers: No such file or directory\n');
  assert.equal(e(`fdb del ${A} dev p1 master`), '255 RTNETLINK answers: No such file or directory\n', 'it points at p0');
  assert.equal(e(`fdb add ${B}`), '255 Device and address are required arguments.\n');
  assert.equal(e('fdb add zz dev p0 master'), '255 Invalid mac address zz\n');
  assert.equal(e(`fdb add ${B} dev nosuch master`), '255 Cannot find device "nosuch"\n');
  assert.equal(e('fdb show br nosuch'), '255 Cannot find bridge device "nosuch"\n');
  ip(h, 'link set p2 down');
  assert.equal(e(`fdb add ${C} dev p2 master dynamic`), '255 RTNETLINK answers: Operation not permitted\n', 'a port that cannot learn takes no dynamic entry');
  assert.equal(e(`fdb add ${C} dev p2 master static`), '0 ');
});

test('bridge fdb append/replace change an entry in place; del removes it in VID 0 and every VLAN', () => {
  const h = bridgeHost();
  ok(h, `fdb add ${A} dev p0 master static\nfdb add ${C} dev p2 master static`);
  ok(h, `fdb replace ${A} dev p1 master dynamic vlan 1\nfdb append ${A} dev p1 master static`);
  assert.deepEqual(fdbLines(h), [`${A} dev p1 vlan 1 master br0 static`, `${A} dev p1 master br0 static`, `${C} dev p2 vlan 1 master br0 static`, `${C} dev p2 master br0 static`],
    'the entries kept their places in the list (newest first) and moved to p1');
  ok(h, `fdb del ${A} dev p1 master vlan 1`);
  assert.deepEqual(fdbLines(h, 'dev p1'), [`${A} master br0 static`]);
  ok(h, `fdb del ${A} dev p1 master`);
  assert.deepEqual(fdbLines(h, 'dev p1'), []);
  // A port's own address can be deleted too (fdb_delete_by_addr_and_port) and stays deleted.
  ok(h, `fdb del ${BR_MAC.p2} dev p2 master vlan 1`);
  assert.equal(bridge(h, 'fdb show dev p2').out.split('\n').filter((l) => l.startsWith(BR_MAC.p2)).join('|'), `${BR_MAC.p2} master br0 permanent`);
});

test('bridge fdb flush: by port, by state and flag, on the bridge or a port (br_fdb_delete_bulk); local entries go too', () => {
  const h = bridgeHost();
  ok(h, `
    fdb add ${A} dev p0 master static
    fdb add ${B} dev p0 master dynamic
    fdb add ${C} dev p1 master sticky static
    fdb add 02:00:00:00:0f:01 dev br0 self
  `);
  const all = (): string[] => bridge(h, 'fdb show').out.split('\n').filter(Boolean);
  ok(h, 'fdb flush dev p0 master dynamic');
  assert.ok(!all().some((l) => l.startsWith(B)), 'the dynamic entry on p0 went');
  ok(h, 'fdb flush dev br0 nosticky static');
  assert.deepEqual(all().filter((l) => l.includes('static')), [`${C} dev p1 vlan 1 sticky master br0 static`, `${C} dev p1 sticky master br0 static`]);
  ok(h, 'fdb flush dev br0 brport br0');
  assert.ok(!all().some((l) => l.includes('dev br0')), 'brport br0: the entries pointing at the bridge itself');
  ok(h, 'fdb flush dev br0 brport p1 vlan 1');
  assert.deepEqual(all().filter((l) => l.includes('dev p1')), [`${C} dev p1 sticky master br0 static`, `${BR_MAC.p1} dev p1 master br0 permanent`]);
  ok(h, 'fdb flush dev br0');
  assert.deepEqual(all(), [], 'everything, the ports\' own addresses included');
  const e = (line: string): string => { const r = bridge(h, line); return `${r.status} ${r.err}`; };
  assert.equal(e('fdb flush dev p0'), '255 RTNETLINK answers: Operation not supported\n', 'self on a port: no ndo_fdb_del_bulk');
  assert.equal(e('fdb flush brport p0'), '255 Device is a required argument.\n');
  assert.equal(e('fdb flush dev br0 brport lo'), '255 Error: bridge: Flush device is not a bridge or bridge port.\n');
});

test('static entries do not age and survive a port going down; dynamic user entries age; the port leaving takes all', () => {
  const h = bridgeHost();
  ok(h, `fdb add ${A} dev p0 master static vlan 1\nfdb add ${B} dev p0 master dynamic vlan 1`);
  assert.deepEqual(fdbLines(h, 'dev p0', 400_000), [`${A} vlan 1 master br0 static`], 'the dynamic one aged out after 300 s');
  ip(h, 'link set p0 down\nlink set p0 up');
  assert.deepEqual(fdbLines(h, 'dev p0', 400_000), [`${A} vlan 1 master br0 static`], 'br_fdb_delete_by_port(do_all 0) keeps static entries');
  ip(h, 'link set p0 nomaster\nlink set p0 master br0');
  assert.deepEqual(fdbLines(h, 'dev p0'), []);
});

test('on the path: a static entry forwards without flooding, roams unless sticky, and a permanent one goes up the stack', () => {
  const h = bridgeHost({ addr4: '10.0.0.1/24' });
  ok(h, `fdb add ${B} dev p1 master static\nfdb add ${C} dev p2 master sticky static`);
  const path = bridgePath(h);
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p1'] });
  // B seen on p2: the static entry moves there (br_fdb_update roams non-local entries).
  path.receive('p2', udp(B, A));
  expectFate(path.receive('p0', udp(A, B)), { fate: 'forwarded', emitted: ['p2'] });
  // C seen on p1: sticky, it stays on p2.
  path.receive('p1', udp(C, A));
  expectFate(path.receive('p0', udp(A, C)), { fate: 'forwarded', emitted: ['p2'] });
  ok(h, 'fdb add 02:00:00:00:0f:01 dev br0 self');
  const out = path.receive('p0', frame('Ether(src="02:00:00:00:0a:01",dst="02:00:00:00:0f:01")/IP(src="10.0.0.2",dst="10.0.0.1")/ICMP()'));
  // A permanent entry is the host's own: the frame goes up the stack (not flooded), where it is still
  // PACKET_OTHERHOST — only the bridge's MAC makes it PACKET_HOST (br_handle_frame) — and ip_rcv drops it.
  expectFate(out, { fate: 'dropped', reason: 'OTHERHOST', emitted: [] });
  // A frame from a station whose address the bridge owns is not learnt over it.
  path.receive('p1', frame('Ether(src="02:00:00:00:0f:01",dst="ff:ff:ff:ff:ff:ff")/ARP()'));
  assert.equal(bridge(h, 'fdb show dev br0').out, '02:00:00:00:0f:01 vlan 1 master br0 permanent\n02:00:00:00:0f:01 master br0 permanent\n');
});

// ---------------------------------------------------------------------------
// VLAN filtering on the path

test('ingress: a tagged frame for a VLAN the port lacks, or an untagged one on a port without PVID, is dropped (br_allowed_ingress)', () => {
  const h = vlanHost();
  const path = bridgePath(h, '', { detail: true });
  expectFate(path.receive('p1', udp(B, A, dot1q(20))), { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /VLAN 20 is not configured on p1/ });
  ok(h, 'vlan add dev p1 vid 10');
  expectFate(path.receive('p1', udp(B, A)), { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /untagged frame and p1 has no PVID/ });
  expectFate(path.receive('p1', udp(B, A, dot1q(0, 5))), { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /priority-tagged frame and p1 has no PVID/ });
});

test('an untagged frame takes the PVID and floods only within its VLAN, tagged out of trunks, untagged out of access ports', () => {
  const h = vlanHost();
  const path = bridgePath(h);
  const out = path.receive('p1', udp(B, 'ff:ff:ff:ff:ff:ff'));
  expectFate(out, { fate: 'forwarded', emitted: ['p0'] });
  assert.equal(vidOf(out.emitted[0]!.frame), 10, 'p0 carries VLAN 10 tagged');
  const body = hex(udp(B, 'ff:ff:ff:ff:ff:ff'));
  assert.equal(hex(out.emitted[0]!.frame), `${body.slice(0, 24)}8100000a${body.slice(24)}`, 'the tag is inserted after the MAC addresses, nothing else changes');
  const back = path.receive('p0', udp(A, B, dot1q(10)));
  expectFate(back, { fate: 'forwarded', emitted: ['p1'] });
  assert.equal(hex(back.emitted[0]!.frame), hex(udp(A, B)), 'untagged out of p1, the FDB knew B in VLAN 10');
  const v20 = path.receive('p0', udp(A, 'ff:ff:ff:ff:ff:ff', dot1q(20, 3)));
  expectFate(v20, { fate: 'forwarded', emitted: ['p2'] });
  assert.equal(vidOf(v20.emitted[0]!.frame), undefined);
});

test('the FDB is per VLAN: the same MAC is learnt apart in two VLANs, and unknown in a third', () => {
  const h = vlanHost();
  const path = bridgePath(h);
  path.receive('p1', udp(C, A));            // C in VLAN 10 behind p1
  path.receive('p2', udp(C, A));            // C in VLAN 20 behind p2
  expectFate(path.receive('p0', udp(A, C, dot1q(10))), { fate: 'forwarded', emitted: ['p1'] });
  expectFate(path.receive('p0', udp(A, C, dot1q(20))), { fate: 'forwarded', emitted: ['p2'] });
  assert.deepEqual(fdbLines(h).filter((l) => l.startsWith(C)), [`${C} dev p1 vlan 10 master br0 `, `${C} dev p2 vlan 20 master br0 `]);
  // VLAN 1 (p0's PVID): C is unknown there and p0 is its only member: nowhere to flood.
  const lone = path.receive('p0', udp(A, C));
  assert.deepEqual([lone.fate, lone.reason], ['dropped', 'NO_TX_TARGET']);
});

test('a priority tag keeps its PCP under the PVID; a frame that leaves tagged carries it', () => {
  const h = vlanHost();
  ok(h, 'vlan add dev p1 vid 10 pvid');
  const path = bridgePath(h);
  const out = path.receive('p1', udp(B, 'ff:ff:ff:ff:ff:ff', dot1q(0, 5)));
  const f = out.emitted.find((e) => e.dev === 'p0')!.frame;
  assert.equal((f[14]! << 8) | f[15]!, (5 << 13) | 10);
});

test('local delivery goes through the bridge\'s own VLANs: not a member, dropped; tagged up, PACKET_OTHERHOST (no VLAN device)', () => {
  const h = vlanHost();
  const path = bridgePath(h, '', { detail: true });
  const icmp = (tag: string): Uint8Array => frame(`Ether(src="${A}",dst="${BR_MAC.p0}")${tag}/IP(src="10.0.0.2",dst="10.0.0.1")/ICMP()`);
  expectFate(path.receive('p0', icmp(dot1q(10))), { fate: 'dropped', reason: 'NOT_SPECIFIED', check: /br0 itself is not in VLAN 10/ });
  ok(h, 'vlan add dev br0 vid 10 self');
  expectFate(path.receive('p0', icmp(dot1q(10))), { fate: 'dropped', reason: 'OTHERHOST' });
  ok(h, 'vlan add dev br0 vid 10 self untagged');
  const up = path.receive('p0', icmp(dot1q(10)));
  assert.equal(up.fate, 'delivered');
  // The echo reply leaves through br_dev_xmit in the bridge's PVID (1): p0 is the only port in VLAN 1.
  assert.deepEqual(up.emitted.map((e) => [e.dev, vidOf(e.frame)]), [['p0', undefined]]);
});

test('the host\'s own packets take the bridge\'s PVID (br_dev_xmit → br_allowed_ingress) and leave tagged where the port says', () => {
  const h = vlanHost();
  ok(h, 'vlan add dev br0 vid 20 pvid untagged self');
  const path = bridgePath(h);
  const out = path.receive('p2', frame(`Ether(src="${C}",dst="${BR_MAC.p0}")/IP(src="10.0.0.4",dst="10.0.0.1")/ICMP()`));
  assert.equal(out.fate, 'delivered');
  assert.deepEqual(out.emitted.map((e) => [e.dev, vidOf(e.frame)]).sort(), [['p0', 20], ['p2', undefined]]);
  ok(h, 'vlan del dev br0 vid 20 self');
  const none = path.receive('p2', frame(`Ether(src="${C}",dst="${BR_MAC.p0}")/IP(src="10.0.0.4",dst="10.0.0.1")/ICMP()`));
  expectFate(none, { fate: 'dropped', reason: 'NOT_SPECIFIED' });
});

test('with filtering off, tags pass through untouched and VLANs are not looked at', () => {
  const h = bridgeHost();
  const path = bridgePath(h);
  const f = udp(A, 'ff:ff:ff:ff:ff:ff', dot1q(77));
  const out = path.receive('p0', f);
  expectFate(out, { fate: 'forwarded', emitted: ['p2', 'p1'] });
  for (const e of out.emitted) assert.equal(hex(e.frame), hex(f));
  assert.deepEqual(fdbLines(h), [`${A} dev p0 master br0 `], 'learnt in VID 0');
});

test('an 802.1ad tag on an 802.1Q bridge is payload: the frame takes the PVID and keeps the S-tag inside', () => {
  const h = vlanHost();
  const path = bridgePath(h);
  const qinq = frame(`Ether(src="${B}",dst="ff:ff:ff:ff:ff:ff",type=0x88a8)/Dot1Q(vlan=300)/IP(src="10.0.0.3",dst="10.0.0.255")/UDP()`);
  const out = path.receive('p1', qinq);
  expectFate(out, { fate: 'forwarded', emitted: ['p0'] });
  const x = hex(qinq);
  assert.equal(hex(out.emitted[0]!.frame), `${x.slice(0, 24)}8100000a${x.slice(24)}`);
});

test('bridge rules see the tag as the kernel rebuilds it: the PVID after ingress, the egress tagging at FORWARD', () => {
  const h = vlanHost();
  const path = bridgePath(h, `table bridge t {
    chain pre {
      type filter hook prerouting priority 0; policy accept;
      vlan id 10 counter
    }
    chain f {
      type filter hook forward priority 0; policy accept;
      vlan id 10 counter
      ether type ip counter
    }
  }`);
  path.receive('p1', udp(B, 'ff:ff:ff:ff:ff:ff'));   // untagged in, tagged out of p0
  path.receive('p0', udp(A, 'ff:ff:ff:ff:ff:ff', dot1q(10)));   // tagged in, untagged out of p1
  const t = path.ruleset.table(7, 't')!;
  const counts = (c: string): number[] => t.chains.get(c)!.rules.map((r) => (r.exprs.find((e) => e.type === 'counter') as { packets: number }).packets);
  assert.deepEqual(counts('pre'), [1], 'PREROUTING comes before br_allowed_ingress: only the frame that arrived tagged');
  assert.deepEqual(counts('f'), [1, 1], 'FORWARD sees each copy after br_handle_vlan');
});

test('property: with random memberships, every frame goes where the 802.1Q rules send it, tagged as the egress port says', () => {
  const VIDS = [1, 10, 20];
  // Per port and VID: 0 absent, 1 tagged member, 2 untagged member; and the PVID (0: none).
  const portCfg = fc.record({ m: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), pvid: fc.constantFrom(0, ...VIDS) });
  const frameArb = fc.record({
    port: fc.integer({ min: 0, max: 2 }), src: fc.constantFrom(A, B, C), dst: fc.constantFrom(A, B, C, 'ff:ff:ff:ff:ff:ff', '02:00:00:00:ee:01'),
    tag: fc.constantFrom(-1, 0, 1, 10, 20, 30), prio: fc.integer({ min: 0, max: 7 }),
  });
  fc.assert(fc.property(fc.array(portCfg, { minLength: 3, maxLength: 3 }), fc.array(frameArb, { minLength: 1, maxLength: 12 }), (cfg, frames) => {
    const h = bridgeHost();
    ip(h, 'link set br0 type bridge vlan_filtering 1');
    cfg.forEach((c, i) => {
      ok(h, `vlan del dev p${i} vid 1`);
      VIDS.forEach((vid, j) => { if (c.m[j]) ok(h, `vlan add dev p${i} vid ${vid}${c.m[j] === 2 ? ' untagged' : ''}`); });
      if (c.pvid && c.m[VIDS.indexOf(c.pvid)]) ok(h, `vlan add dev p${i} vid ${c.pvid} pvid${c.m[VIDS.indexOf(c.pvid)] === 2 ? ' untagged' : ''}`);
    });
    const member = (port: number, vid: number): number => (VIDS.includes(vid) ? cfg[port]!.m[VIDS.indexOf(vid)]! : 0);
    const pvidOf = (port: number): number => { const v = cfg[port]!.pvid; return v && member(port, v) ? v : 0; };
    const path = bridgePath(h);
    const fdb = new Map<string, number>();   // "mac vid" -> port
    for (const f of frames) {
      const tag = f.tag < 0 ? '' : dot1q(f.tag, f.prio);
      const bytes = udp(f.src, f.dst, tag);
      const out = path.receive(`p${f.port}`, bytes);
      // br_allowed_ingress: the frame's VLAN.
      const vid = f.tag > 0 ? f.tag : pvidOf(f.port);
      if (!vid || !member(f.port, vid)) { assert.equal(out.emitted.length, 0); assert.equal(out.fate, 'dropped'); continue; }
      fdb.set(`${f.src} ${vid}`, f.port);
      const known = fdb.get(`${f.dst} ${vid}`);
      const targets = f.dst.startsWith('ff') || known === undefined ? [2, 1, 0].filter((p) => p !== f.port && member(p, vid)) : known === f.port ? [] : [known].filter((p) => member(p, vid));
      assert.deepEqual(out.emitted.map((e) => e.dev), targets.map((p) => `p${p}`));
      const pcp = f.tag >= 0 ? f.prio : 0;
      const plain = hex(udp(f.src, f.dst));
      for (const e of out.emitted) {
        const p = Number(e.dev.slice(1));
        const want = member(p, vid) === 2 ? plain : `${plain.slice(0, 24)}8100${((pcp << 13) | vid).toString(16).padStart(4, '0')}${plain.slice(24)}`;
        assert.equal(hex(e.frame), want, `out of ${e.dev}`);
      }
    }
  }), { numRuns: 150 });
});

test('VLANs and static entries survive the store round trip', () => {
  const h = vlanHost();
  ok(h, `fdb add ${C} dev p2 master static vlan 20\nvlan add dev br0 vid 20 self`);
  const back = hostFromJson(JSON.parse(JSON.stringify(hostToJson(h))) as Record<string, unknown>);
  assert.equal(bridge(back, 'vlan show').out, bridge(h, 'vlan show').out);
  assert.equal(bridge(back, 'fdb show').out, bridge(h, 'fdb show').out);
  assert.match(ip(back, '-d link show br0'), / vlan_filtering 1 /);
  expectFate(bridgePath(back).receive('p0', udp(A, C, dot1q(20))), { fate: 'forwarded', emitted: ['p2'] });
});

test('a host saved before nfx had VLANs loads with the defaults: VLAN 1 everywhere, filtering off, learnt entries in VID 0', () => {
  const h = bridgeHost();
  bridgePath(h).receive('p0', udp(A, B));
  const saved = JSON.parse(JSON.stringify(hostToJson(h))) as { links: Array<Record<string, any>>; sections: Record<string, any> };
  for (const l of saved.links) {
    if (l['bridge']) { delete l['bridge'].vlan; delete l['bridge'].fdbSeq; delete l['bridge'].localSeq; }
    if (l['brport']) { delete l['brport'].vlan; delete l['brport'].fdbSeq; }
  }
  for (const e of Object.values(saved.sections['bridge_fdb'] as Record<string, Record<string, unknown>>)) delete e['seq'];
  const old = hostFromJson(saved as unknown as Record<string, unknown>);
  assert.equal(bridge(old, 'vlan show').out, bridge(bridgeHost(), 'vlan show').out);
  assert.deepEqual(fdbLines(old), [`${A} dev p0 master br0 `]);
  expectFate(bridgePath(old).receive('p1', udp(B, A)), { fate: 'forwarded', emitted: ['p0'] });
});

test('meta ibrpvid / ibrvproto read the input port\'s PVID and the bridge\'s 802.1Q; without filtering the rule breaks (nft_meta_bridge)', () => {
  const rules = `table bridge t {
    chain pre {
      type filter hook prerouting priority 0; policy accept;
      meta ibrpvid 10 counter
      meta ibrpvid 20 counter
      meta ibrpvid 1 counter
      meta ibrvproto 0x8100 counter
    }
  }`;
  const counts = (path: ReturnType<typeof bridgePath>): number[] =>
    path.ruleset.table(7, 't')!.chains.get('pre')!.rules.map((r) => (r.exprs.find((e) => e.type === 'counter') as { packets: number }).packets);
  const path = bridgePath(vlanHost(), rules);
  path.receive('p1', udp(B, 'ff:ff:ff:ff:ff:ff'));   // access port, PVID 10
  path.receive('p2', udp(C, 'ff:ff:ff:ff:ff:ff'));   // access port, PVID 20
  path.receive('p0', udp(A, 'ff:ff:ff:ff:ff:ff', dot1q(20)));   // trunk, PVID 1, whatever the frame's tag
  assert.deepEqual(counts(path), [1, 1, 1, 3]);
  const off = bridgePath(bridgeHost({ addr4: '10.0.0.1/24' }), rules);
  off.receive('p1', udp(B, 'ff:ff:ff:ff:ff:ff'));
  assert.deepEqual(counts(off), [0, 0, 0, 0], 'vlan_filtering 0: NFT_BREAK');
});

test('reject in a bridge chain answers a tagged frame with the frame\'s tag (nft_reject_br_push_etherhdr)', () => {
  const path = bridgePath(vlanHost(), `table bridge t {
    chain pre {
      type filter hook prerouting priority 0; policy accept;
      udp dport 2000 reject with icmp port-unreachable
    }
  }`);
  // Tagged in on the trunk: the ICMP error goes back out of it in VLAN 10.
  const o = path.receive('p0', udp(A, B, dot1q(10)));
  const back = o.emitted.filter((e) => e.dev === 'p0');
  assert.equal(back.length, 1);
  assert.equal(vidOf(back[0]!.frame), 10);
  assert.equal(hex(back[0]!.frame.subarray(16, 18)), '0800', 'the inner type after the tag');
  // Untagged in on an access port: at PREROUTING the frame has no tag yet (br_allowed_ingress comes after).
  const o2 = path.receive('p1', udp(B, A));
  const back2 = o2.emitted.filter((e) => e.dev === 'p1');
  assert.equal(back2.length, 1);
  assert.equal(vidOf(back2[0]!.frame), undefined);
});
