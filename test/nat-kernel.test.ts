/**
 * NAT against the real kernel: a router namespace between a LAN and a WAN
 * namespace runs snat and dnat rules; each packet is sent from one side and
 * captured on the other, and the same packet goes through nfx's conntrack and
 * NAT (plus the forwarding TTL decrement). The bytes must be identical:
 * addresses, ports, ICMP error translation with the quoted packet, every
 * checksum — and the kernel's conntrack table (/proc/net/nf_conntrack) must
 * list the same entries. 300 random TCP segments (a fixed seed; NFX_SEED=n
 * picks another) probe the TCP tracker. Needs root, ip, nft and python3;
 * skips otherwise. Creates and removes its own namespaces; sends nothing
 * outside them. Debugging: NFX_CT_WATCH='sport=4103 ' prints the kernel's and
 * nfx's entry for that flow around a mismatch; NFX_STEPS='[["a","IP()/..."]]'
 * replaces the cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ConntrackTable, connOf, formatConntrack } from '../src/netfilter/conntrack/index.js';
import { forward } from '../src/netfilter/conntrack/testing.js';
import { Packet } from '../src/packet/packet.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { IPv4View } from '../src/packet/wire/ipv4.js';
import type { NatRequest } from '../src/netfilter/host-services.js';
import { NF_NAT_RANGE_PERSISTENT } from '../src/netfilter/bytecode.js';

const MAC = { va: '02:00:00:00:0a:02', ra: '02:00:00:00:0a:01', rb: '02:00:00:00:0b:01', vb: '02:00:00:00:0b:02' };

const RULESET = `
table ip nat {
  chain pre { type nat hook prerouting priority -100; policy accept;
    iifname "rb" tcp dport 8080 dnat to 10.1.0.2:80
  }
  chain post { type nat hook postrouting priority 100; policy accept;
    oifname "rb" udp dport 5000-5999 snat to 10.2.0.10-10.2.0.20
    oifname "rb" udp dport 6000-6999 snat to 10.2.0.10-10.2.0.20 persistent
    oifname "rb" tcp dport 7000 masquerade
    oifname "rb" ip saddr 10.1.0.0/24 snat to 10.2.0.1
  }
}
table inet f {
  chain forwarding { type filter hook forward priority 0; policy accept;
    ct state invalid counter
    ct state new counter
    ct state established counter
    ct state related counter
  }
  chain input { type filter hook input priority 0; policy drop; }
}
table ip6 nat6 {
  chain pre { type nat hook prerouting priority -100; policy accept;
    iifname "rb" tcp dport 8080 dnat to [fd01::2]:80
  }
  chain post { type nat hook postrouting priority 100; policy accept;
    oifname "rb" ip6 saddr fd01::/64 snat to fd02::1
  }
}`;

/**
 * Random TCP conversations through the snat rule: flags, sequence and
 * acknowledgment numbers mostly right, sometimes wrong, so the window
 * tracking and the state table meet what a real network throws at them.
 */
