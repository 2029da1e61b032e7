/**
 * `nfx demo`'s second site: the branch gateway (data/demo/branch.nfx) and
 * the office joined by an ESP tunnel across the wan wire. Traffic between
 * the two LANs is encrypted by one gateway, carried by the wire to the other
 * and decrypted there (tshark decrypts the wire's capture with the scripts'
 * keys); a packet too big for the tunnel gets ICMP fragmentation needed with
 * the tunnel's MTU; and every IPsec drop — no state (out and in), no policy,
 * policy block, replay, ICV failure, clear text where the tunnel is required
 * — is named on its journey line and explained by `why` with the check, the
 * policy or SA, and the /proc/net/xfrm_stat counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CAPTURE, DEMO_GATEWAY, dropsToExplain, explainHop, journeyLines, replayDemo, xfrmStatLines } from '../src/cli/commands/demo.js';
import type { DemoReplay } from '../src/cli/commands/demo.js';
import { readCapture } from '../src/packet/pcap/index.js';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function nfx(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function has(cmd: string): boolean { return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0; }

let cached: Promise<DemoReplay> | undefined;
function demo(): Promise<DemoReplay> { return (cached ??= replayDemo()); }

async function lines(index: number): Promise<string[]> {
  const rep = await demo();
  const s = rep.steps.find((x) => x.index === index);
  assert.ok(s, `no packet ${index}`);
  return journeyLines(rep.scenario, s);
}

async function why(index: number): Promise<string> {
  const rep = await demo();
  const e = dropsToExplain(rep.steps).find((x) => x.step.index === index);
  assert.ok(e, `packet ${index} is not explained`);
  return explainHop(rep.scenario, e).join('\n');
}

test('the office encrypts LAN traffic for the branch; the wan wire carries it; the branch decrypts and forwards it', async () => {
  const l = await lines(41);
  assert.equal(l.length, 2);
  assert.match(l[0]!, /^ 41 office lan0 +IP 192\.168\.1\.23\.49320 > 192\.168\.2\.10\.445: Flags \[S\].* → forwarded to wan0 in ESP 203\.0\.113\.2 > 203\.0\.113\.30 spi 0x00001001 seq 1$/);
  assert.match(l[1]!, /^ +↳ branch wan0 +IP 203\.0\.113\.2 > 203\.0\.113\.30: ESP\(spi=0x00001001,seq=0x1\).* → decrypted, forwarded to lan0 as 192\.168\.1\.23\.49320 > 192\.168\.2\.10\.445$/);
  // The answer goes the other way through the other SA.
  const back = await lines(42);
  assert.match(back[0]!, /^ 42 branch lan0 .* → forwarded to wan0 in ESP 203\.0\.113\.30 > 203\.0\.113\.2 spi 0x00002001 seq 1$/);
  assert.match(back[1]!, /↳ office wan0 .* → decrypted, forwarded to lan0 as 192\.168\.2\.10\.445 > 192\.168\.1\.23\.49320$/);
});

test('a ping to the branch gateway itself crosses the wire twice: the branch answers through the tunnel', async () => {
  const l = await lines(51);
  assert.equal(l.length, 3);
  assert.match(l[1]!, /↳ branch wan0 .* → decrypted, delivered; sent on wan0: IP 203\.0\.113\.30 > 203\.0\.113\.2: ESP\(spi=0x00002001/);
  assert.match(l[2]!, /^ {10}↳ office wan0 .* → decrypted, forwarded to lan0 as 192\.168\.2\.1 > 192\.168\.1\.23$/);
});

test('a 1500-byte DF packet does not fit the tunnel: ICMP fragmentation needed with MTU 1446; the 1446-byte resend goes through', async () => {
  const [l] = await lines(46);
  assert.match(l!, /→ dropped: PKT_TOO_BIG by the check: ip_forward: 1500 bytes with DF over the IPsec path MTU 1446: route MTU 1500 less the ESP overhead of SA 0x00001001 \(xfrm_state_mtu\); sent on lan0: IP 192\.168\.1\.1 > 192\.168\.1\.23: ICMP 192\.168\.2\.10 unreachable - need to frag \(mtu 1446\)/);
  const resend = await lines(47);
  assert.match(resend[0]!, /length 1406 → forwarded to wan0 in ESP/);
  assert.match(resend[1]!, /ESP\(spi=0x00001001,seq=0x4\), length 1480 → decrypted, forwarded to lan0/, 'a 1500-byte ESP packet: exactly the link MTU');
});

/** Each IPsec drop of the capture: the packet, the host whose check dropped it, the counter and what `why` must say. */
const IPSEC_DROPS: [number, string, string, RegExp][] = [
  [52, 'office', 'XfrmOutNoStates', /forward policy lookup: no SA for the policy template — policy index \d+ \(src 192\.168\.1\.0\/24 dst 192\.168\.3\.0\/24 dir out priority 2000 tmpl esp tunnel 203\.0\.113\.2 > 203\.0\.113\.40 reqid 3\)/],
  [53, 'office', 'XfrmInNoStates', /no SA for ESP spi 0x00002000 seq 4711 to 203\.0\.113\.2 \(xfrm_state_lookup by daddr, SPI, proto, mark\); the SAs to that address are 0x00002001/],
  [54, 'office', 'XfrmInNoPols', /10\.99\.0\.7 > 192\.168\.1\.42 came through SA 0x00002001 \(esp tunnel 203\.0\.113\.30 > 203\.0\.113\.2 reqid 2\) and no policy covers it \(xfrm_policy_check dir fwd\)/],
  [55, 'office', 'XfrmInPolBlock', /192\.168\.2\.200\.50200 > 192\.168\.1\.42\.3389 is refused by policy index \d+ \(src 192\.168\.2\.128\/25 dst 192\.168\.1\.0\/24 dir fwd priority 1000 action block\)/],
  [56, 'office', 'XfrmInStateSeqError', /replayed or left of the replay window \(ESP spi 0x00002001 seq 1 to 203\.0\.113\.2\): sequence number 1 was already received \(window of 128 packets, top 7\)/],
  [57, 'office', 'XfrmInStateProtoError', /ICV mismatch \(ESP spi 0x00002001 seq 8 to 203\.0\.113\.2\): the packet was changed on the way or not made with this SA's key, so nothing of it is delivered and the replay window does not move/],
  [58, 'office', 'XfrmInTmplMismatch', /192\.168\.2\.50 > 192\.168\.1\.42 arrived in clear, but policy index \d+ \(src 192\.168\.2\.0\/24 dst 192\.168\.1\.0\/24 dir fwd priority 2000 tmpl esp tunnel 203\.0\.113\.30 > 203\.0\.113\.2 reqid 2\) requires IPsec/],
];

test('every IPsec drop is on its journey line with the xfrm_stat counter, and why explains it with the check, the policy or SA', async () => {
  for (const [index, site, counter, detail] of IPSEC_DROPS) {
    const l = (await lines(index)).join('\n');
    assert.match(l, new RegExp(`(\\d+|↳) ${site} .* → dropped: (XFRM_POLICY|NOT_SPECIFIED) by the check: xfrm ${counter}: `), l);
    assert.match(l, detail, l);
    const text = await why(index);
    assert.match(text, new RegExp(`verdict: dropped — SKB_DROP_REASON_(XFRM_POLICY|NOT_SPECIFIED)\\n  by the stack's check: xfrm ${counter}: `), text);
    assert.match(text, detail, text);
  }
});

test('why shows the decryption before a drop of the decrypted packet, and the policy refusals carry SKB_DROP_REASON_XFRM_POLICY', async () => {
  const text = await why(54);
  assert.match(text, /from: +received on office's wan0 from the wan wire/);
  assert.match(text, /xfrm input: ESP spi 0x00002001 seq 6 to 203\.0\.113\.2\n.*xfrm: decrypted by SA 0x00002001 reqid 2 \(tunnel mode\), \d+ bytes re-enter the stack on wan0 with a secpath of 1\n.*IPv4 10\.99\.0\.7 > 192\.168\.1\.42/);
  assert.match(await why(55), /SKB_DROP_REASON_XFRM_POLICY/);
  // Drops inside xfrm_input free the packet with plain kfree_skb().
  assert.match(await why(56), /SKB_DROP_REASON_NOT_SPECIFIED/);
});

test('the office counts each IPsec drop once in /proc/net/xfrm_stat; the replayed and corrupted packets are counted on the SA', async () => {
  const rep = await demo();
  assert.deepEqual(xfrmStatLines(rep.scenario.office).sort(), [
    'XfrmInNoPols 1', 'XfrmInNoStates 1', 'XfrmInPolBlock 1', 'XfrmInStateProtoError 1', 'XfrmInStateSeqError 1', 'XfrmInTmplMismatch 1', 'XfrmOutNoStates 1',
  ]);
  assert.deepEqual(xfrmStatLines(rep.scenario.branch), []);
  const sa = rep.scenario.office.path.xfrmState!.sad.states.find((s) => s.spi === 0x2001)!;
  assert.equal(sa.stats.replay, 1);
  assert.equal(sa.stats.integrityFailed, 1);
});

test('the replayed packet is a byte-for-byte copy of the branch\'s first ESP packet on the wan wire', async () => {
  const recs: Uint8Array[] = [];
  for await (const r of readCapture(DEMO_CAPTURE)) recs.push(r.data.slice());
  const wire: Uint8Array[] = [];
  await replayDemo({ onFrame: (f) => { if (f.site === 'branch' && f.wire === 'wan') wire.push(f.rec.data); } });
  assert.ok(wire.length > 0);
  assert.deepEqual(Buffer.from(recs[55]!), Buffer.from(wire[0]!));
});

test('tshark decrypts the tunnel on the wan wire with the scripts\' keys: the inner packets are the LANs\'', async (t) => {
  if (!has('tshark')) { t.skip('tshark not installed'); return; }
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-sites-'));
  try {
    assert.equal(nfx(home, 'demo').status, 0);
    // The keys, as the scripts give them to `ip xfrm state add`.
    const keys = [...readFileSync(DEMO_GATEWAY, 'utf8').matchAll(/spi (0x[0-9a-f]+) reqid \d+ mode tunnel \\\n\s+flag esn replay-window 128 aead 'rfc4106\(gcm\(aes\)\)' (0x[0-9a-f]+) 128/g)];
    assert.equal(keys.length, 2);
    const cfg = join(home, 'ws');
    spawnSync('mkdir', ['-p', cfg]);
    writeFileSync(join(cfg, 'esp_sa'), keys.map(([, spi, key]) => `"IPv4","*","*","${spi}","AES-GCM with 16 octet ICV [RFC4106]","${key}","NULL",""`).join('\n') + '\n');
    const ts = spawnSync('tshark', ['-n', '-r', join(home, 'demo', 'wire-wan.pcap'), '-o', 'esp.enable_encryption_decode:TRUE', '-Y', 'esp',
      '-T', 'fields', '-E', 'occurrence=l', '-e', 'esp.spi', '-e', 'ip.src', '-e', 'ip.dst'], { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: cfg } });
    assert.equal(ts.status, 0, ts.stderr);
    const rows = ts.stdout.trim().split('\n').map((l) => l.split('\t'));
    // ESP on the wire: office → branch and branch → office, inner addresses from the two LANs (and the lab).
    assert.equal(rows.length, 13, 'six ESP packets office → branch, seven branch → office');
    for (const [spi, src, dst] of rows) {
      const inner = `${src} > ${dst}`;
      if (spi === '0x00001001') assert.match(inner, /^192\.168\.1\.\d+ > 192\.168\.2\.\d+$/, inner);
      else assert.match(inner, /^(192\.168\.2|10\.99\.0)\.\d+ > 192\.168\.1\.\d+$/, inner);
    }
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('nfx why on the office saved by nfx run explains the IPsec drops a packet alone can show', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-sites-why-'));
  try {
    assert.equal(nfx(home, 'netns', 'add', 'office').status, 0);
    const run = nfx(home, '-n', 'office', 'run', DEMO_GATEWAY);
    assert.equal(run.status, 0, run.stderr);
    const cases: [string, string, RegExp][] = [
      ['wan0', 'IP(src="192.168.2.50",dst="192.168.1.42")/ICMP()', /SKB_DROP_REASON_XFRM_POLICY\n\s+by the stack's check: xfrm XfrmInTmplMismatch: forward policy check: 192\.168\.2\.50 > 192\.168\.1\.42 arrived in clear/],
      ['lan0', 'IP(src="192.168.1.23",dst="192.168.3.20")/TCP(dport=443,flags="S")', /by the stack's check: xfrm XfrmOutNoStates: forward policy lookup: no SA for the policy template/],
      ['lan0', `IP(src="192.168.1.23",dst="192.168.2.10",flags="DF")/UDP(dport=9)/Raw(load=b"${'x'.repeat(1472)}")`, /SKB_DROP_REASON_PKT_TOO_BIG\n\s+by the stack's check: ip_forward: 1500 bytes with DF over the IPsec path MTU 1446[\s\S]*sent on lan0: .*need to frag \(mtu 1446\)/],
      ['wan0', 'IP(src="203.0.113.30",dst="203.0.113.2")/ESP(spi=0x2000,seq=1)/Raw(load=b"0123456789abcdef0123456789abcdef")', /by the stack's check: xfrm XfrmInNoStates: no SA for ESP spi 0x00002000/],
    ];
    for (const [dev, pkt, want] of cases) {
      const w = nfx(home, '-n', 'office', 'why', '--iif', dev, pkt);
      assert.equal(w.status, 0, w.stderr);
      assert.match(w.stdout, want, w.stdout);
    }
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('the tunnel\'s efficiency: inner packets and bytes each gateway handed its SA, outer ESP packets and bytes on the wan wire', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-sites-eff-'));
  try {
    const r = nfx(home, 'demo');
    assert.equal(r.status, 0, r.stderr);
    // ESP tunnel mode: one outer packet per inner packet, 20 + 8 + 8 + 16 bytes and padding more each.
    assert.match(r.stdout, /\nThe tunnel on the wan wire \(ESP tunnel mode\):\n {2}office → branch: 6 inner packets \(1729 bytes\) in 6 outer ESP packets \(2064 bytes\): efficiency 83\.8 %\n {2}branch → office: 7 inner packets \(414 bytes\) in 7 outer ESP packets \(808 bytes\): efficiency 51\.2 %\n/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('nfx demo --iptfs runs the tunnel in IP-TFS mode: packets are packed together, the full-size packet is split instead of refused', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-sites-iptfs-'));
  try {
    const r = nfx(home, 'demo', '--iptfs');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /tunnel: IP-TFS \(RFC 9347\) over ESP rfc4106\(gcm\(aes\)\)/);
    const line = (i: number): string => r.stdout.split('\n').find((l) => new RegExp(`^ *${i} (office|branch) `).test(l)) ?? '';
    // Decrypted inner packets carry their secpath: the branch's `meta ipsec exists` rule forwards them.
    assert.match(r.stdout, /\n 41 office lan0 .*\n +↳ branch wan0 .* → decrypted, forwarded to lan0 as 192\.168\.1\.23\.49320 > 192\.168\.2\.10\.445\n/);
    // The ACK (43) and the request right behind it (44) leave in one outer packet.
    assert.match(line(44), /→ forwarded into the IP-TFS queue, sent packed with an earlier packet$/);
    // The 1500-byte DF packet is split over two outer packets (RFC 9347 §2.2): no ICMP, no drop.
    assert.match(line(46), /length 1460 → forwarded to wan0 in ESP 203\.0\.113\.2 > 203\.0\.113\.30 spi 0x00001001 seq 3 and seq 4$/);
    assert.doesNotMatch(r.stdout, /PKT_TOO_BIG/);
    assert.match(r.stdout, /\nThe tunnel on the wan wire \(IP-TFS\):\n {2}office → branch: 7 inner packets \(3229 bytes\) in 8 outer ESP packets \(3704 bytes\): efficiency 87\.2 %\n {2}branch → office: 7 inner packets \(414 bytes\) in 7 outer ESP packets \(836 bytes\): efficiency 49\.5 %\n/);
    // The IPsec drops are the same drops, explained the same way.
    const sections = r.stdout.split(/\nWhy was packet /).slice(1).map((x) => Number(/^\d+/.exec(x)?.[0]));
    assert.deepEqual(sections, [23, 25, 52, 53, 54, 55, 56, 57, 58]);
  } finally { rmSync(home, { recursive: true, force: true }); }
});
