/**
 * Differential check of the packets the host makes itself against the Linux
 * kernel: a router namespace answers a peer namespace (echo, closed TCP and
 * UDP ports, TTL expiry, `reject with tcp reset` in FORWARD) and nfx's
 * router answers the same frames. Fields the kernel randomises (the IPv4 ID
 * of non-DF packets, with the header checksum over it) and checksums veth
 * leaves to offload (TCP) are masked. Needs root, `ip`, `nft` and Debian's
 * scapy; it creates and removes its own namespaces and sends nothing outside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HostPath } from '../src/host/path/walk.js';
import { buildRuleset, routerHost, rule } from '../src/host/path/testing.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';

const PY = '/usr/bin/python3';

function sh(cmd: string[], input?: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function canRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (!existsSync('/usr/sbin/ip') && sh(['which', 'ip']).status !== 0) return 'ip (iproute2) not installed';
  if (sh(['nft', '--version']).status !== 0) return 'nft not installed';
  if (sh([PY, '-c', 'import scapy.all']).status !== 0) return 'scapy not installed for /usr/bin/python3';
  return undefined;
}

const SNIFF = `
import sys, time
from scapy.all import Ether, AsyncSniffer, sendp, conf
conf.verb = 0
for hx in sys.argv[1:]:
    s = AsyncSniffer(iface='a0', lfilter=lambda p: bytes(p)[6:12] != bytes.fromhex('020000000102') and bytes(p)[0] & 1 == 0)
    s.start(); time.sleep(0.3)
    sendp(Ether(bytes.fromhex(hx)), iface='a0')
    time.sleep(0.6)
    got = s.stop()
    print(' '.join(bytes(x).hex() for x in got) or '-')
`;

/** Masks what the kernel randomises or leaves to offload. */
function mask(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  if (b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) {
    const df = (b[20]! & 0x40) !== 0;
    if (!df) { b[18] = 0; b[19] = 0; b[24] = 0; b[25] = 0; }
    const ihl = (b[14]! & 15) * 4;
    if (b[23] === 6 && b.length >= 14 + ihl + 18) { b[14 + ihl + 16] = 0; b[14 + ihl + 17] = 0; }
  }
  if (b.length >= 54 && b[12] === 0x86 && b[13] === 0xdd) {
    // The flow label: the kernel's automatic one hashes the flow with a per-boot random seed.
    b[15] = b[15]! & 0xf0; b[16] = 0; b[17] = 0;
    if (b[20] === 6 && b.length >= 14 + 40 + 18) { b[14 + 40 + 16] = 0; b[14 + 40 + 17] = 0; }
  }
  return b.toString('hex');
}

const PEER = 'Ether(dst="02:00:00:00:01:01",src="02:00:00:00:01:02")/';
const CASES = [
  'IP(src="10.0.1.2",dst="10.0.1.1")/ICMP(id=9,seq=1)/Raw(load="ping")',
  'IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,seq=1000,flags="S")',
  'IP(src="10.0.1.2",dst="10.0.1.1")/TCP(sport=40001,dport=24,seq=5,ack=77,flags="PA")/Raw(load="hi")',
  'IP(src="10.0.1.2",dst="10.0.1.1",tos=0x10)/UDP(sport=5000,dport=9)/Raw(load="x")',
  'IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/UDP(sport=5000,dport=53)/Raw(load="abc")',
  'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40002,dport=23,seq=42,flags="S")',
  `IP(src="10.0.1.2",dst="198.51.100.7",flags="DF")/UDP(sport=5001,dport=53)/Raw(load="${'z'.repeat(1400)}")`,
  'IP(src="10.0.1.2",dst="10.0.1.255")/UDP(sport=5002,dport=9)',
  'IP(src="10.0.1.1",dst="10.0.1.1")/ICMP()',
  'IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/ICMPv6EchoRequest(id=3,seq=4)/Raw(load="v6")',
  'IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/TCP(sport=40003,dport=23,seq=9,flags="S")',
  'IPv6(src="2001:db8:1::2",dst="2001:db8:1::1")/UDP(sport=5003,dport=9)',
  'IPv6(src="2001:db8:1::2",dst="2001:db8:99::7",hlim=1)/UDP(sport=5004,dport=53)',
];

