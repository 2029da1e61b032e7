/** `nfx inject`: the JSON contract of CLI.md, state kept between runs, pcap output, usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHost, saveHost } from '../src/host/store.js';
import { buildRuleset, rule } from '../src/host/path/testing.js';
import { loadRuleset, hostClock, SECTION_NFTABLES } from '../src/host/path/state.js';
import { serialize } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';
import { readCaptureSync } from '../src/packet/pcap/index.js';
import { readFileSync } from 'node:fs';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function nfx(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SETUP = [
  'link set lo up', 'link add lan0 type ether address 02:00:00:00:01:01', 'link add wan0 type ether address 02:00:00:00:02:01',
  'link set lan0 up', 'link set wan0 up', 'addr add 10.0.1.1/24 brd + dev lan0', 'addr add 192.0.2.1/24 brd + dev wan0',
  'route add default via 192.0.2.254', 'neigh add 192.0.2.254 lladdr 02:00:00:00:02:fe dev wan0 nud permanent',
];

/** A router host `r` in a fresh NFX_HOME, with a forward chain: a counter, then `tcp dport 22 drop`. */
function router(): string {
  const home = mkdtempSync(join(tmpdir(), 'nfx-inject-'));
  const add = nfx(home, 'netns', 'add', 'r');
  assert.equal(add.status, 0, add.stderr);
  for (const l of SETUP) { const r = nfx(home, '-n', 'r', 'ip', ...l.split(' ')); assert.equal(r.status, 0, `${l}: ${r.stderr}`); }
  assert.equal(nfx(home, '-n', 'r', 'sysctl', '-w', 'net.ipv4.ip_forward=1').status, 0);
  const ctx = { home, netns: 'r' };
  const host = loadHost(ctx);
  const clock = new VirtualClock();
  const rs = buildRuleset([{ family: 1, table: 'filter', chain: 'forward', hook: 2, rules: [
    rule('[ counter pkts 0 bytes 0 ]', 'counter'),
    rule('[ meta load l4proto => reg 1 ]\n[ cmp eq reg 1 0x00000006 ]\n[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp eq reg 1 0x00001600 ]\n[ immediate reg 0 drop ]'),
  ] }], clock);
  host.sections[SECTION_NFTABLES] = serialize(rs, clock);
  saveHost(ctx, host);
  return home;
}

const SSH = 'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=22,flags="S")';
const WEB = 'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="S")';

