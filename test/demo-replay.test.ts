/**
 * `nfx demo -r FILE`: another capture through the same gateway. A long replay
 * reports progress on stderr and prints a summary instead of every line; a
 * capture from another network is sent in on the port `--iif` names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcapFile } from '../src/packet/pcap/index.js';
import { LINKTYPE_ETHERNET } from '../src/packet/pcap/index.js';
import { officeRecords } from '../bench/make-office-capture.js';

const NFX = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const OLD_DEMO = fileURLToPath(new URL('../../data/demo.pcap', import.meta.url));

function nfx(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [NFX, ...args], { encoding: 'utf8', env: { ...process.env, NFX_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a long replay shows progress on stderr and a summary by fate', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-long-'));
  try {
    // The office's forty packets 255 times over, ten seconds apart: 10,200 packets.
    const base = officeRecords();
    const recs = [];
    for (let round = 0; round < 255; round++) for (const r of base) recs.push({ ...r, tsSec: r.tsSec + round * 10 });
    const capture = join(home, 'long.pcap');
    await writePcapFile(capture, recs, { linkType: LINKTYPE_ETHERNET });
    const r = nfx(home, 'demo', '-r', capture);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^nfx demo: 10000 packets replayed \(\d+ packets\/s\)\n$/);
    assert.match(r.stdout, /\n {2}… and 10180 more packets \(only the first 20 are shown\)\n/);
    assert.match(r.stdout, /By fate[^\n]*:\n {5}\d+ {2}forwarded\n/);
    assert.match(r.stdout, /Why was packet 23 dropped at the office gateway\?/);
    assert.match(r.stdout, /10200 packets replayed; the gateways transmitted \d+ frames; \d+ from the office written to /);
    assert.ok(existsSync(join(home, 'demo', 'office-out.pcap')));
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('a capture of another network needs --iif, and then arrives on that port', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-iif-'));
  try {
    const bad = nfx(home, 'demo', '-r', OLD_DEMO);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /packet 1 is not addressed to a port of the gateway; say where it arrives with --iif lan0\|dmz0\|wan0/);
    const r = nfx(home, 'demo', '-r', OLD_DEMO, '--iif', 'lan0');
    assert.equal(r.status, 0, r.stderr);
    // The laptop's SYN to the web leaves masqueraded; its ping to the gateway is answered.
    assert.match(r.stdout, /\n {2}5 office lan0 IP 192\.168\.1\.23\.51514 > 93\.184\.216\.34\.80: Flags \[S\].* → forwarded to wan0 as 203\.0\.113\.2\.51514 > 93\.184\.216\.34\.80\n/);
    assert.match(r.stdout, /\n 14 office lan0 IP 192\.168\.1\.23 > 192\.168\.1\.1: ICMP echo request.* → delivered; sent on lan0: IP 192\.168\.1\.1 > 192\.168\.1\.23: ICMP echo reply/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('usage errors exit 2', () => {
  const home = mkdtempSync(join(tmpdir(), 'nfx-demo-usage-'));
  try {
    for (const args of [['--bogus'], ['-r'], ['--iif', 'eth7']]) {
      const r = nfx(home, 'demo', ...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /Usage: nfx demo \[--iptfs\] \[-r FILE \[--iif DEV\]\]/);
    }
  } finally { rmSync(home, { recursive: true, force: true }); }
});