function randomSteps(seed: number, flows: number, count: number): Array<['a' | 'b', string]> {
  let x = seed;
  const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
  const st = Array.from({ length: flows }, () => ({ next: [1000 + rnd(100000), 50000 + rnd(100000)] as number[] }));
  const out: Array<['a' | 'b', string]> = [];
  const FLAGS = ['S', 'SA', 'A', 'A', 'PA', 'PA', 'FA', 'R', 'RA', 'F', '', 'SR', 'FPU'];
  for (let i = 0; i < count; i++) {
    const f = rnd(flows);
    const side = rnd(3) === 0 ? 1 : 0; // the client talks more
    const ip0 = side === 0 ? `IP(src="10.1.0.2",dst="10.2.0.2",id=${1000 + i})` : `IP(src="10.2.0.2",dst="10.2.0.1",id=${1000 + i})`;
    const kind = rnd(10);
    if (kind < 2) {
      // UDP: unreplied, replied, and a stream once it lasts (nf_conntrack_proto_udp.c).
      out.push([side === 0 ? 'a' : 'b', side === 0 ? `${ip0}/UDP(sport=${5100 + f},dport=53)/"q${i}"` : `${ip0}/UDP(sport=53,dport=${5100 + f})/"r${i}"`]);
      continue;
    }
    if (kind < 3) {
      // ICMP echo: only a request starts a connection.
      out.push([side === 0 ? 'a' : 'b', `${ip0}/ICMP(type=${side === 0 ? 8 : 0},id=${700 + f},seq=${i})`]);
      continue;
    }
    const flags = FLAGS[rnd(FLAGS.length)]!;
    const len = flags.includes('P') ? 1 + rnd(30) : 0;
    const s0 = st[f]!.next[side]!;
    const seq = rnd(6) === 0 ? (s0 + rnd(2_000_000)) >>> 0 : s0;
    const ack = rnd(6) === 0 ? rnd(0xffffffff) : st[f]!.next[side ^ 1]!;
    st[f]!.next[side] = (s0 + len + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    const sport = 4100 + f;
    const l4 = side === 0
      ? `TCP(sport=${sport},dport=80,flags="${flags}",seq=${seq},ack=${ack},window=${1 + rnd(65535)})`
      : `TCP(sport=80,dport=${sport},flags="${flags}",seq=${seq},ack=${ack},window=${1 + rnd(65535)})`;
    const ip = side === 0 ? `IP(src="10.1.0.2",dst="10.2.0.2",id=${1000 + i})` : `IP(src="10.2.0.2",dst="10.2.0.1",id=${1000 + i})`;
    out.push([side === 0 ? 'a' : 'b', `${ip}/${l4}${len ? `/"${'d'.repeat(len)}"` : ''}`]);
  }
  return out;
}

/** One packet: sent from `from` ('a' LAN, 'b' WAN), expected on the other side. */
const STEPS: Array<[from: 'a' | 'b', expr: string]> = [
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=1)/UDP(sport=4000,dport=53)/"query"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=2)/UDP(sport=53,dport=4000)/"answer"'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=3)/TCP(sport=4001,dport=80,flags="S",seq=1000,window=64240,options=[("MSS",1460)])'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=4)/TCP(sport=80,dport=4001,flags="SA",seq=5000,ack=1001,window=65000)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=5)/TCP(sport=4001,dport=80,flags="A",seq=1001,ack=5001,window=64240)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=6)/TCP(sport=4001,dport=80,flags="PA",seq=1001,ack=5001,window=64240)/"GET / HTTP/1.0\\r\\n\\r\\n"'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=7)/UDP(sport=4002,dport=33434)/"probe"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=8)/ICMP(type=3,code=3)/IP(src="10.2.0.1",dst="10.2.0.2",id=7,ttl=63)/UDP(sport=4002,dport=33434)/"probe"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=9)/TCP(sport=5555,dport=8080,flags="S",seq=77,window=29200)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=10)/TCP(sport=80,dport=5555,flags="SA",seq=900,ack=78,window=64240)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=11)/ICMP(type=8,id=77,seq=1)/"ping"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=12)/ICMP(type=0,id=77,seq=1)/"ping"'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=13)/UDP(sport=4003,dport=9,chksum=0)/"no checksum"'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=14)/UDP(sport=4004,dport=7)/"x"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=15)/ICMP(type=11,code=0)/IP(src="10.2.0.1",dst="10.2.0.2",id=14,ttl=1)/UDP(sport=4004,dport=7)'],
  // Address ranges: the address comes from a hash of the addresses (find_best_ips_proto).
  ...[2, 3, 4, 5].flatMap((h): Array<['a' | 'b', string]> => [
    ['a', `IP(src="10.1.0.${h}",dst="10.2.0.2",id=${20 + h})/UDP(sport=4100,dport=${5000 + h})/"range"`],
    ['a', `IP(src="10.1.0.${h}",dst="10.2.0.2",id=${30 + h})/UDP(sport=4100,dport=${6000 + h})/"persistent"`],
  ]),
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=40)/TCP(sport=4005,dport=7000,flags="S",seq=1)'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=41)/TCP(sport=7000,dport=4005,flags="RA",seq=0,ack=2)'],
  // KERNEL-NOTES: no connection for a bare ACK (new, loose pickup), FIN, RST or SYN-ACK (invalid, still forwarded, not NATed);
  // a bad TCP checksum is invalid; repeated unanswered UDP stays new.
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=50)/TCP(sport=4010,dport=80,flags="A",seq=1,ack=1)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=51)/TCP(sport=4011,dport=80,flags="FA",seq=1,ack=1)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=52)/TCP(sport=4012,dport=80,flags="R",seq=1)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=53)/TCP(sport=4013,dport=80,flags="SA",seq=1,ack=1)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=54)/TCP(sport=4014,dport=80,flags="S",seq=1,chksum=0x1234)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=55)/UDP(sport=4015,dport=53)/"again"'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=56)/UDP(sport=4015,dport=53)/"again"'],
  // A close, then a connection whose data falls outside the window (invalid: forwarded without NAT).
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=60)/TCP(sport=4001,dport=80,flags="FA",seq=1019,ack=5001,window=64240)'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=61)/TCP(sport=80,dport=4001,flags="FA",seq=5001,ack=1020,window=65000)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=62)/TCP(sport=4001,dport=80,flags="A",seq=1020,ack=5002,window=64240)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=63)/TCP(sport=4020,dport=80,flags="S",seq=100,window=1000)'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=64)/TCP(sport=80,dport=4020,flags="SA",seq=700,ack=101,window=1000)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=65)/TCP(sport=4020,dport=80,flags="A",seq=101,ack=701,window=1000)'],
  ['a', 'IP(src="10.1.0.2",dst="10.2.0.2",id=66)/TCP(sport=4020,dport=80,flags="PA",seq=900000,ack=701,window=1000)/"far away"'],
  ['b', 'IP(src="10.2.0.2",dst="10.2.0.1",id=67)/TCP(sport=80,dport=4020,flags="PA",seq=701,ack=101,window=1000)/"in window"'],
  // IPv6: the checksums cover the pseudo-header; ICMPv6 errors carry the quoted packet.
  ['a', 'IPv6(src="fd01::2",dst="fd02::2")/UDP(sport=4000,dport=53)/"query6"'],
  ['b', 'IPv6(src="fd02::2",dst="fd02::1")/UDP(sport=53,dport=4000)/"answer6"'],
  ['a', 'IPv6(src="fd01::2",dst="fd02::2")/ICMPv6EchoRequest(id=5,seq=1)/"ping6"'],
  ['b', 'IPv6(src="fd02::2",dst="fd02::1")/ICMPv6EchoReply(id=5,seq=1)/"ping6"'],
  ['a', 'IPv6(src="fd01::2",dst="fd02::2")/UDP(sport=4002,dport=33434)/"probe6"'],
  ['b', 'IPv6(src="fd02::2",dst="fd02::1")/ICMPv6DestUnreach(code=4)/IPv6(src="fd02::1",dst="fd02::2",hlim=63)/UDP(sport=4002,dport=33434)/"probe6"'],
  ['b', 'IPv6(src="fd02::2",dst="fd02::1")/TCP(sport=5555,dport=8080,flags="S",seq=77,window=29200)'],
  ['a', 'IPv6(src="fd01::2",dst="fd02::2")/TCP(sport=80,dport=5555,flags="SA",seq=900,ack=78,window=64240)'],
  ...randomSteps(Number(process.env.NFX_SEED ?? 20261128), 12, 300),
];

