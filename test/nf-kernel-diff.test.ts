/**
 * Differential test against the real kernel: the same rules (each ending in
 * `counter`) are loaded into nf_tables in a private network namespace and, as
 * the bytecode nft printed for them, into nfx; the same packets are sent
 * through the kernel's OUTPUT hook (raw socket, scapy) and through
 * evaluateHook; every rule's packet counter must agree. An input chain drops
 * everything so the kernel sends no replies that would be counted too.
 * Needs root, nft and Debian's scapy; skips otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook, NF_INET_LOCAL_OUT, NF_INET_LOCAL_IN } from '../src/netfilter/hooks.js';
import { formatTrace } from '../src/netfilter/trace.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { parseExprLine, parseElementLine, parseSetDeclLine } from '../src/netfilter/bytecode-text.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Expr } from '../src/netfilter/bytecode.js';
import { NFT_SET_MAP, NFT_DATA_VERDICT } from '../src/netfilter/bytecode.js';
import { Packet } from '../src/packet/packet.js';

const RULES = [
  'tcp dport 22', 'tcp dport != 22', 'tcp dport { 22, 80, 443 }', 'tcp dport 1000-2000', 'tcp dport != 1000-2000',
  'tcp sport < 1024', 'tcp sport >= 40000', 'udp dport 53', 'udp dport { 53, 123 }', 'udp length > 100',
  'ip saddr 10.0.0.0/8', 'ip daddr 127.0.0.1', 'ip saddr { 10.0.0.0/8, 192.168.0.0/16 }', 'ip saddr != 10.1.0.0/16',
  'ip ttl < 10', 'ip ttl 64', 'ip protocol icmp', 'icmp type echo-request', 'icmp type { echo-request, echo-reply }',
  'tcp flags syn', 'tcp flags & (syn | ack) == syn | ack', 'tcp flags & (fin | syn | rst | ack) == syn',
  'ip dscp cs1', 'ip length > 500', 'ip id 4660', 'ip saddr . tcp dport { 10.0.0.1 . 22, 10.0.0.2 . 80 }',
  'meta l4proto tcp', 'meta length > 100', 'th dport 53', 'ip version 4', 'tcp option maxseg size < 1400',
  'tcp option sack-perm exists', 'ip saddr & 0.0.0.255 == 0.0.0.1', 'meta mark 0', 'ip hdrlength 5',
  'ip saddr { 10.0.0.1-10.0.0.5, 172.16.0.0/12 }', 'udp sport 1024-65535 udp dport 53', 'ip protocol . th dport { tcp . 22, udp . 53 }',
  'tcp dport { 20-30, 8000-8100 }', 'icmp code 0', 'ip daddr 127.0.0.2 tcp dport 80',
];

const PACKETS = [
  "IP(src='10.0.0.1',dst='127.0.0.1')/TCP(sport=40000,dport=22,flags='S',options=[('MSS',1460),('SAckOK',b'')])",
  "IP(src='10.0.0.2',dst='127.0.0.2')/TCP(sport=40001,dport=80,flags='SA')",
  "IP(src='10.1.2.3',dst='127.0.0.1',ttl=5)/TCP(sport=80,dport=1500,flags='A')",
  "IP(src='192.168.1.1',dst='127.0.0.1',tos=0x20)/TCP(sport=1023,dport=443,flags='S',options=[('MSS',1300)])",
  "IP(src='172.20.0.1',dst='127.0.0.1')/UDP(sport=5353,dport=53)/Raw(load=b'x'*120)",
  "IP(src='10.0.0.3',dst='127.0.0.2',id=4660)/UDP(sport=123,dport=123)",
  "IP(src='8.8.8.8',dst='127.0.0.1')/ICMP(type=8)",
  "IP(src='10.0.0.5',dst='127.0.0.1')/ICMP(type=0)",
  "IP(src='10.0.0.9',dst='127.0.0.1')/ICMP(type=3,code=1)",
  "IP(src='1.2.3.4',dst='127.0.0.1')/TCP(sport=2000,dport=8050,flags='FA')/Raw(load=b'y'*600)",
  "IP(src='10.0.0.1',dst='127.0.0.1')/TCP(sport=50000,dport=25,flags='R')",
  "IP(src='10.1.255.1',dst='127.0.0.2')/UDP(sport=40000,dport=53)",
];

function sh(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The rules and anonymous sets of `nft --debug=netlink` output, as nfx batch operations. */
function batchFromDebug(text: string, regular: string[] = []): BatchOp[] {
  const ops: BatchOp[] = [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'c', hook: { hooknum: NF_INET_LOCAL_OUT, priority: 0 }, type: 'filter', policy: 1 },
    ...regular.map((chain): BatchOp => ({ op: 'newchain', family: 2, table: 't', chain })),
  ];
  const blocks = text.split(/\n\s*\n/);
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    let i = 0;
    while (i < lines.length && lines[i]!.startsWith('__')) {
      const decl = parseSetDeclLine(lines[i]!)!;
      const elems = lines[i + 2] ? parseElementLine(lines[i + 2]!) : [];
      const words = Math.max(...elems.map((e) => e.key.length), 4);
      const isMap = (decl.flags & NFT_SET_MAP) !== 0;
      const verdictMap = elems.some((e) => e.verdict);
      ops.push({ op: 'newset', family: 2, set: {
        table: 't', name: decl.name, flags: decl.flags, keyType: 0, keyLen: words,
        ...(isMap ? { dataType: verdictMap ? NFT_DATA_VERDICT : 0, dataLen: verdictMap ? 16 : Math.max(...elems.map((e) => e.data?.length ?? 4)) } : {}),
        elements: elems,
      } });
      i += 3;
    }
    const header = i < lines.length ? /^ip t (\S+)$/.exec(lines[i]!) : null;
    if (header) {
      const exprs: Expr[] = lines.slice(i + 1).filter((l) => /^\s*\[/.test(l)).map(parseExprLine);
      ops.push({ op: 'newrule', family: 2, table: 't', chain: header[1]!, append: true, rule: { exprs } });
    }
  }
  return ops;
}

