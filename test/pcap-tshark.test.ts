/**
 * Wireshark reads what nfx writes: every writer variant, checked with
 *   tshark -r FILE -T fields -e frame.len -e frame.cap_len -e frame.time_epoch -e frame.interface_id
 * against the records written, and with nothing on stderr about a damaged
 * or corrupt file. Skips when tshark is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW, PcapngWriter, PcapWriter,
  writePcapFile,
} from '../src/packet/pcap/index.js';
import type { PcapngInterfaceOptions, WritableRecord, WritePcapFileOptions } from '../src/packet/pcap/index.js';
import { addr, ether, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ipv4, ipv6, IPPROTO_UDP, mac, udp } from '../src/packet/pcap/synthetic.js';
import { demoRecords } from '../bench/make-demo-capture.js';

const HAVE_TSHARK = (() => {
  const r = spawnSync('tshark', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
})();

/** A deterministic pseudo-random generator (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

const S4 = addr('10.1.2.3'), D4 = addr('10.9.8.7'), S6 = addr('2001:db8::1'), D6 = addr('2001:db8::2');
const SRC_MAC = mac('02:00:00:00:00:01'), DST_MAC = mac('02:00:00:00:00:02');

/** A valid UDP packet framed for `linkType`, so tshark dissects it without complaint. */
function frame(linkType: number, payloadLen: number, v6: boolean): Uint8Array {
  const body = new Uint8Array(payloadLen).fill(0x5a);
  const l3 = v6 ? ipv6(S6, D6, IPPROTO_UDP, udp(S6, D6, 4000, 5000, body)) : ipv4(S4, D4, IPPROTO_UDP, udp(S4, D4, 4000, 5000, body));
  const type = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  switch (linkType) {
    case LINKTYPE_ETHERNET: return ether(DST_MAC, SRC_MAC, type, l3);
    case LINKTYPE_LINUX_SLL: {
      const h = Uint8Array.of(0, 4, 0, 1, 0, 6, ...SRC_MAC, 0, 0, type >> 8, type & 0xff);
      return Uint8Array.from([...h, ...l3]);
    }
    case LINKTYPE_LINUX_SLL2: {
      const h = Uint8Array.of(type >> 8, type & 0xff, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...SRC_MAC, 0, 0);
      return Uint8Array.from([...h, ...l3]);
    }
    default: return l3;
  }
}

function records(seed: number, n: number, links: number[], snapTo?: number): WritableRecord[] {
  const next = rng(seed);
  const out: WritableRecord[] = [];
  for (let i = 0; i < n; i++) {
    const ifIndex = next() % links.length;
    const linkType = links[ifIndex]!;
    const v6 = linkType === LINKTYPE_IPV6 || (linkType !== LINKTYPE_IPV4 && next() % 2 === 0);
    let data = frame(linkType, next() % 1200, v6);
    const origLen = data.length;
    if (snapTo !== undefined && data.length > snapTo && i % 2 === 0) data = data.subarray(0, snapTo);
    out.push({ tsSec: 1_000_000_000 + (next() % 800_000_000), tsNsec: next() % 1_000_000_000, data, origLen, ifIndex, linkType });
  }
  return out;
}

function tshark(file: string): { rows: string[][]; stderr: string } {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch', '-e', 'frame.interface_id'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  // tshark warns about running as root; that line says nothing about the file.
  const stderr = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^Running as user/.test(l)).join('\n');
  return { rows: r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')), stderr };
}

interface Case {
  name: string;
  options: WritePcapFileOptions;
  links: number[];
  /** Decimal digits of sub-second precision the file keeps. */
  digits: (ifIndex: number) => number;
  snapTo?: number;
}

const ngIfaces = (links: number[], resols: number[]): PcapngInterfaceOptions[] => links.map((linkType, i) => ({ linkType, tsresol: resols[i]!, name: `if${i}` }));

const CASES: Case[] = [
  { name: 'pcap µs Ethernet', options: { linkType: LINKTYPE_ETHERNET }, links: [LINKTYPE_ETHERNET], digits: () => 6 },
  { name: 'pcap ns raw IP', options: { linkType: LINKTYPE_RAW, nanosecond: true }, links: [LINKTYPE_RAW], digits: () => 9 },
  { name: 'pcap µs IPv4, snaplen 96', options: { linkType: LINKTYPE_IPV4, snaplen: 96 }, links: [LINKTYPE_IPV4], digits: () => 6, snapTo: 96 },
  { name: 'pcap ns IPv6', options: { linkType: LINKTYPE_IPV6, nanosecond: true }, links: [LINKTYPE_IPV6], digits: () => 9 },
  { name: 'pcap µs Linux cooked v1', options: { linkType: LINKTYPE_LINUX_SLL }, links: [LINKTYPE_LINUX_SLL], digits: () => 6 },
  { name: 'pcap ns Linux cooked v2', options: { linkType: LINKTYPE_LINUX_SLL2, nanosecond: true }, links: [LINKTYPE_LINUX_SLL2], digits: () => 9 },
  {
    name: 'pcapng, three interfaces (Ethernet ns, SLL2 µs, raw ms)',
    options: { format: 'pcapng', interfaces: ngIfaces([LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW], [9, 6, 3]) },
    links: [LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW],
    digits: (i) => [9, 6, 3][i]!,
  },
  {
    name: 'pcapng, interfaces added on demand, snapped packets',
    options: { format: 'pcapng', linkType: LINKTYPE_ETHERNET },
    links: [LINKTYPE_ETHERNET],
    digits: () => 9,
  },
];