const HARNESS = String.raw`
import ctypes, json, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
def enter(ns):
    fd = os.open('/var/run/netns/' + ns, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0: raise OSError(ctypes.get_errno(), 'setns')
    os.close(fd)
job = json.load(sys.stdin)
socks = {}
for side, ns, dev in (('a', job['a'], 'va'), ('b', job['b'], 'vb')):
    enter(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    s.settimeout(0.05)
    socks[side] = s
enter(job['r'])
watch = job.get('watch')
trace = []
stamps = []
out = []
for frm, frame in job['steps']:
    to = 'b' if frm == 'a' else 'a'
    rx = socks[to]
    while True:
        try: rx.recvfrom(65535)
        except socket.timeout: break
    stamps.append(time.monotonic())
    socks[frm].send(bytes.fromhex(frame))
    got = None
    deadline = time.time() + 0.25
    while time.time() < deadline and got is None:
        try: data, addr = rx.recvfrom(65535)
        except socket.timeout: continue
        if addr[2] == socket.PACKET_OUTGOING or data[12:14] not in (b'\x08\x00', b'\x86\xdd'): continue
        if data[12:14] == b'\x86\xdd' and data[20] == 58 and 130 <= data[54] <= 143: continue  # the router's own MLD/ND
        got = data[14:].hex()
    out.append(got)
    if watch:
        trace.append([l for l in open('/proc/net/nf_conntrack').read().splitlines() if watch in l])
print(json.dumps(out))
print(json.dumps(stamps))
print(json.dumps(trace))
print(json.dumps(open('/proc/net/nf_conntrack').read().splitlines()))
`;

