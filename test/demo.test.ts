/**
 * `nfx demo`: the office gateway (and the branch behind its tunnel,
 * test/demo-sites.test.ts) replaying the bundled capture. Every packet gets
 * its journey line; every drop names its reason and the rule, policy or
 * check behind it; masqueraded replies find their way back; the port
 * forward reaches the DMZ; the emitted traffic is a capture tshark reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_BRANCH, DEMO_CAPTURE, DEMO_GATEWAY, dropCause, dropsToExplain, explainHop, journeyLines, replayDemo } from '../src/cli/commands/demo.js';
import { writeDemoCapture } from '../bench/make-sites-capture.js';
import { withoutFlowtables } from '../src/demo/scenario.js';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function nfx(home: string, ...args: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

function tempHome(): string { return mkdtempSync(join(tmpdir(), 'nfx-demo-')); }

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** The demo's output once per test file: it is deterministic. */
let cached: { home: string; r: ReturnType<typeof nfx> } | undefined;
function demoRun(): { home: string; r: ReturnType<typeof nfx> } {
  if (!cached) { const home = tempHome(); cached = { home, r: nfx(home, 'demo') }; }
  return cached;
}
process.on('exit', () => { if (cached) rmSync(cached.home, { recursive: true, force: true }); });

function journey(stdout: string, index: number): string {
  const line = stdout.split('\n').find((l) => new RegExp(`^ *${index} (office|branch) +(lan0|dmz0|wan0|lab0) `).test(l));
  assert.ok(line, `no journey line for packet ${index}`);
  return line;
}