test('rule counters agree with the kernel for the same packets', (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root for a network namespace'); return; }
  if (!existsSync('/usr/sbin/nft')) { t.skip('nft not installed'); return; }
  if (sh(['/usr/bin/python3', '-c', 'import scapy']).status !== 0) { t.skip('scapy (Debian /usr/bin/python3) not installed'); return; }
  const ns = `nfx-nfdiff-${process.pid}`;
  try {
    assert.equal(sh(['ip', 'netns', 'add', ns]).status, 0);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const ruleset = `table ip t {
  chain c { type filter hook output priority 0; policy accept;
${RULES.map((r) => `    ${r} counter`).join('\n')}
  }
  chain i { type filter hook input priority 0; policy drop; }
}
`;
    const load = sh(['ip', 'netns', 'exec', ns, 'nft', '--debug=netlink', '-f', '-'], ruleset);
    assert.equal(load.status, 0, load.stderr);
    const py = `
from scapy.all import *
conf.verb = 0
conf.L3socket = L3RawSocket
for p in [${PACKETS.join(',\n')}]:
    send(p)
    print(raw(p).hex())
`;
    const sent = sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', py]);
    assert.equal(sent.status, 0, sent.stderr);
    const list = JSON.parse(sh(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'chain', 'ip', 't', 'c']).stdout) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> };
    const kernel = list.nftables.filter((x) => x.rule).map((x) => x.rule!.expr.find((e) => e.counter)!.counter!.packets);
    assert.equal(kernel.length, RULES.length);
    if (process.env.NFX_DEBUG) console.log(JSON.stringify(kernel));

    // nfx: the same bytecode, the same packets.
    const chainDebug = load.stdout.split('\n').filter((l) => !/^ip \(null\)/.test(l)).join('\n');
    const clock = new VirtualClock(0);
    const host = new NullHostServices();
    for (const jit of [false, true]) {
      const rs = new Ruleset();
      const res = commitBatch(rs, batchFromDebug(chainDebug), clock);
      assert.ok(res.ok, JSON.stringify(res));
      for (const hex of sent.stdout.trim().split('\n')) {
        const bytes = Buffer.from(hex, 'hex');
        const p = Packet.from(new Uint8Array(bytes));
        p.networkHeader = p.head;
        p.protocol = 0x0800;
        p.l4proto = bytes[9]!;
        p.transportHeader = p.head + (bytes[0]! & 0xf) * 4;
        p.meta.oif = 1;
        evaluateHook(rs, 2, NF_INET_LOCAL_OUT, p, { host, clock, jit });
      }
      const ours = rs.table(2, 't')!.chains.get('c')!.rules.map((r) => {
        const c = r.exprs.find((e) => e.type === 'counter');
        return c && c.type === 'counter' ? c.packets : -1;
      });
      const diff = RULES.map((r, i) => ({ rule: r, kernel: kernel[i], nfx: ours[i] })).filter((d) => d.kernel !== d.nfx);
      assert.deepEqual(diff, [], jit ? 'JIT' : 'interpreter');
    }
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
});

