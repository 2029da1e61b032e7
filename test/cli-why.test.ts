/** `nfx why`: the journey hook by hook, the deciding rule with its text and handle, the reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHost, saveHost } from '../src/host/store.js';
import { buildRuleset, rule } from '../src/host/path/testing.js';
import { hostClock, loadRuleset, SECTION_NFTABLES } from '../src/host/path/state.js';
import { serialize } from '../src/netfilter/ruleset.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function nfx(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function router(): string {
  const home = mkdtempSync(join(tmpdir(), 'nfx-why-'));
  for (const l of ['link set lo up', 'link add lan0 type ether', 'link add wan0 type ether', 'link set lan0 up', 'link set wan0 up',
    'addr add 10.0.1.1/24 brd + dev lan0', 'addr add 192.0.2.1/24 brd + dev wan0', 'route add default via 192.0.2.254']) {
    const r = nfx(home, 'ip', ...l.split(' '));
    assert.equal(r.status, 0, `${l}: ${r.stderr}${r.stdout}`);
  }
  assert.equal(nfx(home, 'sysctl', '-w', 'net.ipv4.ip_forward=1').status, 0);
  const ctx = { home, netns: 'default' };
  const host = loadHost(ctx);
  const clock = new VirtualClock();
  const rs = buildRuleset([
    { family: 2, table: 'filter', chain: 'forward', hook: 2, rules: [
      rule('[ counter pkts 0 bytes 0 ]', 'counter'),
      rule('[ meta load l4proto => reg 1 ]\n[ cmp eq reg 1 0x00000006 ]\n[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp eq reg 1 0x00001600 ]\n[ immediate reg 0 drop ]', 'tcp dport 22 drop'),
    ] },
    { family: 2, table: 'filter', chain: 'input', hook: 1, policy: 0, rules: [
      rule('[ payload load 1b @ network header + 9 => reg 1 ]\n[ cmp eq reg 1 0x00000011 ]\n[ immediate reg 0 drop ]'),
    ] },
  ], clock);
  host.sections[SECTION_NFTABLES] = serialize(rs, clock);
  saveHost(ctx, host);
  return home;
}

test('why names the hook, chain, rule text and handle that dropped the packet, and the reason', () => {
  const home = router();
  try {
    const r = nfx(home, 'why', '--iif', 'lan0', 'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=22,flags="S")');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^packet: IP 10\.0\.1\.2\.40000 > 198\.51\.100\.7\.22: Flags \[S\]/);
    assert.match(r.stdout, /route lookup for 198\.51\.100\.7 from lan0: unicast 0\.0\.0\.0\/0 via 192\.0\.2\.254 dev wan0/);
    assert.match(r.stdout, /TTL 64 → 63 \(decremented before FORWARD\)/);
    assert.match(r.stdout, /ip filter forward: rule handle \d+ matched → continue\n\s+counter\n/);
    assert.match(r.stdout, /verdict: dropped — SKB_DROP_REASON_NETFILTER_DROP\n  by rule handle \d+ of chain ip filter forward \(hook forward\):\n    tcp dport 22 drop\n/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('a rule without source text is shown as its bytecode; a policy drop is named as such', () => {
  const home = router();
  try {
    const udp = nfx(home, 'why', '--iif', 'lan0', 'IP(src="10.0.1.2",dst="10.0.1.1")/UDP(sport=1,dport=53)');
    assert.equal(udp.status, 0, udp.stderr);
    assert.match(udp.stdout, /by rule handle \d+ of chain ip filter input \(hook input\):\n    \[ payload load 1b @ network header \+ 9 => reg 1 \]\n    \[ cmp eq reg 1 0x00000011 \]\n    \[ immediate reg 0 drop \]/);
    const ping = nfx(home, 'why', '--iif', 'lan0', 'IP(src="10.0.1.2",dst="10.0.1.1")/ICMP()');
    assert.match(ping.stdout, /by the policy of chain ip filter input \(hook input\)/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('why explains a check of the stack and what the host sent back, and changes nothing', () => {
  const home = router();
  try {
    const r = nfx(home, 'why', '--iif', 'lan0', 'IP(src="10.0.1.2",dst="198.51.100.7",ttl=1)/TCP(sport=40000,dport=80,flags="S")');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /verdict: dropped — SKB_DROP_REASON_IP_INHDR\n  by the stack's check: TTL 1 expires here/);
    assert.match(r.stdout, /sent on lan0: IP 10\.0\.1\.1 > 10\.0\.1\.2: ICMP time exceeded in-transit/);
    const host = loadHost({ home, netns: 'default' });
    const c = loadRuleset(host, hostClock(host)).table(2, 'filter')!.chains.get('forward')!.rules[0]!.exprs[0] as CounterExpr;
    assert.equal(c.packets, 0);
    assert.equal(nfx(home, 'why', '--iif', 'lan0', 'IP()/TCP()', 'IP()/UDP()').status, 2, 'one packet only');
  } finally { rmSync(home, { recursive: true, force: true }); }
});