test('the bundled capture is exactly what bench/make-sites-capture.ts writes', async () => {
  const dir = tempHome();
  try {
    const out = join(dir, 'office.pcap');
    await writeDemoCapture(out);
    assert.deepEqual(readFileSync(out), readFileSync(DEMO_CAPTURE), 'regenerate with: node dist/bench/make-sites-capture.js');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the real nft accepts both gateways\' rulesets as nfx does', (t) => {
  if (!has('nft')) { t.skip('nft not installed'); return; }
  // `nft -c` asks the kernel: without nf_flow_table (this machine's) a flowtable is ENOENT, so
  // the rulesets are checked without their flowtables there and whole where the kernel has it.
  const probe = spawnSync('nft', ['-c', 'add table inet t; add flowtable inet t f { hook ingress priority 0; devices = { lo }; }'], { encoding: 'utf8' });
  const noFlowtables = probe.status !== 0 && /No such file or directory/.test(probe.stderr);
  if (noFlowtables) t.diagnostic('this kernel has no nf_flow_table: the rulesets are checked without their flowtables');
  for (const file of [DEMO_GATEWAY, DEMO_BRANCH]) {
    const script = readFileSync(file, 'utf8');
    const m = /<<'EOF_NFT'\n([\s\S]*?)\nEOF_NFT/.exec(script);
    assert.ok(m, 'the script has its nft here-document');
    const r = spawnSync('nft', ['-c', '-f', '-'], { input: noFlowtables ? withoutFlowtables(m[1]!) : m[1], encoding: 'utf8' });
    if (r.status !== 0 && /Operation not permitted|netlink/i.test(r.stderr)) { t.skip(`nft -c cannot run here: ${r.stderr.trim()}`); return; }
    assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  }
});

test('nfx demo exits 0, prints one journey line per packet, and runs in seconds', () => {
  const { r } = demoRun();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (let i = 1; i <= 58; i++) assert.match(journey(r.stdout, i), / → (decrypted, )?(forwarded|delivered|dropped)/);
  assert.match(r.stdout, /\n58 packets replayed; the gateways transmitted 53 frames; 41 from the office written to .*demo\/office-out\.pcap\n/);
  // About 1 s on an idle machine; the bound leaves room for a loaded CI runner.
  assert.ok(r.ms < 6000, `the demo took ${r.ms} ms`);
});

test('masqueraded traffic leaves with the WAN address and the replies come back to the LAN client', () => {
  const { r } = demoRun();
  assert.match(journey(r.stdout, 1), /192\.168\.1\.23\.53124 > 198\.51\.100\.53\.53: UDP.* → forwarded to wan0 as 203\.0\.113\.2\.53124 > 198\.51\.100\.53\.53$/);
  assert.match(journey(r.stdout, 2), /198\.51\.100\.53\.53 > 203\.0\.113\.2\.53124: .* → forwarded to lan0 as 198\.51\.100\.53\.53 > 192\.168\.1\.23\.53124$/);
  assert.match(journey(r.stdout, 4), /Flags \[S\.\].* → forwarded to lan0 as 198\.51\.100\.80\.443 > 192\.168\.1\.23\.51514$/);
  assert.match(journey(r.stdout, 13), /ICMP echo reply.* → forwarded to lan0 as 198\.51\.100\.80 > 192\.168\.1\.42$/);
});

test('an established connection\'s packets take the flowtable; its FIN goes back through the hooks', () => {
  const { r } = demoRun();
  // Packet 5 (the handshake's last ACK) offloads the connection; 6–8 take the fast path, both ways.
  assert.doesNotMatch(journey(r.stdout, 5), /fast path/);
  for (const i of [6, 7, 8]) assert.match(journey(r.stdout, i), / → forwarded to (wan0|lan0) as .* \(fast path: flowtable ft\)$/);
  assert.doesNotMatch(journey(r.stdout, 9), /fast path/, 'a FIN tears the flow down');
  // Not offloaded: ICMP, and the first packet of a connection.
  assert.doesNotMatch(journey(r.stdout, 12), /fast path/);
  assert.doesNotMatch(journey(r.stdout, 1), /fast path/);
});

test('the port forward takes the WAN visitor to the DMZ web server and the answers back out', () => {
  const { r } = demoRun();
  assert.match(journey(r.stdout, 15), /198\.51\.100\.7\.40123 > 203\.0\.113\.2\.8080: Flags \[S\].* → forwarded to dmz0 as 198\.51\.100\.7\.40123 > 10\.0\.2\.80\.80$/);
  assert.match(journey(r.stdout, 16), /10\.0\.2\.80\.80 > 198\.51\.100\.7\.40123: Flags \[S\.\].* → forwarded to wan0 as 203\.0\.113\.2\.8080 > 198\.51\.100\.7\.40123$/);
  assert.match(journey(r.stdout, 19), /length 65 → forwarded to wan0/);
});

test('every drop line names the kernel drop reason and the rule, policy or check', () => {
  const { r } = demoRun();
  const drops = r.stdout.split('\n').filter((l) => /^ *(\d+|↳) (office|branch) +\w+ .* → dropped/.test(l));
  // Twelve in the office's own story, eight of the tunnel's (two of them on the office after the wan wire).
  assert.equal(drops.length, 20);
  for (const l of drops) {
    assert.match(l, / → dropped: [A-Z_]+ by (rule handle \d+ of (inet|ip) \w+ \w+: .*(drop|reject)|the policy of (inet|ip) \w+ \w+|the check: .+)/, l);
  }
  assert.match(journey(r.stdout, 23), /→ dropped: NETFILTER_DROP by rule handle \d+ of inet filter prerouting: iifname "wan0" ip saddr @blocklist counter drop$/);
  assert.match(journey(r.stdout, 25), /203\.0\.113\.2\.22: Flags \[S\].* → dropped: NETFILTER_DROP by the policy of inet filter input$/);
  assert.match(journey(r.stdout, 31), /→ dropped: NETFILTER_DROP by rule handle \d+ of inet filter input: .*limit rate over 2\/second burst 4 packets counter drop$/);
  assert.match(journey(r.stdout, 30), /→ delivered; sent on wan0: IP 203\.0\.113\.2 > 198\.51\.100\.77: ICMP echo reply/);
  assert.match(journey(r.stdout, 37), /→ dropped: IP_INHDR by the check: TTL 1 expires here.*; sent on lan0: IP 192\.168\.1\.1 > 192\.168\.1\.23: ICMP time exceeded in-transit/);
  assert.match(journey(r.stdout, 40), /192\.168\.1\.42\.445: .* → dropped: NETFILTER_DROP by the policy of inet filter forward$/);
  assert.match(journey(r.stdout, 14), /ICMP6, echo request.* → delivered; sent on lan0: IP6 2001:db8:1::1 > 2001:db8:1::23: ICMP6, echo reply/);
});

test('the first rule drop and the first policy drop are explained in full, as nfx why explains them', () => {
  const { r } = demoRun();
  const sections = r.stdout.split(/\nWhy was packet /).slice(1);
  assert.equal(sections.length, 10, 'two of the office\'s story, eight of the tunnel\'s');
  assert.match(sections[0]!, /^23 dropped at the office gateway\? What "nfx -n office why --iif wan0" prints for it:[\s\S]*inet filter prerouting: rule handle \d+ matched → drop\n\s+iifname "wan0" ip saddr @blocklist counter drop\n[\s\S]*verdict: dropped — SKB_DROP_REASON_NETFILTER_DROP\n\s+by rule handle \d+ of chain inet filter prerouting \(hook prerouting\):\n\s+iifname "wan0" ip saddr @blocklist counter drop/);
  assert.match(sections[1]!, /^25 dropped at the office gateway\?[\s\S]*route lookup for 203\.0\.113\.2 from wan0: local[\s\S]*inet filter input: no rule decided; policy drop\n[\s\S]*verdict: dropped — SKB_DROP_REASON_NETFILTER_DROP\n\s+by the policy of chain inet filter input \(hook input\)/);
});

test('the counters show what each rule matched', () => {
  const { r } = demoRun();
  assert.match(r.stdout, /inet filter prerouting +2 packets +100 bytes +handle \d+ +iifname "wan0" ip saddr @blocklist counter drop/);
  assert.match(r.stdout, /inet filter input +6 packets +\d+ bytes +handle \d+ +iifname "wan0" icmp type echo-request limit rate over/);
  assert.match(r.stdout, /ip nat prerouting +1 packets +\d+ bytes +handle \d+ +iifname "wan0" tcp dport 8080 counter dnat to 10\.0\.2\.80:80/);
  // Four of the office's story, and the tunnel's first ESP packet (a new flow whose route is not IPsec's).
  assert.match(r.stdout, /ip nat postrouting +5 packets +\d+ bytes +handle \d+ +oifname "wan0" rt ipsec missing counter masquerade/);
});

test('the demo touches no saved host: only $NFX_HOME/demo/office-out.pcap is written', () => {
  const { home } = demoRun();
  assert.ok(existsSync(join(home, 'demo', 'office-out.pcap')));
  assert.ok(!existsSync(join(home, 'netns')), 'no netns directory is created');
});

test('tshark reads the emitted traffic without a warning, frame for frame, on every wire', (t) => {
  if (!has('tshark')) { t.skip('tshark not installed'); return; }
  const { home, r } = demoRun();
  assert.equal(r.status, 0);
  const counts: Record<string, number> = {
    'office-out.pcap': 41, 'wire-wan.pcap': 29, 'wire-office-lan0.pcap': 13, 'wire-office-dmz0.pcap': 6, 'wire-branch-lan0.pcap': 5,
  };
  for (const [file, n] of Object.entries(counts)) {
    const ts = spawnSync('tshark', ['-n', '-r', join(home, 'demo', file), '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-T', 'fields', '-E', 'occurrence=f', '-e', 'frame.number', '-e', 'ip.src', '-e', 'ip.dst', '-e', '_ws.expert.severity', '-e', 'icmp.type', '-e', '_ws.expert.message'], { encoding: 'utf8' });
    assert.equal(ts.status, 0, ts.stderr);
    assert.equal(ts.stderr.replace(/^Running as user "root".*\n/m, ''), '');
    const rows = ts.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.equal(rows.length, n, file);
    // Expert info (PI_WARN 0x00600000 and PI_ERROR 0x00800000: malformed, bad checksum) would show here —
    // except tshark's check of a TCP checksum inside an ICMP error's quote, which Linux cuts at
    // 548 bytes (icmp_send: 576 - 28), so that the whole segment's checksum cannot be verified.
    const severe = rows.filter((x) => x[3] && x[3].split(',').some((s) => Number(s) >= 0x00600000) && !(x[4] === '3' && /^Bad checksum/.test(x[5] ?? '')));
    assert.deepEqual(severe, [], file);
    if (file === 'office-out.pcap') assert.deepEqual(rows[0]!.slice(1, 3), ['203.0.113.2', '198.51.100.53'], 'the first frame out is the laptop\'s DNS query, masqueraded');
  }
});

test('every drop of the replay, on either gateway, carries a reason and is explained with its rule or check (library)', async () => {
  const rep = await replayDemo();
  assert.equal(rep.count, 58);
  const drops = rep.steps.flatMap((step) => step.hops.filter((h) => h.outcome.fate === 'dropped').map((hop) => ({ step, hop })));
  assert.equal(drops.length, 20);
  for (const d of drops) {
    const out = d.hop.outcome;
    assert.ok(out.reason, `packet ${d.step.index} has a drop reason`);
    assert.ok(out.dropBy, `packet ${d.step.index} names what dropped it`);
    const text = explainHop(rep.scenario, d).join('\n');
    assert.match(text, new RegExp(`verdict: dropped — SKB_DROP_REASON_${out.reason}\\n  by (rule handle \\d+ of chain .*:\\n    .+|the policy of chain .+|the stack's check: .+)`), text);
    const site = rep.scenario.sites.find((s) => s.name === d.hop.site)!;
    assert.doesNotMatch(dropCause(site.path, out), /no rule or check recorded/);
  }
  assert.deepEqual(dropsToExplain(rep.steps).map((e) => e.step.index), [23, 25, 46, 52, 53, 54, 55, 56, 57, 58]);
});

test('the replay is deterministic: lines and emitted bytes are the same every time', async () => {
  const a = await replayDemo(), b = await replayDemo();
  assert.deepEqual(a.steps.map((s) => journeyLines(a.scenario, s)), b.steps.map((s) => journeyLines(b.scenario, s)));
  assert.deepEqual(a.emitted.map((e) => [e.tsSec, e.tsNsec, Buffer.from(e.data).toString('hex')]),
    b.emitted.map((e) => [e.tsSec, e.tsNsec, Buffer.from(e.data).toString('hex')]));
});

test('nfx why on the gateway saved by nfx run explains the same drops', () => {
  const home = tempHome();
  try {
    assert.equal(nfx(home, 'netns', 'add', 'office').status, 0);
    const run = nfx(home, '-n', 'office', 'run', DEMO_GATEWAY);
    assert.equal(run.status, 0, run.stderr);
    const cases: [string, string, RegExp][] = [
      ['wan0', 'IP(src="192.0.2.13",dst="203.0.113.2")/TCP(sport=61000,dport=8080,flags="S")',
        /by rule handle \d+ of chain inet filter prerouting \(hook prerouting\):\n\s+iifname "wan0" ip saddr @blocklist counter drop/],
      ['wan0', 'IP(src="198.51.100.99",dst="203.0.113.2")/TCP(sport=50022,dport=22,flags="S")',
        /by the policy of chain inet filter input \(hook input\)/],
      ['dmz0', 'IP(src="10.0.2.80",dst="192.168.1.42")/TCP(sport=49152,dport=445,flags="S")',
        /by the policy of chain inet filter forward \(hook forward\)/],
      ['lan0', 'IP(src="192.168.1.23",dst="198.51.100.80",ttl=1)/UDP(sport=44444,dport=33434)',
        /SKB_DROP_REASON_IP_INHDR\n\s+by the stack's check: TTL 1 expires here/],
    ];
    for (const [dev, pkt, want] of cases) {
      const w = nfx(home, '-n', 'office', 'why', '--iif', dev, pkt);
      assert.equal(w.status, 0, w.stderr);
      assert.match(w.stdout, /verdict: dropped — SKB_DROP_REASON_/);
      assert.match(w.stdout, want, w.stdout);
    }
  } finally { rmSync(home, { recursive: true, force: true }); }
});
