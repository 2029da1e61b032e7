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
import { evaluateHook, NF_INET_LOCAL_OUT } from '../src/netfilter/hooks.js';
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
function batchFromDebug(text: string): BatchOp[] {
  const ops: BatchOp[] = [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'c', hook: { hooknum: NF_INET_LOCAL_OUT, priority: 0 }, type: 'filter', policy: 1 },
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
    if (i < lines.length && lines[i] === 'ip t c') {
      const exprs: Expr[] = lines.slice(i + 1).filter((l) => /^\s*\[/.test(l)).map(parseExprLine);
      ops.push({ op: 'newrule', family: 2, table: 't', chain: 'c', append: true, rule: { exprs } });
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

    // nfx: the same bytecode, the same packets.
    const chainDebug = load.stdout.split('\n').filter((l) => !/^ip \(null\)/.test(l)).join('\n');
    const rs = new Ruleset();
    const clock = new VirtualClock(0);
    const res = commitBatch(rs, batchFromDebug(chainDebug), clock);
    assert.ok(res.ok, JSON.stringify(res));
    const host = new NullHostServices();
    for (const hex of sent.stdout.trim().split('\n')) {
      const bytes = Buffer.from(hex, 'hex');
      for (const jit of [false]) {
        const p = Packet.from(new Uint8Array(bytes));
        p.networkHeader = p.head;
        p.protocol = 0x0800;
        p.l4proto = bytes[9]!;
        p.transportHeader = p.head + (bytes[0]! & 0xf) * 4;
        p.meta.oif = 1;
        evaluateHook(rs, 2, NF_INET_LOCAL_OUT, p, { host, clock, jit });
      }
    }
    const ours = rs.table(2, 't')!.chains.get('c')!.rules.map((r) => {
      const c = r.exprs.find((e) => e.type === 'counter');
      return c && c.type === 'counter' ? c.packets : -1;
    });
    const diff = RULES.map((r, i) => ({ rule: r, kernel: kernel[i], nfx: ours[i] })).filter((d) => d.kernel !== d.nfx);
    assert.deepEqual(diff, []);
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
});