for (const c of CASES) {
  test(`tshark reads nfx's ${c.name} exactly as written`, async (t) => {
    if (!HAVE_TSHARK) { t.skip('tshark not installed'); return; }
    const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-tshark-'));
    try {
      const file = join(dir, c.options.format === 'pcapng' ? 'out.pcapng' : 'out.pcap');
      const recs = records(CASES.indexOf(c) + 1, 200, c.links, c.snapTo);
      await writePcapFile(file, recs, c.options);
      {
        const { rows, stderr } = tshark(file);
        assert.doesNotMatch(stderr, /damaged|corrupt|cut short|isn't a capture file|appears/i);
        assert.equal(stderr, '', 'tshark has nothing to say');
        assert.equal(rows.length, recs.length);
        rows.forEach((row, i) => {
          const r = recs[i]!;
          const ifIndex = c.options.format === 'pcapng' ? r.ifIndex! : 0;
          const digits = c.digits(ifIndex);
          const frac = String(Math.floor(r.tsNsec / 10 ** (9 - digits)) * 10 ** (9 - digits)).padStart(9, '0');
          const capLen = Math.min(r.data.length, c.options.snaplen ?? Infinity);
          const want = [String(r.origLen), String(capLen), `${r.tsSec}.${frac}`, c.options.format === 'pcapng' ? String(ifIndex) : ''];
          assert.deepEqual(row, want, `frame ${i + 1}`);
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('tshark reads big-endian files from both writers', (t) => {
  if (!HAVE_TSHARK) { t.skip('tshark not installed'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-tshark-'));
  try {
    const recs = records(99, 50, [LINKTYPE_ETHERNET, LINKTYPE_RAW]);
    const pcap = new PcapWriter({ linkType: LINKTYPE_ETHERNET, nanosecond: true, littleEndian: false });
    const ng = new PcapngWriter({ littleEndian: false, interfaces: [{ linkType: LINKTYPE_ETHERNET, tsresol: 6 }, { linkType: LINKTYPE_RAW, tsresol: 9 }] });
    for (const r of recs) {
      if (r.ifIndex === 0) pcap.write(r);
      ng.write(r);
    }
    writeFileSync(join(dir, 'be.pcap'), pcap.bytes());
    writeFileSync(join(dir, 'be.pcapng'), ng.bytes());
    const a = tshark(join(dir, 'be.pcap'));
    const b = tshark(join(dir, 'be.pcapng'));
    assert.equal(a.stderr + b.stderr, '');
    const frac = (r: WritableRecord, digits: number) => String(Math.floor(r.tsNsec / 10 ** (9 - digits)) * 10 ** (9 - digits)).padStart(9, '0');
    assert.deepEqual(a.rows, recs.filter((r) => r.ifIndex === 0).map((r) => [String(r.origLen), String(r.data.length), `${r.tsSec}.${frac(r, 9)}`, '']));
    assert.deepEqual(b.rows, recs.map((r) => [String(r.origLen), String(r.data.length), `${r.tsSec}.${frac(r, r.ifIndex === 0 ? 6 : 9)}`, String(r.ifIndex)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tshark reads the bundled demo capture without any expert warning but the expected RST', (t) => {
  if (!HAVE_TSHARK) { t.skip('tshark not installed'); return; }
  const file = new URL('../../data/demo.pcap', import.meta.url).pathname;
  const r = spawnSync('tshark', ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-T', 'fields', '-e', '_ws.expert.message', '-e', '_ws.col.Protocol'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, demoRecords().length);
  const protocols = new Set(lines.map((l) => l.split('\t')[1]));
  for (const p of ['ARP', 'DNS', 'TCP', 'HTTP', 'ICMP', 'ICMPv6']) assert.ok(protocols.has(p), `demo has ${p}`);
  const messages = lines.flatMap((l) => l.split('\t')[0]!.split(',')).filter((m) => m !== '');
  for (const m of messages) assert.match(m, /Connection reset|connection establish|SYN|FIN|closing|GET|HTTP\/1\.1 200/i, `unexpected expert message: ${m}`);
});
