/**
 * The differential test of issue 2: packets built by scapy with random field
 * values, across every protocol nfx dissects, must dissect to the values
 * scapy put in them (every CLI.md field) and to what tshark reads from the
 * same pcap (every field nfx reports), and tshark must find nothing malformed.
 *
 * One python run builds all packets (test/fixtures/gen_scapy_packets.py) and
 * one tshark run reads them back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_FIELDS, dissect } from '../src/packet/dissect.js';
import type { Dissection, FieldValue } from '../src/packet/dissect.js';
import { readCaptureSync } from '../src/packet/pcap/index.js';

const PYTHON = '/usr/bin/python3';
const GENERATOR = fileURLToPath(new URL('../../test/fixtures/gen_scapy_packets.py', import.meta.url));
const SEED = Number(process.env.NFX_DIFF_SEED ?? 2);
const COUNT = 600;

/**
 * Fields where tshark's reading legitimately differs from nfx's, with why.
 * Everything else nfx reports must equal tshark's first occurrence.
 */
const TSHARK_EXCEPTIONS = new Map<string, string>([]);

function haveScapy(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import scapy.all'], { stdio: 'ignore' }).status === 0;
}

function haveTshark(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
}

interface Expected {
  builder: string;
  fields: Record<string, FieldValue>;
}

/** tshark -T fields text to nfx's value conventions: hex and decimal numbers become numbers. */
function fromTshark(text: string): FieldValue | undefined {
  if (text === '') return undefined;
  if (/^0x[0-9a-f]+$/i.test(text)) return parseInt(text, 16);
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'True') return 1;
  if (text === 'False') return 0;
  return text;
}

let workdir = '';
let expected: Expected[] = [];
let dissections: Dissection[] = [];
let pcapPath = '';

function setup(): void {
  if (workdir) return;
  workdir = mkdtempSync(join(tmpdir(), 'nfx-diff-'));
  pcapPath = join(workdir, 'scapy.pcap');
  const jsonPath = join(workdir, 'scapy.json');
  execFileSync(PYTHON, [GENERATOR, pcapPath, jsonPath, String(SEED), String(COUNT)], { stdio: ['ignore', 'ignore', 'inherit'] });
  expected = JSON.parse(readFileSync(jsonPath, 'utf8')) as Expected[];
  const records = readCaptureSync(new Uint8Array(readFileSync(pcapPath)));
  dissections = records.map((r) => dissect(r.data, r.linkType));
}

test('differential: scapy-built packets dissect to scapy\'s own field values', { timeout: 60_000 }, (t) => {
  if (!haveScapy()) return t.skip('scapy not installed for /usr/bin/python3 (apt-get install python3-scapy)');
  setup(); // the files stay for the tests below, the last of which removes them
  {
    assert.ok(dissections.length >= 500, `${dissections.length} packets`);
    assert.equal(dissections.length, expected.length);
    const failures: string[] = [];
    const builders = new Set<string>();
    for (let i = 0; i < dissections.length; i++) {
      const d = dissections[i]!;
      const want = expected[i]!;
      builders.add(want.builder);
      if (d.malformed) failures.push(`#${i + 1} (${want.builder}): malformed: ${d.malformed}`);
      for (const f of CLI_FIELDS) {
        const ours = d.fields[f];
        const theirs = want.fields[f];
        if (ours !== theirs) failures.push(`#${i + 1} (${want.builder}) ${f}: nfx ${JSON.stringify(ours)} scapy ${JSON.stringify(theirs)}`);
      }
    }
    assert.deepEqual(failures.slice(0, Number(process.env.NFX_DIFF_SHOW ?? 40)), [], `${failures.length} mismatches`);
    assert.ok(builders.size >= 20, `packets from ${builders.size} builders`);
  }
});

/** Runs tshark once over a pcap and lists every field where nfx and tshark differ. */
function compareWithTshark(path: string, ds: Dissection[], label: (i: number) => string): { failures: string[]; compared: Map<string, number> } {
  const names = new Set<string>();
  for (const d of ds) for (const k of Object.keys(d.fields)) names.add(k);
  const fieldList = [...names].sort();
  const args = [
    '-r', path, '-n',
    // nfx dissects each packet alone, like tcpdump: no reassembly across packets.
    '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
    // nfx does no TCP stream analysis: its tcp.seq is the number on the wire.
    '-o', 'tcp.relative_sequence_numbers:FALSE',
    '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f',
    '-e', '_ws.malformed', '-e', '_ws.expert.severity', '-e', '_ws.expert.message', '-e', 'frame.protocols',
    ...fieldList.flatMap((f) => ['-e', f]),
  ];
  const out = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = out.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, ds.length, 'tshark printed one line per packet');
  const failures: string[] = [];
  const compared = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const cols = lines[i]!.split('\t');
    const [malformed, severity, message, protocols] = cols;
    // Wireshark's expert severities: 0x00800000 is "error" (PI_ERROR, epan/proto.h).
    if (malformed || /8388608/.test(severity ?? '')) failures.push(`${label(i)}: tshark: malformed/error: ${message}`);
    const d = ds[i]!;
    // The layers are Wireshark's protocols, in order: its pseudo-protocols aside, and with runs of
    // one protocol counted once (tshark lists IGMP twice for one header).
    const runs = (names: string[]) => names.filter((p) => !['ethertype', 'data', 'raw'].includes(p)).filter((p, k, all) => p !== all[k - 1]);
    const theirLayers = runs((protocols ?? '').split(':'));
    const ourLayers = runs(d.layers.map((l) => l.name));
    if (ourLayers.join(':') !== theirLayers.join(':')) failures.push(`${label(i)} layers: nfx ${ourLayers.join(':')} tshark ${theirLayers.join(':')}`);
    fieldList.forEach((f, j) => {
      if (TSHARK_EXCEPTIONS.has(f)) return;
      const theirs = fromTshark(cols[4 + j] ?? '');
      const ours = d.fields[f];
      if (ours !== theirs) failures.push(`${label(i)} ${f}: nfx ${JSON.stringify(ours)} tshark ${JSON.stringify(theirs)}`);
      else if (ours !== undefined) compared.set(f, (compared.get(f) ?? 0) + 1);
    });
  }
  return { failures, compared };
}

