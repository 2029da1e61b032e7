/**
 * 802.1Q on a device that is not a bridge port (__netif_receive_skb_core):
 * the outer tag is taken off before netdev ingress (skb_vlan_untag, as a NIC's
 * VLAN offload leaves it), so `meta protocol` is the inner type and `vlan id`
 * still reads the tag; with no VLAN device for it, a VID other than 0 makes the
 * frame PACKET_OTHERHOST (ip_rcv drops it) and a priority tag (VID 0) is only
 * cleared. The last test plays the same frames through this kernel in network
 * namespaces and compares the counters and what leaves on the WAN side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { routerHost } from '../src/host/path/testing.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { spawnSync } from 'node:child_process';

const frame = (tag: string): Uint8Array =>
  packetFromExpression(`Ether(src="02:00:00:00:01:02",dst="02:00:00:00:01:01")${tag}/IP(src="10.0.1.2",dst="198.51.100.7")/UDP(sport=1000,dport=53)/Raw(load=b"q")`, { link: 'ether' });

function router(rules = ''): { path: HostPath; rs: Ruleset } {
  const host = routerHost();
  const clock = new VirtualClock(0);
  const rs = new Ruleset();
  if (rules) {
    let err = '';
    assert.equal(executeNft(rs, rules, '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
  }
  return { path: new HostPath(host, { ruleset: rs, clock }), rs };
}

test('a frame tagged for a VLAN the host has no device for is PACKET_OTHERHOST: ip_rcv drops it', () => {
  const { path } = router();
  const o = path.receive('lan0', frame('/Dot1Q(vlan=10)'));
  assert.equal(o.fate, 'dropped');
  assert.equal(o.reason, 'OTHERHOST');
  assert.equal(o.emitted.length, 0);
  assert.ok(o.steps.some((s) => /VLAN 10 and no VLAN device on lan0/.test(s.text)));
});

test('a priority-tagged frame (VID 0) is routed like an untagged one and leaves untagged', () => {
  const { path } = router();
  const tagged = path.receive('lan0', frame('/Dot1Q(vlan=0,prio=5)'));
  const plain = path.receive('lan0', frame(''));
  assert.equal(tagged.fate, 'forwarded');
  assert.deepEqual(tagged.emitted.map((e) => Buffer.from(e.frame).toString('hex')), plain.emitted.map((e) => Buffer.from(e.frame).toString('hex')));
});

test('netdev ingress sees the inner protocol and the tag (meta protocol, vlan id)', () => {
  const { path, rs } = router(`table netdev n {
	chain in {
		type filter hook ingress device lan0 priority 0; policy accept;
		meta protocol ip counter
		vlan id 10 counter
		ether type vlan counter
	}
}`);
  for (const tag of TAGS) path.receive('lan0', frame(tag));
  const counts = rs.table(5, 'n')!.chains.get('in')!.rules.map((r) => Number((r.exprs.find((e) => e.type === 'counter') as { packets: number }).packets));
  // Observed on Linux 6.18 (the kernel test below): 3, 1, 2 — the priority tag counts as a tag.
  assert.deepEqual(counts, [3, 1, 2]);
});

const TAGS = ['/Dot1Q(vlan=10)', '/Dot1Q(vlan=0,prio=5)', ''];
const NETDEV_RULES = `table netdev n {
	chain in {
		type filter hook ingress device lan0 priority 0; policy accept;
		meta protocol ip counter
		vlan id 10 counter
		ether type vlan counter
	}
}`;

function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const [cmd, arg] of [['ip', '-V'], ['nft', '--version']] as const) if (spawnSync(cmd, [arg]).status !== 0) return `${cmd} not installed`;
  if (spawnSync('/usr/bin/python3', ['-c', 'import scapy.all']).status !== 0) return 'scapy not installed for /usr/bin/python3';
  return undefined;
}

test('the kernel agrees: the same frames through a router namespace give the same counters and the same frames out', (t) => {
  const why = cannotRun();
  if (why) { t.skip(why); return; }
  const id = process.pid;
  const R = `nfxvr${id}`, P = `nfxvp${id}`, W = `nfxvw${id}`;
  const script = `set -e
ip netns add ${R}; ip netns add ${P}; ip netns add ${W}
ip -n ${R} link add lan0 address 02:00:00:00:01:01 type veth peer name p0 netns ${P}
ip -n ${R} link add wan0 address 02:00:00:00:02:01 type veth peer name w0 netns ${W}
for x in "${R} lan0" "${R} wan0" "${P} p0" "${W} w0"; do set -- $x; ip -n $1 link set $2 up; done
ip -n ${R} addr add 10.0.1.1/24 dev lan0; ip -n ${R} addr add 192.0.2.1/24 dev wan0
ip -n ${R} route add default via 192.0.2.254
ip -n ${R} neigh add 192.0.2.254 lladdr 02:00:00:02:fe:00 dev wan0 nud permanent
ip netns exec ${R} sysctl -qw net.ipv4.ip_forward=1
ip netns exec ${R} nft -f - <<'NFT'
${NETDEV_RULES}
NFT
ip netns exec ${W} timeout 8 /usr/bin/python3 -c '
from scapy.all import sniff
for p in sniff(iface="w0", timeout=4, filter="udp"): print("WAN", bytes(p)[12:].hex())
' &
sleep 1.5
ip netns exec ${P} /usr/bin/python3 -c '
from scapy.all import *
for tag in ${JSON.stringify(TAGS.map((x) => x.slice(1) || 'None')).replace(/"/g, '')}:
    e = Ether(src="02:00:00:00:01:02",dst="02:00:00:00:01:01")
    f = (e/tag if tag is not None else e)/IP(src="10.0.1.2",dst="198.51.100.7")/UDP(sport=1000,dport=53)/Raw(load=b"q")
    sendp(f, iface="p0", verbose=False)
'
wait
ip netns exec ${R} nft list chain netdev n in
`;
  try {
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const kernelCounts = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    const kernelOut = r.stdout.split('\n').filter((l) => l.startsWith('WAN ')).map((l) => l.slice(4)).sort();
    const { path, rs } = router(NETDEV_RULES);
    const ours: string[] = [];
    for (const tag of TAGS) for (const e of path.receive('lan0', frame(tag)).emitted) if (e.dev === 'wan0') ours.push(Buffer.from(e.frame.subarray(12)).toString('hex'));
    const counts = rs.table(5, 'n')!.chains.get('in')!.rules.map((x) => Number((x.exprs.find((e) => e.type === 'counter') as { packets: number }).packets));
    t.diagnostic(`kernel counters ${kernelCounts.join(', ')}, ${kernelOut.length} frames out; nfx ${counts.join(', ')}, ${ours.length}`);
    assert.deepEqual(counts, kernelCounts);
    // From the ethertype on: the kernel's neighbour MAC differs from the test router's.
    assert.deepEqual(ours.sort(), kernelOut);
  } finally {
    for (const ns of [R, P, W]) spawnSync('ip', ['netns', 'del', ns]);
  }
});
