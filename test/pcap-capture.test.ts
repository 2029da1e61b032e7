/**
 * Reading what other programs write: captures taken by dumpcap from the
 * kernel (Linux cooked v1 and v2 from the "any" device, Ethernet framing
 * from lo; pcapng with dumpcap's options and statistics blocks, and classic
 * pcap), and our own captures converted by editcap. Every record must agree
 * with tshark's reading of the same file. Traffic is sent only inside a
 * network namespace the test creates and deletes. Skips without root,
 * dumpcap, editcap or tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  linkL3, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, PcapWriter, readCaptureSync, Sll2View, SllView,
} from '../src/packet/pcap/index.js';
import type { CaptureRecord } from '../src/packet/pcap/index.js';
import { demoRecords } from '../bench/make-demo-capture.js';

const has = (cmd: string, arg = '--version') => {
  const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
};
const TOOLS = has('tshark') && has('editcap', '-h');
const CAPTURE = TOOLS && has('dumpcap') && has('ip', '-V') && process.getuid?.() === 0;

function tsharkRows(file: string, fields: string[]): string[][] {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

const epoch = (r: CaptureRecord) => `${r.tsSec}.${String(r.tsNsec).padStart(9, '0')}`;

/** Our reading of `file` must equal tshark's, record by record. */
function expectSameAsTshark(file: string, pcapng: boolean): CaptureRecord[] {
  const ours = readCaptureSync(readFileSync(file));
  const theirs = tsharkRows(file, ['frame.len', 'frame.cap_len', 'frame.time_epoch', 'frame.interface_id']);
  assert.deepEqual(
    ours.map((r) => [String(r.origLen), String(r.data.length), epoch(r), pcapng ? String(r.ifIndex) : '']),
    theirs,
  );
  return ours;
}

/** Captures on `iface` inside `ns` while sending UDP over IPv4 and IPv6 loopback there. */
async function captureInNetns(ns: string, file: string, dumpcapArgs: string[]): Promise<void> {
  const dc = spawn('ip', ['netns', 'exec', ns, 'dumpcap', ...dumpcapArgs, '-c', '8', '-a', 'duration:10', '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => dc.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${stderr}`)), 10_000);
    dc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Capturing on')) { clearTimeout(timer); resolve(); }
    });
    dc.on('exit', () => { clearTimeout(timer); resolve(); });
  });
  const sender = `
    const dgram = require('node:dgram');
    const s4 = dgram.createSocket('udp4'), s6 = dgram.createSocket('udp6');
    let i = 0;
    const t = setInterval(() => {
      s4.send(Buffer.alloc(20 + i, i), 9, '127.0.0.1');
      s6.send(Buffer.alloc(30 + i, i), 9, '::1');
      if (++i === 10) { clearInterval(t); setTimeout(() => { s4.close(); s6.close(); }, 100); }
    }, 30);`;
  spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', sender], { stdio: 'ignore', timeout: 10_000 });
  const code = await exited;
  assert.equal(code, 0, `dumpcap: ${stderr}`);
}

const VARIANTS: { name: string; args: string[]; linkType: number; pcapng: boolean }[] = [
  { name: 'pcapng, Linux cooked v2 from "any"', args: ['-i', 'any', '-y', 'LINUX_SLL2'], linkType: LINKTYPE_LINUX_SLL2, pcapng: true },
  { name: 'pcap, Linux cooked v1 from "any"', args: ['-i', 'any', '-y', 'LINUX_SLL', '-P'], linkType: LINKTYPE_LINUX_SLL, pcapng: false },
  { name: 'pcapng, Ethernet framing from lo', args: ['-i', 'lo'], linkType: LINKTYPE_ETHERNET, pcapng: true },
];

test('captures dumpcap takes from the kernel read the same in nfx and tshark', { timeout: 120_000 }, async (t) => {
  if (!CAPTURE) { t.skip('needs root, ip, dumpcap, editcap and tshark'); return; }
  const ns = `nfx-pcap-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-capture-'));
  try {
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0, 'ip netns add');
    assert.equal(spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']).status, 0);
    for (const v of VARIANTS) {
      await t.test(v.name, async () => {
        const file = join(dir, `${v.linkType}.${v.pcapng ? 'pcapng' : 'pcap'}`);
        await captureInNetns(ns, file, v.args);
        const records = expectSameAsTshark(file, v.pcapng);
        assert.ok(records.length >= 8, `captured ${records.length}`);
        for (const r of records) assert.equal(r.linkType, v.linkType);
        // Layer 3 per our link-layer helper vs tshark's reading of the link header.
        const field = v.linkType === LINKTYPE_ETHERNET ? 'eth.type' : 'sll.etype';
        const types = tsharkRows(file, [field]).map((row) => parseInt(row[0]!, 16));
        assert.deepEqual(records.map((r) => linkL3(r.linkType, r.data)?.protocol), types);
        if (v.linkType === LINKTYPE_LINUX_SLL2) {
          const ifindex = tsharkRows(file, ['sll.ifindex', 'sll.pkttype']);
          assert.deepEqual(records.map((r) => { const h = new Sll2View(r.data); return [String(h.ifIndex), String(h.pktType)]; }), ifindex);
        }
        if (v.linkType === LINKTYPE_LINUX_SLL) {
          const pkttype = tsharkRows(file, ['sll.pkttype']);
          assert.deepEqual(records.map((r) => [String(new SllView(r.data).pktType)]), pkttype);
        }
      });
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('our captures converted by editcap to pcapng, nanosecond pcap and pcap read back unchanged', (t) => {
  if (!TOOLS) { t.skip('editcap or tshark not installed'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-editcap-'));
  try {
    const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET });
    const recs = demoRecords();
    for (const r of recs) w.write(r);
    const src = join(dir, 'demo.pcap');
    writeFileSync(src, w.bytes());
    for (const format of ['pcapng', 'nsecpcap', 'pcap']) {
      const out = join(dir, `demo.${format}`);
      const r = spawnSync('editcap', ['-F', format, src, out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const records = expectSameAsTshark(out, format === 'pcapng');
      assert.deepEqual(
        records.map((x) => [x.linkType, x.tsSec, x.tsNsec, Buffer.from(x.data).toString('hex')]),
        recs.map((x) => [LINKTYPE_ETHERNET, x.tsSec, x.tsNsec - (x.tsNsec % 1000), Buffer.from(x.data).toString('hex')]),
        format,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