test('--json prints one object per packet with index, fate, reason, emitted and trace', () => {
  const home = router();
  try {
    const r = nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', '--json', WEB, SSH);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    const [web, ssh] = lines as [Record<string, any>, Record<string, any>];
    assert.equal(web.index, 0);
    assert.equal(web.fate, 'forwarded');
    assert.equal(web.reason, undefined);
    assert.deepEqual(web.emitted.map((e: { dev: string }) => e.dev), ['wan0']);
    assert.match(web.emitted[0].hex, /^0200000002fe020000000201080045/);
    assert.deepEqual(Object.keys(web.trace[0]).sort(), ['chain', 'family', 'handle', 'hook', 'table', 'verdict']);
    assert.deepEqual(web.trace.map((t: any) => [t.hook, t.family, t.table, t.chain, t.verdict]), [
      ['forward', 'inet', 'filter', 'forward', 'continue'], ['forward', 'inet', 'filter', 'forward', 'accept'],
    ]);
    assert.equal(web.trace[1].handle, null, 'the policy has handle null');
    assert.equal(ssh.index, 1);
    assert.equal(ssh.fate, 'dropped');
    assert.equal(ssh.reason, 'NETFILTER_DROP');
    assert.deepEqual(ssh.emitted, []);
    assert.equal(ssh.trace.at(-1).verdict, 'drop');
    assert.equal(typeof ssh.trace.at(-1).handle, 'number');
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('the host keeps its state: counters count across runs', () => {
  const home = router();
  try {
    assert.equal(nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', WEB).status, 0);
    const r = nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', WEB);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0 IP 10\.0\.1\.2\.40000 > 198\.51\.100\.7\.80: .*: forwarded; sent wan0\n$/);
    const host = loadHost({ home, netns: 'r' });
    const rs = loadRuleset(host, hostClock(host));
    const c = rs.table(1, 'filter')!.chains.get('forward')!.rules[0]!.exprs[0] as CounterExpr;
    assert.deepEqual([c.packets, c.bytes], [2, 80]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('-w writes every emitted frame to a pcap; a drop line names the rule', () => {
  const home = router();
  const out = join(home, 'out.pcap');
  try {
    const r = nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', '-w', out, WEB, SSH, 'IP(src="10.0.1.2",dst="10.0.1.1")/ICMP()');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[1]!, /dropped \(NETFILTER_DROP\) by inet filter forward handle \d+ at forward/);
    assert.match(lines[2]!, /delivered; sent lan0/);
    const recs = readCaptureSync(new Uint8Array(readFileSync(out)));
    assert.equal(recs.length, 2);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('usage errors exit 2; an unknown device exits 1 and changes nothing', () => {
  const home = router();
  try {
    assert.equal(nfx(home, '-n', 'r', 'inject', WEB).status, 2);
    assert.equal(nfx(home, '-n', 'r', 'inject', '--iif', 'lan0').status, 2);
    const r = nfx(home, '-n', 'r', 'inject', '--iif', 'nope0', WEB);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Cannot find device "nope0"/);
    const bad = nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', WEB, 'IP(src=');
    assert.equal(bad.status, 1);
    const host = loadHost({ home, netns: 'r' });
    const c = loadRuleset(host, hostClock(host)).table(1, 'filter')!.chains.get('forward')!.rules[0]!.exprs[0] as CounterExpr;
    assert.equal(c.packets, 0, 'a failed command saves nothing');
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('conntrack entries persist between runs: the reply of an earlier run is established', () => {
  const home = router();
  try {
    const ctx = { home, netns: 'r' };
    const host = loadHost(ctx);
    const clock = new VirtualClock();
    const rs = buildRuleset([{ family: 1, table: 'filter', chain: 'forward', hook: 2, rules: [
      rule('[ ct load state => reg 1 ]\n[ bitwise reg 1 = ( reg 1 & 0x00000001 ) ^ 0x00000000 ]\n[ cmp neq reg 1 0x00000000 ]\n[ immediate reg 0 drop ]', 'ct state invalid drop'),
    ] }], clock);
    host.sections[SECTION_NFTABLES] = serialize(rs, clock);
    saveHost(ctx, host);
    const SYNACK = 'IP(src="198.51.100.7",dst="10.0.1.2")/TCP(sport=80,dport=40000,flags="SA",seq=10,ack=1)';
    const before = nfx(home, '-n', 'r', 'why', '--iif', 'wan0', SYNACK);
    assert.match(before.stdout, /conntrack \(-200\): invalid/);
    assert.equal(nfx(home, '-n', 'r', 'inject', '--iif', 'lan0', WEB).status, 0);
    const after = nfx(home, '-n', 'r', 'why', '--iif', 'wan0', SYNACK);
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /conntrack \(-200\): established reply/);
    assert.match(after.stdout, /verdict: forwarded/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('IP-TFS: queued packets get their fate when the queue is sent, lines stay in input order', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-inject-iptfs-'));
  try {
    assert.equal(nfx(home, 'netns', 'add', 'a').status, 0);
    const key = '0x' + 'ab'.repeat(20);
    for (const l of [
      'link set lo up', 'link add lan0 type ether address 02:00:00:00:1a:01', 'link add wan0 type ether address 02:00:00:00:0a:02',
      'link set lan0 up', 'link set wan0 up', 'addr add 10.0.1.1/24 brd + dev lan0', 'addr add 192.0.2.1/24 brd + dev wan0',
      'route add 10.0.2.0/24 via 192.0.2.2 dev wan0', 'neigh add 192.0.2.2 lladdr 02:00:00:00:0b:02 dev wan0 nud permanent',
      `xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode iptfs aead rfc4106(gcm(aes)) ${key} 128 dir out iptfs-opts init-delay 0 pkt-size 1400`,
      'xfrm policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode iptfs',
    ]) { const r = nfx(home, '-n', 'a', 'ip', ...l.split(' ')); assert.equal(r.status, 0, `${l}: ${r.stderr}`); }
    assert.equal(nfx(home, '-n', 'a', 'sysctl', '-w', 'net.ipv4.ip_forward=1').status, 0);
    const pkts = [1, 2, 3].map((i) => `Ether(dst='02:00:00:00:1a:01', src='02:00:00:00:99:05')/IP(src='10.0.1.5', dst='10.0.2.9')/UDP(sport=${1000 + i}, dport=53)/Raw(load='${'x'.repeat(40 * i)}')`);
    const r = nfx(home, '-n', 'a', 'inject', '--iif', 'lan0', '--json', ...pkts);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; fate: string; emitted: { dev: string; hex: string }[] });
    assert.deepEqual(lines.map((l) => l.index), [0, 1, 2]);
    assert.deepEqual(lines.map((l) => l.fate), ['forwarded', 'forwarded', 'forwarded'], 'no packet is left queued once the input ends');
    // init-delay 0 and one instant: the three inner packets leave as one aggregate on wan0.
    const frames = lines.flatMap((l) => l.emitted);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.dev, 'wan0');
    const outer = Buffer.from(frames[0]!.hex, 'hex');
    assert.equal(outer[14 + 9], 50, 'the outer packet is ESP');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