/** Sends PACKETS through the kernel with `ruleset` loaded; returns nft's debug output, the packets' bytes and every rule's counter (null for rules without one). */
function kernelRun(ruleset: string): { debug: string; packets: string[]; counters: Array<{ chain: string; packets: number | null }> } {
  const ns = `nfx-nfdiff-${process.pid}-b`;
  try {
    assert.equal(sh(['ip', 'netns', 'add', ns]).status, 0);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const load = sh(['ip', 'netns', 'exec', ns, 'nft', '--debug=netlink', '-f', '-'], ruleset);
    assert.equal(load.status, 0, load.stderr);
    const py = `
from scapy.all import *
conf.verb = 0
conf.L3socket = L3RawSocket
for p in [${PACKETS.join(',\n')}]:
    send(p)
    print(raw(p).hex())
`;
    const sent = sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', py]);
    assert.equal(sent.status, 0, sent.stderr);
    const list = JSON.parse(sh(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'ip', 't']).stdout) as { nftables: Array<{ rule?: { chain: string; expr: Array<{ counter?: { packets: number } }> } }> };
    const counters = list.nftables.filter((x) => x.rule).map((x) => ({ chain: x.rule!.chain, packets: x.rule!.expr.find((e) => e.counter)?.counter?.packets ?? null }));
    return { debug: load.stdout.split('\n').filter((l) => !/^ip \(null\)/.test(l)).join('\n'), packets: sent.stdout.trim().split('\n'), counters };
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
}

test('jumps, gotos, returns and verdict maps walk the chains as the kernel does', (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root for a network namespace'); return; }
  if (!existsSync('/usr/sbin/nft')) { t.skip('nft not installed'); return; }
  if (sh(['/usr/bin/python3', '-c', 'import scapy']).status !== 0) { t.skip('scapy (Debian /usr/bin/python3) not installed'); return; }
  const regular = ['ssh', 'deeper', 'web', 'ten', 'dns'];
  const k = kernelRun(`table ip t {
  chain ssh { counter; ip saddr 10.0.0.1 return; counter; tcp flags syn jump deeper; counter; }
  chain deeper { counter; tcp option maxseg exists counter; tcp option maxseg size < 1400 return; counter; }
  chain web { counter; }
  chain ten { counter; ip ttl < 10 accept; counter; }
  chain dns { counter; udp sport 123 drop; counter; }
  chain c { type filter hook output priority 0; policy accept;
    counter
    tcp dport vmap { 22 : jump ssh, 80 : goto web, 443 : jump ssh }
    ip saddr 10.0.0.0/8 jump ten
    counter
    udp dport { 53, 123 } jump dns
    counter
    meta l4proto icmp accept
    counter
  }
  chain i { type filter hook input priority 0; policy drop; }
}
`);
  if (process.env.NFX_DEBUG) console.log(JSON.stringify(k.counters.map((c) => c.packets)));
  const clock = new VirtualClock(0);
  const host = new NullHostServices();
  for (const jit of [false, true]) {
    const rs = new Ruleset();
    const res = commitBatch(rs, batchFromDebug(k.debug, regular), clock);
    assert.ok(res.ok, JSON.stringify(res));
    for (const hex of k.packets) {
      const bytes = Buffer.from(hex, 'hex');
      const p = Packet.from(new Uint8Array(bytes));
      p.networkHeader = p.head;
      p.protocol = 0x0800;
      p.l4proto = bytes[9]!;
      p.transportHeader = p.head + (bytes[0]! & 0xf) * 4;
      p.meta.oif = 1;
      evaluateHook(rs, 2, NF_INET_LOCAL_OUT, p, { host, clock, jit });
    }
    const table = rs.table(2, 't')!;
    const ours: Array<{ chain: string; packets: number | null }> = [];
    // nft lists chains in creation order (regular ones first here, as written).
    for (const chain of [...regular, 'c']) {
      for (const r of table.chains.get(chain)!.rules) {
        const c = r.exprs.find((e) => e.type === 'counter');
        ours.push({ chain, packets: c && c.type === 'counter' ? c.packets : null });
      }
    }
    assert.deepEqual(ours, k.counters, jit ? 'JIT' : 'interpreter');
  }
});

