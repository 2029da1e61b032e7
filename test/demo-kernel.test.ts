/**
 * The demo against the Linux kernel: the same office gateway
 * (data/demo/gateway.nfx, its `ip`/`sysctl` lines run by the real iproute2
 * and its ruleset loaded by the real nft) built in a network namespace with
 * veth ports, the office's part of the bundled capture (its first forty
 * frames: the tunnel's part needs ESP, which this kernel lacks, so the
 * script's `ip xfrm` lines are left out too) sent into it from a peer namespace, and every frame the kernel's
 * gateway transmits captured — compared, port by port, with the frames nfx's
 * replay emits. Fields the kernel randomises (the IPv4 ID of its own non-DF
 * packets with the header checksum over it, the IPv6 flow label of its own
 * packets) are masked. The ruleset's counters (`nft -a list ruleset`) must
 * agree too, so every drop was the same drop. Needs root, `ip`, `nft` and
 * Debian's scapy; the test creates and removes its own namespaces and sends
 * nothing outside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScript } from '../src/host/script.js';
import { withoutFlowtables } from '../src/demo/scenario.js';
import { counterLines, DEMO_GATEWAY, parseCounters, replayDemo } from '../src/cli/commands/demo.js';
import { officeRecords, OFFICE, OFFICE_EPOCH, writeOfficeOnlyCapture } from '../bench/make-office-capture.js';

const PY = '/usr/bin/python3';

function sh(cmd: string[], input?: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 120_000, maxBuffer: 64 << 20 });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (sh(['ip', '-V']).status !== 0) return 'ip (iproute2) not installed';
  if (sh(['nft', '--version']).status !== 0) return 'nft not installed';
  if (sh([PY, '-c', 'import scapy.all']).status !== 0) return 'scapy not installed for /usr/bin/python3';
  return undefined;
}

/** The peer ends of the gateway's ports, in the peer namespace. */
const PEER_OF: Record<string, string> = { lan0: 'plan', dmz0: 'pdmz', wan0: 'pwan' };
const PORT_OF_PEER: Record<string, string> = { plan: 'lan0', pdmz: 'dmz0', pwan: 'wan0' };
const GATEWAY_MACS: string[] = [OFFICE.lan0, OFFICE.dmz0, OFFICE.wan0];

/**
 * Sends each frame on its peer interface at the capture's pace (gaps capped
 * at 20 ms: only the ping flood's 10 ms spacing matters to the rules) and
 * prints every unicast frame the gateway transmitted, as `IFACE HEX`.
 */
const PLAYER = `
import sys, time
from scapy.all import Ether, AsyncSniffer, sendp, conf
conf.verb = 0
gw = set(bytes.fromhex(m.replace(':', '')) for m in sys.argv[1].split(','))
plan = [l.split() for l in sys.stdin.read().split('\\n') if l.strip()]
s = AsyncSniffer(iface=['plan', 'pdmz', 'pwan'], store=True,
                 lfilter=lambda p: bytes(p)[6:12] in gw and bytes(p)[0] & 1 == 0)
s.start(); time.sleep(0.5)
for gap, iface, hx in plan:
    time.sleep(float(gap))
    sendp(Ether(bytes.fromhex(hx)), iface=iface)
time.sleep(0.8)
for p in s.stop():
    print(p.sniffed_on, bytes(p).hex())
`;

/** Masks what the kernel randomises in the packets it makes itself. */
/** The frame cut to its IP datagram (the padding a short frame arrived with, which the flowtable forwards). */
function unpad(b: Buffer): Buffer {
  if (b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) return b.subarray(0, 14 + b.readUInt16BE(16));
  if (b.length >= 54 && b[12] === 0x86 && b[13] === 0xdd) return b.subarray(0, 54 + b.readUInt16BE(18));
  return b;
}

function mask(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  if (b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) {
    const ownSource = b.subarray(26, 30).equals(Buffer.from([203, 0, 113, 2])) || b.subarray(26, 30).equals(Buffer.from([192, 168, 1, 1]));
    const icmp = b[23] === 1;
    // The gateway's own ICMP (echo replies, time exceeded): not DF, so the kernel picks the ID.
    if (ownSource && icmp && (b[20]! & 0x40) === 0) { b[18] = 0; b[19] = 0; b[24] = 0; b[25] = 0; }
  }
  if (b.length >= 54 && b[12] === 0x86 && b[13] === 0xdd) {
    // The automatic flow label hashes the flow with a per-boot random seed.
    b[15] = b[15]! & 0xf0; b[16] = 0; b[17] = 0;
  }
  return b.toString('hex');
}