function run(cmd: string[], input?: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { input, encoding: 'utf8', timeout: 240_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function ether(dst: string, src: string, ip: Uint8Array): string {
  return dst.replaceAll(':', '') + src.replaceAll(':', '') + (ip[0]! >> 4 === 6 ? '86dd' : '0800') + Buffer.from(ip).toString('hex');
}

const v6 = (s: string): Uint8Array => {
  const [hi, lo] = s.split('::');
  const words = [...hi!.split(':').filter(Boolean), ...Array(8 - hi!.split(':').filter(Boolean).length - (lo ? lo.split(':').length : 0)).fill('0'), ...(lo ? lo.split(':') : [])];
  return new Uint8Array(words.flatMap((w) => { const n = parseInt(w, 16); return [n >> 8, n & 0xff]; }));
};
const snat6: NatRequest = { natType: 0, kind: 'nat', family: 10, addrMin: v6('fd02::1'), flags: 0 };
const dnat6: NatRequest = { natType: 1, kind: 'nat', family: 10, addrMin: v6('fd01::2'), protoMin: 80, protoMax: 80, flags: 0 };
const snat: NatRequest = { natType: 0, kind: 'nat', family: 2, addrMin: new Uint8Array([10, 2, 0, 1]), flags: 0 };
const dnat: NatRequest = { natType: 1, kind: 'nat', family: 2, addrMin: new Uint8Array([10, 1, 0, 2]), protoMin: 80, protoMax: 80, flags: 0 };

const range = (flags: number): NatRequest => ({ natType: 0, kind: 'nat', family: 2, addrMin: new Uint8Array([10, 2, 0, 10]), addrMax: new Uint8Array([10, 2, 0, 20]), flags });
const masq: NatRequest = { natType: 0, kind: 'masq', family: 2, flags: 0 };
const env = { masqueradeAddress: () => new Uint8Array([10, 2, 0, 1]), redirectAddress: () => undefined };

/** The router's nat rules for a packet, as the nat chains would pick them. */
function natFor(from: 'a' | 'b', p: Packet): { snat?: NatRequest; dnat?: NatRequest } {
  const b = p.data;
  if (b[0]! >> 4 === 6) {
    if (from === 'a') return { snat: snat6 };
    return b[6] === 6 && ((b[42]! << 8) | b[43]!) === 8080 ? { dnat: dnat6 } : {};
  }
  const proto = b[9]!;
  const dport = (b[22]! << 8) | b[23]!;
  if (from === 'b') return proto === 6 && dport === 8080 ? { dnat } : {};
  if (proto === 17 && dport >= 5000 && dport <= 5999) return { snat: range(0) };
  if (proto === 17 && dport >= 6000 && dport <= 6999) return { snat: range(NF_NAT_RANGE_PERSISTENT) };
  if (proto === 6 && dport === 7000) return { snat: masq };
  return { snat };
}

test('snat, dnat and ICMP error translation give the kernel\'s bytes', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root');
  if (!existsSync('/usr/sbin/nft') || !run(['ip', '-V']).ok || !existsSync('/usr/bin/python3')) return t.skip('needs ip, nft and python3');
  const tag = `nfxnat${process.pid}`;
  const ns = { a: `${tag}a`, r: `${tag}r`, b: `${tag}b` };
  const sh = (n: string, ...c: string[]) => {
    const r = run(['ip', 'netns', 'exec', n, ...c]);
    if (!r.ok) throw new Error(`${c.join(' ')} in ${n}: ${r.err}`);
  };
  try {
    for (const n of Object.values(ns)) {
      if (!run(['ip', 'netns', 'add', n]).ok) return t.skip('cannot create network namespaces');
      // No duplicate address detection, so the addresses work at once (KERNEL-NOTES test-bed effects).
      for (const k of ['all', 'default']) sh(n, 'sysctl', '-qw', `net.ipv6.conf.${k}.accept_dad=0`);
      sh(n, 'ip', 'link', 'set', 'lo', 'up');
    }
    sh(ns.r, 'ip', 'link', 'add', 'ra', 'address', MAC.ra, 'type', 'veth', 'peer', 'name', 'va', 'address', MAC.va, 'netns', ns.a);
    sh(ns.r, 'ip', 'link', 'add', 'rb', 'address', MAC.rb, 'type', 'veth', 'peer', 'name', 'vb', 'address', MAC.vb, 'netns', ns.b);
    sh(ns.r, 'ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'ra');
    sh(ns.r, 'ip', 'addr', 'add', '10.2.0.1/24', 'dev', 'rb');
    sh(ns.a, 'ip', 'addr', 'add', '10.1.0.2/24', 'dev', 'va');
    sh(ns.b, 'ip', 'addr', 'add', '10.2.0.2/24', 'dev', 'vb');
    sh(ns.r, 'ip', 'addr', 'add', 'fd01::1/64', 'dev', 'ra', 'nodad');
    sh(ns.r, 'ip', 'addr', 'add', 'fd02::1/64', 'dev', 'rb', 'nodad');
    sh(ns.a, 'ip', 'addr', 'add', 'fd01::2/64', 'dev', 'va', 'nodad');
    sh(ns.b, 'ip', 'addr', 'add', 'fd02::2/64', 'dev', 'vb', 'nodad');
    for (const [n, d] of [[ns.r, 'ra'], [ns.r, 'rb'], [ns.a, 'va'], [ns.b, 'vb']] as const) sh(n, 'ip', 'link', 'set', d, 'up');
    for (const h of [2, 3, 4, 5]) sh(ns.r, 'ip', 'neigh', 'add', `10.1.0.${h}`, 'lladdr', MAC.va, 'dev', 'ra', 'nud', 'permanent');
    sh(ns.r, 'ip', 'neigh', 'add', '10.2.0.2', 'lladdr', MAC.vb, 'dev', 'rb', 'nud', 'permanent');
    sh(ns.r, 'ip', 'neigh', 'add', 'fd01::2', 'lladdr', MAC.va, 'dev', 'ra', 'nud', 'permanent');
    sh(ns.r, 'ip', 'neigh', 'add', 'fd02::2', 'lladdr', MAC.vb, 'dev', 'rb', 'nud', 'permanent');
    sh(ns.r, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    sh(ns.r, 'sysctl', '-qw', 'net.ipv6.icmp.ratelimit=0');
    sh(ns.r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    sh(ns.r, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0');
    // The peers' own stacks stay silent: their ingress drops everything (captures see frames before that hook).
    sh(ns.a, 'nft', 'add table netdev s; add chain netdev s i { type filter hook ingress device va priority 0; policy drop; }');
    sh(ns.b, 'nft', 'add table netdev s; add chain netdev s i { type filter hook ingress device vb priority 0; policy drop; }');
    const load = run(['ip', 'netns', 'exec', ns.r, 'nft', '-f', '-'], RULESET);
    assert.ok(load.ok, load.err);

    // NFX_STEPS (a JSON list of [side, expression]) replaces the cases, to probe the kernel by hand.
    if (process.env.NFX_STEPS) STEPS.splice(0, STEPS.length, ...(JSON.parse(process.env.NFX_STEPS) as typeof STEPS));
    const ips = STEPS.map(([, e]) => packetFromExpression(e));
    const frames = STEPS.map(([from], i) => [from, from === 'a' ? ether(MAC.ra, MAC.va, ips[i]!) : ether(MAC.rb, MAC.vb, ips[i]!)]);
    const h = run(['/usr/bin/python3', '-c', HARNESS], JSON.stringify({ a: ns.a, b: ns.b, r: ns.r, steps: frames, watch: process.env.NFX_CT_WATCH }));
    assert.ok(h.ok, h.err);
    const [outLine, stampLine, traceLine, procLine] = h.out.trim().split('\n');
    const kernel = JSON.parse(outLine!) as Array<string | null>;
    const stamps = JSON.parse(stampLine!) as number[];
    const ktrace = JSON.parse(traceLine!) as string[][];

    // nfx's clock follows the wall clock of the kernel run: connections in CLOSE (10 s) do expire during it.
    const clock = new VirtualClock(0);
    const table = new ConntrackTable(clock);
    const states = { invalid: 0, new: 0, established: 0, related: 0 };
    let agree = 0;
    const nfxLog: string[] = [];
    STEPS.forEach(([from, expr], i) => {
      clock.set((stamps[i]! - stamps[0]!) * 1000);
      const p = Packet.from(ips[i]!);
      p.networkHeader = p.head;
      const fam = p.data[0]! >> 4 === 6 ? 10 : 2;
      const isLocal = (q: Packet) => fam === 2 && q.data[16] === 10 && q.data[18] === 0 && q.data[19] === 1;
      const w = forward(table, p, fam, { ...natFor(from, p), env, isLocal });
      if (fam === 2) new IPv4View(p.buffer, p.networkHeader).decrementTtl();
      else p.buffer[p.networkHeader + 7]!--;
      // Packets left addressed to the router are delivered locally (and dropped by its input chain), not forwarded.
      const local = w.local === true;
      const st = w.ctinfo < 0 ? 'invalid' : w.ctinfo === 2 ? 'new' : w.ctinfo === 1 || w.ctinfo === 4 ? 'related' : 'established';
      if (!local) states[st]++;
      const mine = w.verdict === 1 && !local ? Buffer.from(p.data).toString('hex') : null;
      if (process.env.NFX_CT_WATCH && STEPS.length < 40) t.diagnostic(`${i + 1} nfx ctinfo ${w.ctinfo} ${w.reason} :: ${ktrace[i]?.join(' | ')}`);
      nfxLog.push(`ctinfo ${w.ctinfo} ${w.reason} ${JSON.stringify(connOf(table, p)?.tcp ?? null)} t=${clock.nowMs().toFixed(0)}`);
      if (mine !== kernel[i] && ktrace.length && process.env.NFX_CT_WATCH) {
        for (let j = Math.max(0, i - 80); j <= i; j++) if (STEPS[j]![1].includes(process.env.NFX_CT_WATCH.replace('sport=', 'port=').trim() + ',')) t.diagnostic(`${j + 1} ${STEPS[j]![1]} :: ${ktrace[j]!.join(' | ')} :: nfx ${nfxLog[j]}`);
      }
      assert.equal(mine, kernel[i], `step ${i + 1}: ${expr}`);
      agree++;
    });
    assert.equal(agree, STEPS.length);
    // The kernel's forward-chain counters per ct state agree with nfx's classification.
    const listing = run(['ip', 'netns', 'exec', ns.r, 'nft', 'list', 'table', 'inet', 'f']).out;
    for (const [k, n] of Object.entries(states)) {
      const m = new RegExp(`ct state ${k} counter packets (\\d+)`).exec(listing);
      assert.equal(Number(m?.[1]), n, `ct state ${k}`);
    }
    t.diagnostic(`${agree}/${STEPS.length} packets byte-identical to Linux; ct states ${JSON.stringify(states)}`);
    // The table itself: conntrack -L against /proc/net/nf_conntrack (IPv4 entries; timers left out, they run on different clocks).
    const norm = (l: string) => l.replace(/^ipv4 +2 +/, '').replace(/^(\S+ +\d+) \d+ /, '$1 ').replace(/zone=0 /, '').replace(/use=\d+/, 'use=1').trim();
    const kernelTable = (JSON.parse(procLine!) as string[]).filter((l) => l.startsWith('ipv4')).map(norm).sort();
    clock.set((stamps[stamps.length - 1]! - stamps[0]!) * 1000);
    const mineTable = formatConntrack(table).trim().split('\n').slice(0, -1).filter((l) => !l.includes(':')).map(norm).sort();
    assert.deepEqual(mineTable, kernelTable);
    t.diagnostic(`${mineTable.length} IPv4 conntrack entries identical to /proc/net/nf_conntrack (state, tuples, flags, mark)`);
  } finally {
    for (const n of Object.values(ns)) run(['ip', 'netns', 'del', n]);
  }
});