test('the router\'s own packets match the Linux kernel\'s byte for byte (masked fields aside)', (t) => {
  const why = canRun();
  if (why) { t.skip(why); return; }
  const id = `nfxpw${process.pid}`;
  const R = `${id}r`, A = `${id}a`;
  const inR = (...c: string[]): void => { const r = sh(['ip', 'netns', 'exec', R, ...c]); assert.equal(r.status, 0, `${c.join(' ')}: ${r.err}`); };
  const inA = (...c: string[]): void => { const r = sh(['ip', 'netns', 'exec', A, ...c]); assert.equal(r.status, 0, `${c.join(' ')}: ${r.err}`); };
  try {
    assert.equal(sh(['ip', 'netns', 'add', R]).status, 0);
    assert.equal(sh(['ip', 'netns', 'add', A]).status, 0);
    for (const ns of [R, A]) {
      // No DAD wait, no router solicitations: addresses usable at once, links quiet.
      for (const k of ['accept_dad=0', 'dad_transmits=0', 'router_solicitations=0', 'accept_ra=0']) {
        sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.default.${k}`]);
        sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.all.${k}`]);
      }
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.icmp.ratelimit=0']);
    }
    inR('ip', 'link', 'add', 'lan0', 'address', '02:00:00:00:01:01', 'type', 'veth', 'peer', 'name', 'a0', 'address', '02:00:00:00:01:02', 'netns', A);
    // No dummy module on every machine: a veth whose far end stays down in the peer namespace.
    inR('ip', 'link', 'add', 'wan0', 'address', '02:00:00:00:02:01', 'type', 'veth', 'peer', 'name', 'wanp', 'netns', A);
    inR('ip', 'link', 'set', 'lo', 'up'); inR('ip', 'link', 'set', 'lan0', 'up'); inR('ip', 'link', 'set', 'wan0', 'up');
    inA('ip', 'link', 'set', 'lo', 'up'); inA('ip', 'link', 'set', 'a0', 'up');
    inR('ip', 'addr', 'add', '10.0.1.1/24', 'brd', '+', 'dev', 'lan0');
    inR('ip', 'addr', 'add', '192.0.2.1/24', 'brd', '+', 'dev', 'wan0');
    inR('ip', 'route', 'add', 'default', 'via', '192.0.2.254');
    inR('ip', 'neigh', 'add', '10.0.1.2', 'lladdr', '02:00:00:00:01:02', 'dev', 'lan0', 'nud', 'permanent');
    inR('ip', 'neigh', 'add', '192.0.2.254', 'lladdr', '02:00:00:00:02:fe', 'dev', 'wan0', 'nud', 'permanent');
    inR('ip', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'lan0', 'nodad');
    inR('ip', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'wan0', 'nodad');
    inR('ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:2::fe', 'dev', 'wan0');
    inR('ip', 'neigh', 'add', '2001:db8:1::2', 'lladdr', '02:00:00:00:01:02', 'dev', 'lan0', 'nud', 'permanent');
    inR('ip', 'neigh', 'add', '2001:db8:2::fe', 'lladdr', '02:00:00:00:02:fe', 'dev', 'wan0', 'nud', 'permanent');
    inR('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    inR('ip', 'link', 'set', 'wan0', 'mtu', '1280');
    inR('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    inR('sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0');
    inA('ip', 'addr', 'add', '10.0.1.2/24', 'dev', 'a0');
    // Silence the peer's own stack: it must not answer what the router sends it.
    inA('nft', 'add table netdev q; add chain netdev q in { type filter hook ingress device a0 priority 0; policy drop; }');
    inR('nft', 'add table ip f; add chain ip f fw { type filter hook forward priority 0; }; add rule ip f fw tcp dport 23 reject with tcp reset');

    const frames = CASES.map((c) => Buffer.from(packetFromExpression(PEER + c)).toString('hex'));
    const k = sh(['ip', 'netns', 'exec', A, PY, '-c', SNIFF, ...frames]);
    assert.equal(k.status, 0, k.err);
    const kernel = k.out.trim().split('\n');

    const rs = buildRuleset([{ family: 2, table: 'f', chain: 'fwd', hook: 2, rules: [
      rule('[ meta load l4proto => reg 1 ]\n[ cmp eq reg 1 0x00000006 ]\n[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp eq reg 1 0x00001700 ]\n[ reject type 1 code 0 ]'),
    ] }]);
    const host = routerHost();
    host.links.find((l) => l.name === 'wan0')!.mtu = 1280;
    const path = new HostPath(host, { ruleset: rs });
    let agree = 0;
    const diffs: string[] = [];
    frames.forEach((f, i) => {
      const ours = path.receive('lan0', Buffer.from(f, 'hex')).emitted.map((e) => mask(Buffer.from(e.frame).toString('hex'))).join(' ') || '-';
      const theirs = (kernel[i] ?? '-').split(' ').map((x) => (x === '-' ? x : mask(x))).join(' ');
      if (ours === theirs) agree++;
      else diffs.push(`${CASES[i]}\n  kernel: ${theirs}\n  nfx:    ${ours}`);
    });
    t.diagnostic(`agreement ${agree}/${frames.length}`);
    assert.equal(agree, frames.length, diffs.join('\n'));
  } finally {
    sh(['ip', 'netns', 'del', R]);
    sh(['ip', 'netns', 'del', A]);
  }
});