test('the demo gateway in a real kernel transmits the same frames as nfx (masked fields aside)', async (t) => {
  const why = cannotRun();
  if (why) { t.skip(why); return; }
  const id = `nfxdemo${process.pid}`;
  const R = `${id}r`, P = `${id}p`;
  const inR = (...c: string[]): void => { const r = sh(['ip', 'netns', 'exec', R, ...c]); assert.equal(r.status, 0, `${c.join(' ')}: ${r.err}`); };
  const inP = (...c: string[]): void => { const r = sh(['ip', 'netns', 'exec', P, ...c]); assert.equal(r.status, 0, `${c.join(' ')}: ${r.err}`); };
  try {
    assert.equal(sh(['ip', 'netns', 'add', R]).status, 0);
    assert.equal(sh(['ip', 'netns', 'add', P]).status, 0);
    // Addresses usable at once, links quiet: no DAD, no router solicitations.
    for (const k of ['accept_dad=0', 'dad_transmits=0', 'router_solicitations=0', 'accept_ra=0']) {
      for (const scope of ['default', 'all']) inR('sysctl', '-qw', `net.ipv6.conf.${scope}.${k}`);
    }
    inP('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
    inP('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
    // The script's `ip link add NAME address MAC type ether` becomes a veth with that MAC whose
    // peer end sits in the peer namespace; every other line runs as written.
    const script = parseScript(readFileSync(DEMO_GATEWAY, 'utf8'));
    for (const l of script) {
      const w = l.words;
      if (w[0] === 'ip' && w[1] === 'link' && w[2] === 'add') {
        const name = w[3]!, mac = w[w.indexOf('address') + 1]!;
        inR('ip', 'link', 'add', name, 'address', mac, 'type', 'veth', 'peer', 'name', PEER_OF[name]!, 'netns', P);
        continue;
      }
      // This kernel has no nf_flow_table: both sides run the gateway without its flowtable (the
      // slow path for every packet); the fast path is checked against the slow path (path-flowtable.test.ts).
      if (w[0] === 'nft') { const r = sh(['ip', 'netns', 'exec', R, 'nft', '-f', '-'], withoutFlowtables(l.stdin ?? '')); assert.equal(r.status, 0, r.err); continue; }
      // The tunnel: no ESP in this kernel, and none of the office-only traffic meets its policies.
      if (w[0] === 'ip' && w[1] === 'xfrm') continue;
      inR(...w);
    }
    for (const p of Object.values(PEER_OF)) inP('ip', 'link', 'set', p, 'up');
    // The peer's own stack stays out of it: its sniffers see frames before this hook drops them.
    inP('nft', `add table netdev q; ${Object.values(PEER_OF).map((p) => `add chain netdev q ${p} { type filter hook ingress device ${p} priority 0; policy drop; };`).join(' ')}`);

    const records = officeRecords();
    const lines: string[] = [];
    let prev = OFFICE_EPOCH * 1000;
    for (const r of records) {
      const ms = r.tsSec * 1000 + r.tsNsec / 1e6;
      const frame = Buffer.from(r.data);
      const port = GATEWAY_MACS.indexOf(frame.subarray(0, 6).toString('hex').replace(/(..)(?!$)/g, '$1:'));
      assert.ok(port >= 0, 'every frame is addressed to a gateway port');
      lines.push(`${Math.min(ms - prev, 20) / 1000} ${Object.values(PEER_OF)[port]} ${frame.toString('hex')}`);
      prev = ms;
    }
    const k = sh(['ip', 'netns', 'exec', P, PY, '-c', PLAYER, GATEWAY_MACS.join(',')], lines.join('\n'));
    assert.equal(k.status, 0, k.err);
    const kernel = k.out.trim().split('\n').filter(Boolean).map((l) => { const [i, hx] = l.split(' '); return `${PORT_OF_PEER[i!]} ${mask(hx!)}`; }).sort();

    const dir = mkdtempSync(join(tmpdir(), 'nfx-demo-kernel-'));
    const capture = join(dir, 'office-only.pcap');
    await writeOfficeOnlyCapture(capture);
    const rep = await replayDemo({ capture, withoutFlowtables: true });
    // The gateway as written, flowtable and all: its fast path must send what the kernel's slow path
    // sent, but for the Ethernet padding of short frames, which nf_flow_offload_ip_hook() keeps (ip_rcv trims it).
    const withFt = await replayDemo({ capture });
    rmSync(dir, { recursive: true, force: true });
    const ours = rep.steps.flatMap((s) => s.outcome.emitted.map((e) => `${e.dev} ${mask(Buffer.from(e.frame).toString('hex'))}`)).sort();
    const oursFt = withFt.steps.flatMap((s) => s.outcome.emitted.map((e) => `${e.dev} ${mask(unpad(Buffer.from(e.frame)).toString('hex'))}`)).sort();
    assert.ok(withFt.steps.some((s) => s.outcome.steps.some((x) => x.kind === 'flow' && /fast path/.test(x.text))), 'the flowtable took some packets');
    assert.deepEqual(oursFt, kernel, 'with its flowtable, nfx sends the frames the kernel sent without one');

    const kSet = new Map<string, number>();
    for (const x of kernel) kSet.set(x, (kSet.get(x) ?? 0) + 1);
    let agree = 0;
    const onlyOurs: string[] = [];
    for (const x of ours) {
      const n = kSet.get(x) ?? 0;
      if (n > 0) { agree++; kSet.set(x, n - 1); } else onlyOurs.push(x);
    }
    const onlyKernel = [...kSet].flatMap(([x, n]) => Array<string>(n).fill(x));
    t.diagnostic(`agreement: ${agree} frames the same; ${onlyOurs.length} only in nfx, ${onlyKernel.length} only in the kernel`);
    assert.deepEqual({ onlyOurs, onlyKernel }, { onlyOurs: [], onlyKernel: [] });
    assert.equal(agree, 29);

    // Every rule matched the same packets and bytes in both: the drops were the same drops.
    const listing = sh(['ip', 'netns', 'exec', R, 'nft', '-a', 'list', 'ruleset']);
    assert.equal(listing.status, 0, listing.err);
    assert.deepEqual(await counterLines(rep.host, rep.path), parseCounters(listing.out));
  } finally {
    sh(['ip', 'netns', 'del', R]);
    sh(['ip', 'netns', 'del', P]);
  }
});