const PACKETS6 = [
  "IPv6(src='2001:db8::1',dst='::1')/IPv6ExtHdrHopByHop()/TCP(sport=40000,dport=22,flags='S')",
  "IPv6(src='2001:db8::2',dst='::1',hlim=5)/IPv6ExtHdrFragment(id=5)/UDP(sport=5353,dport=53)",
  "IPv6(src='2001:db9::3',dst='::1')/IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=[])/TCP(sport=1000,dport=80)",
  "IPv6(src='2001:db8::4',dst='::1')/ICMPv6EchoRequest()",
  "IPv6(src='fe80::1',dst='::1')/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/UDP(sport=123,dport=123)/Raw(load=b'z'*50)",
  "IPv6(src='2001:db8::5',dst='::1')/TCP(sport=22,dport=2222,flags='A')",
];
const RULES6 = [
  'exthdr hbh exists', 'exthdr frag exists', 'exthdr rt exists', 'exthdr dst exists', 'exthdr frag missing',
  'frag frag-off 0', 'frag id 5', 'rt type 0', 'hbh nexthdr 60', 'dst nexthdr 43',
  'tcp dport 22', 'udp dport 53', 'ip6 nexthdr tcp', 'meta l4proto tcp', 'meta l4proto udp', 'ip6 saddr 2001:db8::/32',
  'ip6 hoplimit 64', 'ip6 length > 30', 'icmpv6 type echo-request', 'ip6 daddr ::1', 'tcp sport 22', 'th dport { 22, 53, 123 }',
  'ip6 saddr . th dport { 2001:db8::1 . 22, 2001:db8::2 . 53 }',
];

/** Transport offset and protocol of an IPv6 packet as the kernel finds them (ipv6_find_hdr with target -1). */
function ipv6Transport(b: Uint8Array): [number, number] {
  let next = b[6]!;
  let off = 40;
  for (let guard = 0; guard < 16; guard++) {
    if (next === 0 || next === 43 || next === 60) { const n = b[off]!; off += (b[off + 1]! + 1) * 8; next = n; continue; }
    if (next === 44) { const n = b[off]!; off += 8; next = n; continue; }
    if (next === 51) { const n = b[off]!; off += (b[off + 1]! + 2) * 4; next = n; continue; }
    break;
  }
  return [off, next];
}

