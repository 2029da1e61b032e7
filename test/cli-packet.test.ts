import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guessLinkType, parsePacketArgs } from '../src/cli/commands/packet.js';
import { readCaptureSync } from '../src/packet/pcap/index.js';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../data/demo.pcap', import.meta.url));

function nfx(...args: string[]) {
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('an expression prints one tcpdump-style line', () => {
  const r = nfx('packet', 'IP(src="10.0.0.1",dst="10.0.0.2")/TCP(sport=40000,dport=22,flags="S")');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 0, win 8192, length 0\n');
});

test('--json prints Wireshark field names with JSON numbers and text addresses', () => {
  const r = nfx('packet', '--json', 'IP(src="10.0.0.1",dst="10.0.0.2",ttl=7)/UDP(sport=1000,dport=53)');
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o['ip.ttl'], 7);
  assert.equal(o['ip.src'], '10.0.0.1');
  assert.equal(o['udp.dstport'], 53);
  assert.equal(o['udp.length'], 8);
  assert.equal(o['frame.len'], 28);
});

test('--hex HEX takes a frame; a bare --hex prints the bytes', () => {
  const built = nfx('packet', '--json', '--hex', 'IP(src="10.0.0.1",dst="10.0.0.2")/ICMP()');
  const hex = JSON.parse(built.stdout).hex as string;
  assert.match(hex, /^45/);
  const back = nfx('packet', '--hex', hex);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(back.stdout, 'IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 0, seq 0, length 8\n');
});

test('a bad expression fails with exit 1 and a caret under the culprit; bad usage exits 2', () => {
  const bad = nfx('packet', 'IP()/TCP(dprt=22)');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /did you mean "dport"/);
  assert.match(bad.stderr, /\n {9}\^\^\^\^/);
  assert.equal(nfx('packet').status, 2);
  assert.equal(nfx('packet', '--bogus', 'IP()').status, 2);
  assert.equal(nfx('packet', '-r', '/nonexistent.pcap').status, 1);
});

test('-w writes a pcap that reads back; mixed link types give pcapng', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-packet-'));
  try {
    const one = join(dir, 'a.pcap');
    assert.equal(nfx('packet', '-w', one, 'IP(dst="10.1.1.1")/UDP()', 'IP(dst="10.1.1.2")/UDP()').status, 0);
    const recs = readCaptureSync(new Uint8Array(readFileSync(one)));
    assert.equal(recs.length, 2);
    assert.equal(recs[0]!.linkType, 101);
    const mixed = join(dir, 'b.pcap');
    assert.equal(nfx('packet', '-w', mixed, 'IP(dst="10.1.1.1")/UDP()', 'Ether()/ARP()').status, 0);
    const m = readCaptureSync(new Uint8Array(readFileSync(mixed)));
    assert.deepEqual(m.map((r) => r.linkType), [101, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-r reads the bundled capture', () => {
  const r = nfx('packet', '-r', DEMO);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.split('\n').length > 10);
  assert.match(r.stdout, /^ARP, Request who-has/);
});

test('argument parsing: one source of packets, --hex told apart by its argument', () => {
  assert.deepEqual(parsePacketArgs(['--hex', '4500']).hexInputs, ['4500']);
  assert.equal(parsePacketArgs(['--hex', 'IP()']).printHex, true);
  assert.throws(() => parsePacketArgs(['-r', 'x', 'IP()']), /one way/);
});

test('bytes with no link type: a consistent IP header is raw IP, else Ethernet', () => {
  const ip = Uint8Array.from(Buffer.from('4500001400010000400000007f0000017f000001', 'hex'));
  assert.equal(guessLinkType(ip), 101);
  assert.equal(guessLinkType(new Uint8Array(60)), 1);
});
