/**
 * `ip xfrm state ... mode iptfs ... iptfs-opts ...` and `tmpl ... mode iptfs`:
 * parsing, the kernel's checks (net/xfrm/xfrm_user.c verify_newsa_info(),
 * xfrm_iptfs.c iptfs_user_init()) with their extack texts, the listing
 * (only the options of the SA's direction, iptfs_copy_to_user()) and the
 * saved host's round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, Xfrm, deserializeXfrm, ipXfrm, serializeXfrm } from '../src/xfrm/index.js';
import type { XfrmJson } from '../src/xfrm/index.js';
import { defaultIptfsOptions } from '../src/xfrm/esp/iptfs/index.js';

const GCM = "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128";
const GCM_LISTED = 'aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128';

/** Splits like a shell: single quotes group. */
function split(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}
function fresh(): Xfrm { return new Xfrm({ clock: new ManualClock(1_700_000_000_000) }); }
function ok(x: Xfrm, line: string): string {
  const r = ipXfrm(split(line), x, {});
  assert.equal(r.stderr, '', `ip xfrm ${line}`);
  assert.equal(r.status, 0);
  return r.stdout;
}
function expectError(x: Xfrm, line: string, stderr: string, status = 2): void {
  const r = ipXfrm(split(line), x, {});
  assert.equal(r.stderr, stderr, `ip xfrm ${line}`);
  assert.equal(r.status, status);
}

const OUT_SA = `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode iptfs ${GCM} dir out`;
const IN_SA = `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 reqid 2 mode iptfs ${GCM} dir in replay-window 64`;

test('an output IP-TFS SA lists its direction and the output options, the kernel defaults filled in', () => {
  const x = fresh();
  ok(x, `${OUT_SA} iptfs-opts pkt-size 1400 init-delay 2000`);
  assert.equal(ok(x, 'state list'),
    'src 192.0.2.1 dst 192.0.2.2\n' +
    '\tproto esp spi 0x00001000 reqid 1 mode iptfs\n' +
    '\treplay-window 0 \n' +
    `\t${GCM_LISTED}\n` +
    '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
    '\tdir out\n' +
    '\tiptfs-opts init-delay 2000 max-queue-size 10485760 pkt-size 1400\n' +
    '\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n');
  const sa = x.sad.states[0]!;
  assert.deepEqual(sa.iptfs, { ...defaultIptfsOptions(), pktSize: 1400, initDelayUs: 2000 });
});

test('dont-frag and max-queue-size are output options; the listing prints dont-frag first', () => {
  const x = fresh();
  ok(x, `${OUT_SA} iptfs-opts dont-frag max-queue-size 0x10000`);
  assert.match(ok(x, 'state list'), /\n\tdir out\n\tiptfs-opts dont-frag init-delay 0 max-queue-size 65536 pkt-size 0\n/);
});

test('an input IP-TFS SA lists drop-time and reorder-window only', () => {
  const x = fresh();
  ok(x, `${IN_SA} iptfs-opts reorder-window 8 drop-time 250000`);
  const text = ok(x, 'state list');
  assert.match(text, /\n\tdir in\n\tiptfs-opts drop-time 250000 reorder-window 8\n/);
  ok(x, `state add src 192.0.2.3 dst 192.0.2.1 proto esp spi 0x2001 reqid 3 mode iptfs ${GCM} dir in`);
  assert.match(ok(x, 'state get src 192.0.2.3 dst 192.0.2.1 proto esp spi 0x2001'), /\n\tiptfs-opts drop-time 1000000 reorder-window 3\n/);
});

test('mode iptfs may be abbreviated as iproute2 matches words; policies carry tmpl ... mode iptfs', () => {
  const x = fresh();
  ok(x, `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode ipt ${GCM} dir out`);
  assert.equal(x.sad.states[0]!.mode, 5);
  ok(x, 'policy add src 10.0.1.0/24 dst 10.0.2.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode iptfs');
  assert.match(ok(x, 'policy list'), /\ttmpl src 192\.0\.2\.1 dst 192\.0\.2\.2\n\t\tproto esp reqid 1 mode iptfs\n/);
});

test('the kernel refuses an IP-TFS SA without a direction, and options of the other direction', () => {
  const x = fresh();
  const base = `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode iptfs ${GCM}`;
  expectError(x, base, 'Error: IP-TFS mode requires in or out direction attribute.\n');
  expectError(x, `${base} dir out iptfs-opts drop-time 5`, 'Error: IP-TFS drop time should not be set for output SA.\n');
  expectError(x, `${base} dir out iptfs-opts reorder-window 5`, 'Error: IP-TFS reorder window should not be set for output SA.\n');
  expectError(x, `${base} dir in iptfs-opts dont-frag`, "Error: IP-TFS don't fragment should not be set for input SA.\n");
  expectError(x, `${base} dir in iptfs-opts init-delay 1`, 'Error: IP-TFS initial delay should not be set for input SA.\n');
  expectError(x, `${base} dir in iptfs-opts max-queue-size 1`, 'Error: IP-TFS max queue size should not be set for input SA.\n');
  expectError(x, `${base} dir in iptfs-opts pkt-size 1000`, 'Error: IP-TFS packet size should not be set for input SA.\n');
  expectError(x, `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 reqid 1 mode tunnel ${GCM} dir out iptfs-opts pkt-size 1000`,
    'Error: IP-TFS options can only be used in IP-TFS mode.\n');
  assert.equal(x.sad.count, 0, 'nothing was added');
});