test('IPv6 extension headers and transport fields match the kernel', (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root for a network namespace'); return; }
  if (!existsSync('/usr/sbin/nft')) { t.skip('nft not installed'); return; }
  if (sh(['/usr/bin/python3', '-c', 'import scapy']).status !== 0) { t.skip('scapy (Debian /usr/bin/python3) not installed'); return; }
  const ns = `nfx-nfdiff-${process.pid}-6`;
  try {
    assert.equal(sh(['ip', 'netns', 'add', ns]).status, 0);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const load = sh(['ip', 'netns', 'exec', ns, 'nft', '--debug=netlink', '-f', '-'], `table ip6 t {
  chain c { type filter hook output priority 0; policy accept;
${RULES6.map((r) => `    ${r} counter`).join('\n')}
  }
  chain i { type filter hook input priority 0; policy drop; }
}
`);
    assert.equal(load.status, 0, load.stderr);
    // A plain IPPROTO_RAW socket: the packet takes the OUTPUT hook as given.
    const py = `
import socket
from scapy.all import *
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
for p in [${PACKETS6.join(',\n')}]:
    s.sendto(raw(p), ('::1', 0))
    print(raw(p).hex())
`;
    const sent = sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', py]);
    assert.equal(sent.status, 0, sent.stderr);
    const list = JSON.parse(sh(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'chain', 'ip6', 't', 'c']).stdout) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> };
    const kernel = list.nftables.filter((x) => x.rule).map((x) => x.rule!.expr.find((e) => e.counter)!.counter!.packets);
    if (process.env.NFX_DEBUG) console.log(JSON.stringify(kernel));
    const debug = load.stdout.split('\n').filter((l) => !/^ip6 \(null\)/.test(l)).join('\n').replaceAll('ip6 t c', 'ip t c');
    const clock = new VirtualClock(0);
    const host = new NullHostServices();
    for (const jit of [false, true]) {
      const ops = batchFromDebug(debug).map((op) => ({ ...op, family: 10 }) as BatchOp).map((op) => (op.op === 'newset' ? { ...op, set: { ...op.set } } : op));
      const rs = new Ruleset();
      const res = commitBatch(rs, ops, clock);
      assert.ok(res.ok, JSON.stringify(res));
      for (const hex of sent.stdout.trim().split('\n')) {
        const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
        const p = Packet.from(bytes);
        const [off, proto] = ipv6Transport(bytes);
        p.networkHeader = p.head;
        p.protocol = 0x86dd;
        p.l4proto = proto;
        p.transportHeader = p.head + off;
        p.meta.oif = 1;
        evaluateHook(rs, 10, NF_INET_LOCAL_OUT, p, { host, clock, jit });
      }
      const ours = rs.table(10, 't')!.chains.get('c')!.rules.map((r) => {
        const c = r.exprs.find((e) => e.type === 'counter');
        return c && c.type === 'counter' ? c.packets : -1;
      });
      const diff = RULES6.map((r, i) => ({ rule: r, kernel: kernel[i], nfx: ours[i] })).filter((d) => d.kernel !== d.nfx);
      assert.deepEqual(diff, [], jit ? 'JIT' : 'interpreter');
    }
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
});