test('differential: nfx reads every field as tshark does, and tshark finds nothing malformed', { timeout: 60_000 }, (t) => {
  if (!haveScapy()) return t.skip('scapy not installed for /usr/bin/python3 (apt-get install python3-scapy)');
  if (!haveTshark()) return t.skip('tshark not installed (apt-get install tshark)');
  setup();
  const { failures, compared } = compareWithTshark(pcapPath, dissections, (i) => `#${i + 1} (${expected[i]?.builder ?? '?'})`);
  assert.deepEqual(failures.slice(0, Number(process.env.NFX_DIFF_SHOW ?? 60)), [], `${failures.length} mismatches`);
  for (const f of CLI_FIELDS) assert.ok((compared.get(f) ?? 0) > 0, `CLI field ${f} compared at least once`);
  assert.ok(compared.size >= 100, `${compared.size} distinct fields compared with tshark`);
});

/** Minimal pcap writer (microsecond stamps), enough to hand tshark the same packets on other link types. */
function pcapFile(linkType: number, frames: Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, linkType, true);
  let off = 24;
  frames.forEach((f, i) => {
    v.setUint32(off, 1_700_000_000 + i, true);
    v.setUint32(off + 8, f.length, true);
    v.setUint32(off + 12, f.length, true);
    out.set(f, off + 16);
    off += 16 + f.length;
  });
  return out;
}

const LINK_FIELD = /^(frame|eth|vlan|ieee8021ad|sll)\./;

test('differential: the same packets on raw-IP and Linux cooked v1/v2 links', { timeout: 60_000 }, (t) => {
  if (!haveScapy()) return t.skip('scapy not installed for /usr/bin/python3 (apt-get install python3-scapy)');
  setup();
  try {
    const records = readCaptureSync(new Uint8Array(readFileSync(pcapPath)));
    const failures: string[] = [];
    for (const lt of [101, 228, 229, 113, 276]) {
      const frames: Uint8Array[] = [];
      const origin: number[] = [];
      records.forEach((r, i) => {
        // Skip VLAN-tagged frames (a cooked capture would carry the tag in metadata) and,
        // on raw links, frames that are not IP of the right version.
        const d = dissections[i]!;
        if (d.layers[1]?.name === 'vlan' || d.layers[1]?.name === 'ieee8021ad') return;
        const type = d.fields['eth.type'];
        const l3 = r.data.subarray(14);
        if ((lt === 101 || lt === 228 || lt === 229) && type !== 0x0800 && type !== 0x86dd) return;
        if (lt === 228 && type !== 0x0800) return;
        if (lt === 229 && type !== 0x86dd) return;
        let frame = l3;
        if (lt === 113) {
          frame = new Uint8Array(16 + l3.length);
          frame.set([0, 0, 0, 1, 0, 6], 0);
          frame.set(r.data.subarray(6, 12), 6);
          frame.set(r.data.subarray(12, 14), 14);
          frame.set(l3, 16);
        } else if (lt === 276) {
          frame = new Uint8Array(20 + l3.length);
          frame.set(r.data.subarray(12, 14), 0);
          frame.set([0, 0, 0, 0, 0, 7, 0, 1, 0, 6], 2);
          frame.set(r.data.subarray(6, 12), 12);
          frame.set(l3, 20);
        }
        frames.push(frame);
        origin.push(i);
      });
      assert.ok(frames.length > 100, `${frames.length} packets on link type ${lt}`);
      const ds = frames.map((f) => dissect(f, lt));
      // (a) Above the link layer, every field is what the Ethernet frame gave.
      ds.forEach((d, k) => {
        const eth = dissections[origin[k]!]!;
        for (const [f, v] of Object.entries(eth.fields)) {
          if (!LINK_FIELD.test(f) && d.fields[f] !== v) failures.push(`lt ${lt} #${origin[k]! + 1} ${f}: ${JSON.stringify(d.fields[f])} vs ethernet ${JSON.stringify(v)}`);
        }
        if (lt === 113 || lt === 276) {
          if (d.fields['sll.src.eth'] !== eth.fields['eth.src']) failures.push(`lt ${lt} #${origin[k]! + 1} sll.src.eth`);
        }
      });
      // (b) tshark agrees, link-layer fields included.
      if (haveTshark()) {
        const path = join(workdir, `lt${lt}.pcap`);
        writeFileSync(path, pcapFile(lt, frames));
        failures.push(...compareWithTshark(path, ds, (k) => `lt ${lt} #${origin[k]! + 1}`).failures);
      }
    }
    assert.deepEqual(failures.slice(0, Number(process.env.NFX_DIFF_SHOW ?? 40)), [], `${failures.length} mismatches`);
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
});