test('pkt-size must exceed the header length: outer IP + ESP + IV + the 4-byte AGGFRAG header', () => {
  const x = fresh();
  // GCM over IPv4: 20 + 8 + 8 + 4 = 40.
  expectError(x, `${OUT_SA} iptfs-opts pkt-size 40`, 'Error: Packet size must be 0 or greater than IPTFS/ESP header length.\n');
  ok(x, `${OUT_SA} iptfs-opts pkt-size 41`);
  // AES-CBC (16-byte IV) over IPv6: 40 + 8 + 16 + 4 = 68.
  const v6 = "state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x3000 reqid 1 mode iptfs enc 'cbc(aes)' 0x000102030405060708090a0b0c0d0e0f auth-trunc 'hmac(sha256)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128 dir out";
  expectError(x, `${v6} iptfs-opts pkt-size 68`, 'Error: Packet size must be 0 or greater than IPTFS/ESP header length.\n');
  ok(x, `${v6} iptfs-opts pkt-size 69`);
});

test('iproute2 refuses mode iptfs with AH, and option values that are not numbers', () => {
  const x = fresh();
  expectError(x, "state add src 192.0.2.1 dst 192.0.2.2 proto ah spi 0x1000 mode iptfs auth 'hmac(sha256)' 0x00 dir out",
    'MODE value is invalid with XFRM-PROTO value "ah"\n', 1);
  expectError(x, `${OUT_SA} iptfs-opts pkt-size big`, 'Error: argument "big" is wrong: IPTFS-OPTS value is invalid\n', 255);
  expectError(x, `${IN_SA} iptfs-opts reorder-window 65536`, 'Error: argument "65536" is wrong: IPTFS-OPTS value is invalid\n', 255);
});

test('the options survive the saved host (serialize, JSON, deserialize) and list the same', () => {
  const x = fresh();
  ok(x, `${OUT_SA} iptfs-opts dont-frag pkt-size 1400 init-delay 500 max-queue-size 100000`);
  ok(x, `${IN_SA} iptfs-opts reorder-window 7 drop-time 300000`);
  const json = JSON.parse(JSON.stringify(serializeXfrm(x))) as XfrmJson;
  const y = deserializeXfrm(json, { clock: new ManualClock(1_700_000_000_000) });
  assert.equal(ok(y, 'state list'), ok(x, 'state list'));
  assert.deepEqual(y.sad.states.map((s) => s.iptfs), x.sad.states.map((s) => s.iptfs));
  // A state saved before an option existed takes the kernel's default for it.
  const old = JSON.parse(JSON.stringify(json)) as XfrmJson;
  delete (old.states[0]!['iptfs'] as Record<string, unknown>)['dropTimeUs'];
  const z = deserializeXfrm(old, { clock: new ManualClock(0) });
  assert.equal(z.sad.states[0]!.iptfs!.dropTimeUs, 1_000_000);
});

test('nfx extensions nfx-rate and nfx-cc (not iproute2 words) are output options, listed after the kernel\'s', () => {
  const x = fresh();
  ok(x, `${OUT_SA} iptfs-opts pkt-size 1400 nfx-rate 1250000 nfx-cc`);
  assert.match(ok(x, 'state list'), /\n\tiptfs-opts init-delay 0 max-queue-size 10485760 pkt-size 1400 nfx-rate 1250000 nfx-cc\n/);
  assert.equal(x.sad.states[0]!.iptfs!.nfxRate, 1250000);
  const y = deserializeXfrm(JSON.parse(JSON.stringify(serializeXfrm(x))) as XfrmJson, { clock: new ManualClock(0) });
  assert.equal(ok(y, 'state list'), ok(x, 'state list'));
  expectError(x, `${IN_SA} iptfs-opts nfx-rate 1000`, 'Error: nfx: IP-TFS nfx-rate and nfx-cc belong to an output SA.\n');
  expectError(fresh(), `${OUT_SA} iptfs-opts nfx-cc`, 'Error: nfx: IP-TFS nfx-cc needs nfx-rate (the highest rate).\n');
  expectError(fresh(), `${OUT_SA} iptfs-opts nfx-rate 0`, 'Error: argument "0" is wrong: IPTFS-OPTS value is invalid\n', 255);
});