test('nft monitor trace prints the same rule, verdict and policy lines', (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root for a network namespace'); return; }
  if (!existsSync('/usr/sbin/nft')) { t.skip('nft not installed'); return; }
  if (sh(['/usr/bin/python3', '-c', 'import scapy']).status !== 0) { t.skip('scapy (Debian /usr/bin/python3) not installed'); return; }
  const ns = `nfx-nfdiff-${process.pid}-t`;
  const regular = ['sub', 'deep'];
  try {
    assert.equal(sh(['ip', 'netns', 'add', ns]).status, 0);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const load = sh(['ip', 'netns', 'exec', ns, 'nft', '--debug=netlink', '-f', '-'], `table ip t {
  chain sub { ip saddr 10.0.0.1 return; tcp dport 22 goto deep; meta mark set 7; }
  chain deep { ip ttl 5 drop; }
  chain c { type filter hook output priority 0; policy accept;
    meta nftrace set 1
    tcp dport vmap { 22 : jump sub, 443 : jump sub }
    tcp dport 80 accept
    udp dport 53 drop
  }
  chain i { type filter hook input priority 0; policy drop; }
}
`);
    assert.equal(load.status, 0, load.stderr);
    // The rule texts as the monitor's cache lists them, by handle.
    const listing = sh(['ip', 'netns', 'exec', ns, 'nft', '-a', 'list', 'table', 'ip', 't']).stdout;
    const texts = new Map<number, string>();
    for (const m of listing.matchAll(/^\t\t(.*) # handle (\d+)$/gm)) texts.set(Number(m[2]), m[1]!);
    const py = `
import socket, subprocess, time
from scapy.all import *
mon = subprocess.Popen(['nft', 'monitor', 'trace'], stdout=subprocess.PIPE, text=True)
time.sleep(1.5)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
try:
    for p in [${PACKETS.join(',\n')}]:
        print(raw(p).hex())
        try:
            s.sendto(raw(p), (p.dst, 0))
        except PermissionError:
            pass  # dropped in OUTPUT
    time.sleep(1.5)
finally:
    mon.terminate()
print('----')
print(mon.stdout.read())
`;
    const out = sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', py]);
    assert.equal(out.status, 0, out.stderr);
    const [hexes, traceText] = out.stdout.split('----\n') as [string, string];
    const norm = (l: string): string => l.replace(/^trace id [0-9a-f]{8} /, '');
    const kernelLines = traceText.split('\n').filter((l) => l.startsWith('trace id') && !/ packet: /.test(l)).map(norm);
    assert.ok(kernelLines.length > 20, traceText);
    if (process.env.NFX_DEBUG) console.log(kernelLines.join('\n'));
    const debug = load.stdout.split('\n').filter((l) => !/^ip \(null\)/.test(l)).join('\n');
    const ops = batchFromDebug(debug, regular);
    ops.push({ op: 'newchain', family: 2, table: 't', chain: 'i', hook: { hooknum: NF_INET_LOCAL_IN, priority: 0 }, type: 'filter', policy: 0 });
    const clock = new VirtualClock(0);
    const host = new NullHostServices();
    for (const jit of [false, true]) {
      const rs = new Ruleset();
      const res = commitBatch(rs, ops, clock);
      assert.ok(res.ok, JSON.stringify(res));
      // Handles differ from the kernel's (nfx numbers its own batch); map ours to the kernel's by position.
      const table = rs.table(2, 't')!;
      const kernelHandles = [...listing.matchAll(/# handle (\d+)$/gm)].map((m) => Number(m[1]));
      void kernelHandles;
      for (const chain of [...regular, 'c']) {
        const kernelChain = listing.split(`chain ${chain} {`)[1]!.split('\n\t}')[0]!;
        const hs = [...kernelChain.matchAll(/# handle (\d+)$/gm)].map((m) => Number(m[1])).slice(1);
        table.chains.get(chain)!.rules.forEach((r, k) => { r.source = texts.get(hs[k]!)!; });
      }
      const ours: string[] = [];
      for (const hex of hexes.trim().split('\n')) {
        const bytes = Buffer.from(hex, 'hex');
        const p = Packet.from(new Uint8Array(bytes));
        p.networkHeader = p.head;
        p.protocol = 0x0800;
        p.l4proto = bytes[9]!;
        p.transportHeader = p.head + (bytes[0]! & 0xf) * 4;
        p.meta.oif = 1;
        const a = evaluateHook(rs, 2, NF_INET_LOCAL_OUT, p, { host, clock, jit, trace: true, traceId: 1 });
        for (const ev of a.traces) ours.push(...formatTrace(ev).filter((l) => !/ packet: /.test(l)).map(norm));
        if (a.verdict !== 1) continue;
        p.meta.oif = 0;
        p.meta.iif = 1;
        const b = evaluateHook(rs, 2, NF_INET_LOCAL_IN, p, { host, clock, jit, trace: true, traceId: 2 });
        for (const ev of b.traces) ours.push(...formatTrace(ev).filter((l) => !/ packet: /.test(l)).map(norm));
      }
      assert.deepEqual(ours, kernelLines, jit ? 'JIT' : 'interpreter');
    }
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
});
