/**
 * `nfx ip xfrm` against iproute2: listings reconstructed from iproute2's
 * ip/ipxfrm.c printers (xfrm_state_info_print & co.) for the attributes the
 * kernel returns, every validation message of iproute2 and of the kernel's
 * xfrm_user.c we reproduce, and the CLI's exit statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, Xfrm, emptySelector, ipXfrm, serializeXfrm, deserializeXfrm, type IpXfrmOptions } from '../src/xfrm/index.js';

const T0 = Date.UTC(2026, 10, 28, 3, 0, 0); // 2026-11-28 03:00:00 UTC

/** Splits a command line as a shell would (quotes, no expansion). */
function split(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let has = false;
  for (const ch of line) {
    if (q) {
      if (ch === q) q = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      q = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (has || cur) out.push(cur);
  return out;
}

function fresh(opts: ConstructorParameters<typeof Xfrm>[0] = {}): Xfrm {
  return new Xfrm({ clock: new ManualClock(T0), ...opts });
}

/** Runs `ip [opts] xfrm LINE`; the line starts after `xfrm`. */
function ip(x: Xfrm, line: string, opts: IpXfrmOptions = {}) {
  return ipXfrm(split(line), x, opts);
}
function ok(x: Xfrm, line: string, opts: IpXfrmOptions = {}): string {
  const r = ip(x, line, opts);
  assert.equal(r.stderr, '', `ip xfrm ${line}`);
  assert.equal(r.status, 0, `ip xfrm ${line}`);
  return r.stdout;
}
function expectError(x: Xfrm, line: string, stderr: string, status: number): void {
  const r = ip(x, line);
  assert.equal(r.stderr, stderr, `ip xfrm ${line}`);
  assert.equal(r.status, status, `exit status of ip xfrm ${line}`);
  assert.equal(r.stdout, '');
}

const GCM_KEY = '0x0102030405060708090a0b0c0d0e0f1011121314';
const AES128 = '0x000102030405060708090a0b0c0d0e0f';
const SHA_KEY = '0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

test('state list prints an AEAD tunnel SA as ip xfrm state does (keys shown, as iproute2)', () => {
  const x = fresh();
  ok(x, `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0xc0ffee01 reqid 7 mode tunnel aead 'rfc4106(gcm(aes))' ${GCM_KEY} 128`);
  assert.equal(
    ok(x, 'state list'),
    'src 192.0.2.1 dst 192.0.2.2\n' +
      '\tproto esp spi 0xc0ffee01 reqid 7 mode tunnel\n' +
      '\treplay-window 0 \n' +
      `\taead rfc4106(gcm(aes)) ${GCM_KEY} 128\n` +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n',
  );
  // `ip xfrm state` with no command lists too; `nokeys` hides the key.
  assert.equal(ok(x, 'state'), ok(x, 'state list'));
  assert.match(ok(x, 'state list nokeys'), /\taead rfc4106\(gcm\(aes\)\) <<Keys hidden>> 128\n/);
  assert.doesNotMatch(ok(x, 'state list', { nokeys: true }), /0102030405/);
});

test('plain `auth hmac(sha256)` truncates to 96 bits and lists as auth-trunc; compat names become canonical', () => {
  const x = fresh();
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100 mode transport auth sha256 ${SHA_KEY} enc aes ${AES128}`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x101 mode transport auth-trunc 'hmac(sha256)' ${SHA_KEY} 128 enc 'cbc(aes)' ${AES128}`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x102 mode transport auth-trunc 'hmac(sha512)' ${SHA_KEY} 0 enc 'rfc3686(ctr(aes))' 0x000102030405060708090a0b0c0d0e0f00000001`);
  const out = ok(x, 'state list');
  assert.match(out, new RegExp(`spi 0x00000100[^]*?\\tauth-trunc hmac\\(sha256\\) ${SHA_KEY} 96\\n\\tenc cbc\\(aes\\) ${AES128}\\n`));
  assert.match(out, new RegExp(`spi 0x00000101[^]*?\\tauth-trunc hmac\\(sha256\\) ${SHA_KEY} 128\\n`));
  // auth-trunc with 0 takes the algorithm's default (icv_truncbits 256 for sha512).
  assert.match(out, /spi 0x00000102[^]*?\tauth-trunc hmac\(sha512\) 0x[0-9a-f]+ 256\n\tenc rfc3686\(ctr\(aes\)\) 0x[0-9a-f]+\n/);
});

test('every AEAD of issue 6 is accepted with its ICV sizes; cipher_null lists as ecb(cipher_null)', () => {
  const x = fresh();
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 aead 'rfc7539esp(chacha20,poly1305)' 0x${'11'.repeat(36)} 128`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 2 aead 'rfc4309(ccm(aes))' 0x${'22'.repeat(19)} 64`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 3 aead 'rfc4543(gcm(aes))' 0x${'33'.repeat(36)} 128`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 4 aead 'rfc4106(gcm(aes))' 0x${'44'.repeat(28)} 64`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 5 enc cipher_null "" auth 'xcbc(aes)' ${AES128}`);
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 6 enc cipher_null "" auth-trunc 'cmac(aes)' ${AES128} 96`);
  const out = ok(x, 'state list');
  assert.match(out, /\tenc ecb\(cipher_null\) \n/);
  assert.match(out, /\tauth-trunc xcbc\(aes\) 0x[0-9a-f]{32} 96\n/);
  assert.equal(ok(x, 'state count'), '\t SAD count 6\n');
});

test('ESN with a 128-packet window prints the esn context; windows over 32 need the ESN structure', () => {
  const x = fresh();
  ok(
    x,
    `state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x200 reqid 1 mode tunnel replay-window 128 replay-seq 0x1d replay-seq-hi 1 flag esn aead 'rfc4106(gcm(aes))' ${GCM_KEY} 128 encap espinudp 4500 4500 0.0.0.0`,
  );
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x201 replay-window 64 enc aes ${AES128}`);
  const out = ok(x, 'state list');
  assert.ok(
    out.includes(
      'src 2001:db8::1 dst 2001:db8::2\n' +
        '\tproto esp spi 0x00000200 reqid 1 mode tunnel\n' +
        '\treplay-window 0 flag esn\n' +
        `\taead rfc4106(gcm(aes)) ${GCM_KEY} 128\n` +
        // the OA is printed in the SA's family, as rt_addr_n2a(xsinfo->family) does
        '\tencap type espinudp sport 4500 dport 4500 addr ::\n' +
        '\tanti-replay esn context:\n' +
        '\t seq-hi 0x1, seq 0x1d, oseq-hi 0x0, oseq 0x0\n' +
        '\t replay_window 128, bitmap-length 4\n' +
        '\t 00000000 00000000 00000000 00000000 \n' +
        '\tsel src ::/0 dst ::/0 \n',
    ),
    out,
  );
  // 64 > 32: no ESN flag, but the ESN structure (bitmap of 2 words) and replay-window 0.
  assert.match(out, /spi 0x00000201 reqid 0 mode transport\n\treplay-window 0 \n\tenc cbc\(aes\) [^\n]+\n\tanti-replay esn context:\n[^\n]+\n\t replay_window 64, bitmap-length 2\n\t 00000000 00000000 \n/);
});

test('ip -s xfrm state adds spi/reqid numbers, seq, flag bits, key sizes, lifetimes and stats', () => {
  const x = fresh();
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x10 reqid 3 mode tunnel replay-window 32 flag noecn af-unspec enc aes ${AES128} limit time-soft 300 limit time-hard 600 limit byte-hard 1000000 limit packet-soft 5000`);
  assert.equal(
    ok(x, 'state list', { stats: 1 }),
    'src 10.0.0.1 dst 10.0.0.2\n' +
      '\tproto esp spi 0x00000010(16) reqid 3(0x00000003) mode tunnel\n' +
      '\treplay-window 32 seq 0x00000000 flag noecn af-unspec (0x00100001)\n' +
      `\tenc cbc(aes) ${AES128} (128 bits)\n` +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tlifetime config:\n' +
      '\t  limit: soft (INF)(bytes), hard 1000000(bytes)\n' +
      '\t  limit: soft 5000(packets), hard (INF)(packets)\n' +
      '\t  expire add: soft 300(sec), hard 600(sec)\n' +
      '\t  expire use: soft 0(sec), hard 0(sec)\n' +
      '\tlifetime current:\n' +
      '\t  0(bytes), 0(packets)\n' +
      '\t  add 2026-11-28 03:00:00 use -\n' +
      '\tstats:\n' +
      '\t  replay-window 0 replay 0 failed 0\n',
  );
});

test('mark, output-mark, if_id, dir, pcpu-num, tfcpad, extra-flag and selector lines', () => {
  const x = fresh();
  ok(
    x,
    `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x300 reqid 2 mode tunnel enc aes ${AES128} sel src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 22 mark 5 output-mark 0x10 mask 0xff if_id 0x2a dir out pcpu-num 1 tfcpad 1200 extra-flag dont-encap-dscp`,
  );
  const out = ok(x, 'state');
  assert.equal(
    out,
    'src 10.0.0.1 dst 10.0.0.2\n' +
      '\tproto esp spi 0x00000300 reqid 2 mode tunnel\n' +
      '\treplay-window 0 \n' +
      '\tmark 0x5/0xffffffff output-mark 0x10/0xff\n' +
      `\tenc cbc(aes) ${AES128}\n` +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tif_id 0x2a\n' +
      '\ttfcpad 1200\n' +
      '\tdir out\n' +
      '\tpcpu-num 1\n' +
      '\tsel src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 22 \n',
  );
  // Extra flags are printed only with -s, glued to the flag list as iproute2 does.
  assert.match(ok(x, 'state', { stats: 1 }), /\treplay-window 0 seq 0x00000000 flag extra_flag dont-encap-dscp \(0x00000000\)\n/);
  // get needs the mark to find a marked SA.
  expectError(x, 'state get src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x300', 'RTNETLINK answers: No such process\n', 2);
  assert.equal(ok(x, 'state get src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x300 mark 5'), out);
});

test('policies list as ip xfrm policy does, with templates, levels, -s details and socket policies', () => {
  const x = fresh();
  ok(x, 'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 100 tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel');
  ok(x, 'policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir in priority 100 tmpl src 10.0.0.2 dst 10.0.0.1 proto esp reqid 1 mode tunnel level use');
  ok(x, 'policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp type 8 code 0 dir fwd action block mark 0x1 mask 0xf if_id 3 flag localok icmp');
  x.setSocketPolicy('sock1', 1, {
    sel: emptySelector(2),
    dir: 1,
    action: 0,
    priority: 0,
    index: 0,
    flags: 0,
    tmpls: [],
    lft: x.spd.policies[0]!.lft,
  });
  assert.equal(
    ok(x, 'policy list'),
    'src 0.0.0.0/0 dst 0.0.0.0/0 \n' +
      '\tsocket out priority 0 ptype main \n' +
      'src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp type 8 code 0 \n' +
      '\tdir fwd action block priority 0 ptype main flag localok icmp\n' +
      '\tmark 0x1/0xf \n' +
      '\tif_id 0x3\n' +
      'src 10.2.0.0/16 dst 10.1.0.0/16 \n' +
      '\tdir in priority 100 ptype main \n' +
      '\ttmpl src 10.0.0.2 dst 10.0.0.1\n' +
      '\t\tproto esp reqid 1 mode tunnel\n' +
      '\t\tlevel use \n' +
      'src 10.1.0.0/16 dst 10.2.0.0/16 \n' +
      '\tdir out priority 100 ptype main \n' +
      '\ttmpl src 10.0.0.1 dst 10.0.0.2\n' +
      '\t\tproto esp reqid 1 mode tunnel\n',
  );
  const s = ok(x, 'policy list dir out', { stats: 1 });
  assert.ok(
    s.startsWith(
      'src 10.1.0.0/16 dst 10.2.0.0/16 uid 0\n' +
        '\tdir out action allow index 1 priority 100 ptype main share any flag  (0x00000000)\n' +
        '\tlifetime config:\n',
    ),
    s,
  );
  assert.ok(
    s.endsWith(
      '\ttmpl src 10.0.0.1 dst 10.0.0.2\n' +
        '\t\tproto esp spi 0x00000000(0) reqid 1(0x00000001) mode tunnel\n' +
        '\t\tlevel required share any \n' +
        '\t\tenc-mask ffffffff auth-mask ffffffff comp-mask ffffffff\n',
    ),
    s,
  );
  assert.equal(ok(x, 'policy count'), '\t SPD IN  1 OUT 1 FWD 1\n');
  assert.equal(ok(x, 'policy count', { stats: 1 }), '\t SPD IN  1 OUT 1 FWD 1 (Sock: IN 0 OUT 1 FWD 0)\n');
  assert.doesNotMatch(ok(x, 'policy list nosock'), /socket/);
});

test('policy indexes follow xfrm_gen_index: direction in the low 3 bits, generator steps by 8', () => {
  const x = fresh();
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir fwd');
  ok(x, 'policy add src 10.9.0.0/16 dst 10.0.0.0/8 dir in');
  assert.deepEqual(
    x.spd.policies.map((p) => p.index),
    [24, 18, 8, 1],
  );
  assert.match(ok(x, 'policy get index 18 dir fwd'), /dir fwd priority 0/);
  expectError(x, 'policy get index 18 dir in', 'RTNETLINK answers: No such file or directory\n', 2);
  // update keeps the index and the place among equal priorities.
  ok(x, 'policy update src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority 7');
  assert.equal(x.spd.policies.find((p) => p.dir === 1)!.index, 1);
  assert.match(ok(x, 'policy get src 10.0.0.0/8 dst 10.0.0.0/8 dir out'), /priority 7 /);
  ok(x, 'policy delete src 10.0.0.0/8 dst 10.0.0.0/8 dir out');
  expectError(x, 'policy delete src 10.0.0.0/8 dst 10.0.0.0/8 dir out', 'RTNETLINK answers: No such file or directory\n', 2);
});

test('get, delete, update, deleteall with filters, flush and count', () => {
  const x = fresh();
  for (const spi of [1, 2, 3]) ok(x, `state add src 10.0.0.1 dst 10.0.0.${spi + 1} proto esp spi ${spi} reqid ${spi} mode tunnel enc aes ${AES128}`);
  ok(x, `state add src 10.0.0.9 dst 10.0.0.1 proto ah spi 9 reqid 9 mode transport auth sha1 0x${'ab'.repeat(20)}`);
  assert.equal(ok(x, 'state count'), '\t SAD count 4\n');
  assert.match(ok(x, 'state get src 10.0.0.1 dst 10.0.0.3 proto esp spi 2'), /spi 0x00000002 reqid 2/);
  // update changes lifetimes of a live SA but never its keys (xfrm_state_update).
  ok(x, `state update src 10.0.0.1 dst 10.0.0.3 proto esp spi 2 reqid 2 mode tunnel enc aes 0x${'ff'.repeat(16)} limit time-hard 99`);
  const sa = x.findState({ family: 2, daddr: x.sad.states.find((s) => s.spi === 2)!.daddr, spi: 2, proto: 50 })!;
  assert.equal(sa.lft.hardAddExpiresSeconds, 99);
  assert.equal(Buffer.from(sa.enc!.key).toString('hex'), AES128.slice(2));
  expectError(x, `state update src 10.0.0.1 dst 10.0.0.7 proto esp spi 7 enc aes ${AES128}`, 'RTNETLINK answers: No such process\n', 2);
  // list filters: reqid, proto, address prefix
  assert.equal((ok(x, 'state list reqid 3').match(/^src /gm) ?? []).length, 1);
  assert.equal((ok(x, 'state list proto ah').match(/^src /gm) ?? []).length, 1);
  assert.equal((ok(x, 'state list dst 10.0.0.0/29').match(/^src /gm) ?? []).length, 4);
  ok(x, 'state deleteall proto esp reqid 1');
  assert.equal(ok(x, 'state count'), '\t SAD count 3\n');
  ok(x, 'state delete src 10.0.0.1 dst 10.0.0.3 proto esp spi 2');
  expectError(x, 'state delete src 10.0.0.1 dst 10.0.0.3 proto esp spi 2', 'RTNETLINK answers: No such process\n', 2);
  ok(x, 'state flush proto ah');
  assert.equal(ok(x, 'state count'), '\t SAD count 1\n');
  ok(x, 'state flush');
  assert.equal(ok(x, 'state'), '');
  ok(x, 'state flush'); // an empty table flushes fine
});

test('policy flush removes main policies only unless ptype sub is given; deleteall honours filters', () => {
  const x = fresh();
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out ptype sub');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in');
  ok(x, 'policy flush');
  assert.match(ok(x, 'policy'), /^src 10.0.0.0\/8 dst 10.0.0.0\/8 \n\tdir out priority 0 ptype sub \n$/);
  ok(x, 'policy flush ptype sub');
  assert.equal(ok(x, 'policy'), '');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in');
  ok(x, 'policy deleteall dir in');
  assert.equal(ok(x, 'policy count'), '\t SPD IN  0 OUT 1 FWD 0\n');
});

test('iproute2 command-line errors: texts and exit statuses', () => {
  const x = fresh();
  const E = (line: string, msg: string, status = 255) => expectError(x, line, msg, status);
  E('state add src', 'Command line is not complete. Try option "help"\n');
  E('state add proto esp spi 1 enc aes', 'Error: argument "ALGO-KEYMAT" is required\n');
  E(`state add reqid 1 enc aes ${AES128}`, 'Not enough information: ID is required\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 spi 1 enc aes ${AES128}`, 'Error: argument "XFRM-PROTO" is required\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1`, 'ALGO-TYPE value "enc" or "aead" is required with XFRM-PROTO value "esp"\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} comp deflate`, 'ALGO-TYPE value "comp" is invalid with XFRM-PROTO value "esp"\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto ah spi 1 mode beet auth sha1 ${AES128}`, 'MODE value is invalid with XFRM-PROTO value "ah"\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto comp spi 0x10000 comp deflate`, 'SPI value is too large with XFRM-PROTO value "comp"\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 aead 'rfc4106(gcm(aes))' ${GCM_KEY} 128 auth sha1 ${AES128}`, 'Error: duplicate "ALGO-TYPE": "auth" is the second value.\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 flag esn enc aes ${AES128}`, 'Error: esn flag set without replay-window.\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 replay-window 5000 enc aes ${AES128}`, 'Error: replay-window (5000) > XFRMA_REPLAY_ESN_MAX (4096).\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 mode sideways enc aes ${AES128}`, 'Error: argument "sideways" is wrong: MODE value is invalid\n');
  E(`state add src 10.0.0.1 dst 2001:db8::1 proto esp spi 1 enc aes ${AES128}`, 
    // iproute2 names the token it stopped on, not the address
    'Error: argument "1" is wrong: the same address family is required between values after "src" and "dst"\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} sel src 10.0.0.0/8 dst 2001:db8::/32`, 'Error: argument "2001:db8::/32" is wrong: the same address family is required between values after "src" and "dst"\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2/33 proto esp spi 1 enc aes ${AES128}`, 'Error: any valid prefix is expected rather than "10.0.0.2/33".\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir sideways enc aes ${AES128}`, 'Error: argument "sideways" is wrong: DIR value is not "in" or "out"\n');
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} sel src 10.0.0.0/8 proto icmp dport 5`, '"sport" and "dport" are invalid with PROTO value "icmp"\n', 1);
  E(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} limit time-forever 3`, 'Error: argument "time-forever" is wrong: LIMIT value is invalid\n');
  E('state frobnicate', 'Command "frobnicate" is unknown, try "ip xfrm state help".\n');
  E('policy add src 10.0.0.0/8 dst 10.0.0.0/8', 'Not enough information: DIR is required.\n', 1);
  E('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir up', 'Error: argument "up" is wrong: DIR value is invalid\n');
  E('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 mode tunnel', 'Error: argument "XFRM-PROTO" is required\n');
  // a template with no ID at all reaches the kernel, which rejects protocol 0
  E('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl mode tunnel', 'Error: Invalid XFRM protocol in template.\n', 2);
  E('policy get dir out', 'Not enough information: either SELECTOR or INDEX is required.\n', 1);
  E('policy get src 10.0.0.0/8 index 8 dir out', 'Error: either "SELECTOR" is duplicate, or "INDEX" is garbage.\n');
  E('policy add foo dir out', 'Error: duplicate "unknown": "foo" is the second value.\n');
});

test('key material never appears in an error message', () => {
  const x = fresh();
  const r = ip(x, 'state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes 0xdeadbeefzz00112233445566778899');
  assert.equal(r.stderr, 'Error: argument "<<Keys hidden>>" is wrong: ALGO-KEYMAT value is invalid\n');
  assert.equal(r.status, 255);
  const long = ip(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes 0x${'ab'.repeat(513)}`);
  assert.doesNotMatch(long.stderr, /abab/);
});

test('kernel validation (verify_newsa_info and friends) with its extack texts, exit status 2', () => {
  const x = fresh({ possibleCpus: 4 });
  const K = (line: string, msg: string) => expectError(x, line, msg, 2);
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 aead 'rfc4106(gcm(aes))' ${GCM_KEY} 100`, 'Error: Requested AEAD algorithm not found.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 aead 'rfc4543(gcm(aes))' ${GCM_KEY} 96`, 'Error: Requested AEAD algorithm not found.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 aead 'rfc4106(gcm(aes))' 0x0102 128`, 'Error: Kernel was unable to initialize cryptographic operations.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes 0x0102`, 'RTNETLINK answers: Invalid argument\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc 'cbc(twofish9)' ${AES128}`, 'Error: Requested CRYPT algorithm not found.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} auth 'hmac(md4)' ${AES128}`, 'Error: Requested AUTH algorithm not found.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128} auth-trunc sha1 ${AES128} 200`, 'Error: Invalid length requested for truncated ICV.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 mode transport tfcpad 100 enc aes ${AES128}`, 'Error: TFC padding can only be used in tunnel mode.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 mode transport enc aes ${AES128} sel src 2001:db8::/32`, 'Error: Only tunnel modes can accommodate a change of family.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out replay-window 32 enc aes ${AES128}`, 'Error: Replay window should be 0 for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out flag icmp enc aes ${AES128}`, 'Error: Flag ICMP should not be set for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out flag decap-dscp enc aes ${AES128}`, 'Error: Flag NDECAP_DSCP should not be set for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out replay-seq 5 enc aes ${AES128}`, 'Error: Replay seq and bitmap should be 0 for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out flag esn replay-seq 5 enc aes ${AES128}`, 'Error: Replay seq and seq_hi should be 0 for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir in flag nopmtudisc enc aes ${AES128}`, 'Error: Flag NOPMTUDISC should not be set for input SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir in extra-flag dont-encap-dscp enc aes ${AES128}`, 'Error: Flag DONT_ENCAP_DSCP should not be set for input SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir in replay-window 64 replay-oseq 3 enc aes ${AES128}`, 'Error: Replay oseq and oseq_hi should be 0 for input SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir in replay-window 64 replay-seq-hi 3 enc aes ${AES128}`, 'Error: Replay seq_hi should be 0 in non-ESN mode for input SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out flag esn replay-oseq 0xffffffff replay-oseq-hi 0xffffffff enc aes ${AES128}`, 'Error: Replay oseq and oseq_hi should be less than 0xFFFFFFFF for output SA.\n');
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 pcpu-num 4 enc aes ${AES128}`, 'Error: pCPU number too big.\n');
  // ESN with no window is fine for an output SA (xfrm_init_replay checks only !dir and in).
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 dir out flag esn enc aes ${AES128}`);
  K(`state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 1 enc aes ${AES128}`, 'RTNETLINK answers: File exists\n');
  // SPI 0 is accepted, as Linux does (RFC 4303 reserves it; the kernel does not check).
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0 enc aes ${AES128}`);
  assert.match(ok(x, 'state list spi 0'), /spi 0x00000000 reqid 0/);
});

test('kernel checks the ip command cannot reach, through the library API', async () => {
  const { XfrmError } = await import('../src/xfrm/index.js');
  const x = fresh();
  const base = {
    family: 2 as const,
    daddr: new Uint8Array(16),
    saddr: new Uint8Array(16),
    spi: 1,
    proto: 50,
    mode: 1,
    reqid: 0,
    flags: 0,
    replayWindow: 0,
    sel: (await import('../src/xfrm/index.js')).emptySelector(),
    lft: (await import('../src/xfrm/index.js')).infiniteLifetime(),
  };
  const key = new Uint8Array(20);
  const cases: [object, string][] = [
    [{ aead: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 }, auth: { name: 'hmac(sha1)', key } }, "Invalid attribute combination for ESP: AEAD can't be used with AUTH, AUTH_TRUNC, CRYPT"],
    [{}, 'Missing required attribute for ESP: at least one of AUTH, AUTH_TRUNC, CRYPT, AEAD'],
    [{ auth: { name: 'hmac(sha1)', key } }, 'ESP: AEAD or CRYPT must be provided'],
    [{ enc: { name: 'cbc(aes)', key: key.slice(0, 16) }, comp: { name: 'deflate' } }, 'Invalid attribute for ESP: COMP'],
    [{ proto: 51, enc: { name: 'cbc(aes)', key } }, 'Missing required attribute for AH: AUTH_TRUNC or AUTH'],
    [{ proto: 99 }, 'Unsupported protocol'],
    [{ enc: { name: 'cbc(aes)', key: key.slice(0, 16) }, flags: 128 }, 'Missing required attribute for ESN'],
    [
      { enc: { name: 'cbc(aes)', key: key.slice(0, 16) }, flags: 128, replayWindow: 32, replayEsn: { replayWindow: 32, bmpLen: 1, seq: 0, seqHi: 0, oseq: 0, oseqHi: 0, bmp: [0] } },
      'ESN not compatible with legacy replay_window',
    ],
    [
      { enc: { name: 'cbc(aes)', key: key.slice(0, 16) }, flags: 128, replayEsn: { replayWindow: 0, bmpLen: 0, seq: 0, seqHi: 0, oseq: 0, oseqHi: 0, bmp: [] } },
      'ESN replay window must be > 0',
    ],
    [{ enc: { name: 'cbc(aes)', key: key.slice(0, 16) }, mode: 9 }, 'Unsupported mode'],
  ];
  for (const [over, msg] of cases) {
    assert.throws(
      () => x.addState({ ...base, ...over } as never),
      (e: unknown) => e instanceof XfrmError && e.extack === msg,
      msg,
    );
  }
});

test('policy validation: index/direction, templates (count, optional tunnel on out, family change)', () => {
  const x = fresh();
  const K = (line: string, msg: string) => expectError(x, line, msg, 2);
  K('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out index 8', "Error: Policy index doesn't match direction.\n");
  K('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel level use', 'Error: Mode in optional template not allowed in outbound policy.\n');
  K('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in tmpl src 2001:db8::1 dst 2001:db8::2 proto esp mode transport', "Error: Mode in template doesn't support a family change.\n");
  const t = ' tmpl proto esp mode transport';
  K(`policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in${t.repeat(7)}`, 'Error: Template count must be <= XFRM_MAX_DEPTH (6).\n');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in tmpl src 2001:db8::1 dst 2001:db8::2 proto esp mode tunnel');
  K('policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in', 'RTNETLINK answers: File exists\n');
  // a 4in6 tunnel template prints its own family
  assert.match(ok(x, 'policy'), /\ttmpl src 2001:db8::1 dst 2001:db8::2\n\t\tproto esp reqid 0 mode tunnel\n/);
});

test('oneline output (-o) replaces line breaks with backslashes', () => {
  const x = fresh();
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel');
  assert.equal(
    ok(x, 'policy', { oneline: true }),
    'src 10.0.0.0/8 dst 10.0.0.0/8 \\\tdir out priority 0 ptype main \\\ttmpl src 1.1.1.1 dst 2.2.2.2\\\t\tproto esp reqid 0 mode tunnel\\\n',
  );
});

test('the state saves to plain JSON and lists identically after reloading', () => {
  const x = fresh();
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100 reqid 1 mode tunnel replay-window 128 flag esn aead 'rfc4106(gcm(aes))' ${GCM_KEY} 128 limit byte-soft 1000 encap espinudp 4500 4500 0.0.0.0`);
  ok(x, `state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x200 reqid 1 mode tunnel enc aes ${AES128} auth sha256 ${SHA_KEY} mark 3 if_id 9 sel src 10.1.0.0/16`);
  ok(x, 'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 5 tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel');
  x.stats.inc('XfrmInNoStates', 3);
  const text = JSON.stringify(serializeXfrm(x));
  const y = deserializeXfrm(JSON.parse(text), { clock: new ManualClock(T0) });
  for (const cmd of ['state', 'policy']) {
    assert.equal(ok(y, cmd, { stats: 1 }), ok(x, cmd, { stats: 1 }));
  }
  assert.equal(y.stats.format(), x.stats.format());
  // New policies continue the index sequence.
  ok(y, 'policy add src 10.3.0.0/16 dst 10.2.0.0/16 dir out');
  assert.equal(y.spd.policies[0]!.index, 9);
});

test('ip xfrm monitor prints recorded events as iproute2 does', () => {
  const x = fresh();
  ok(x, `state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100 mode tunnel enc aes ${AES128}`);
  ok(x, 'state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100');
  ok(x, 'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out');
  ok(x, 'state flush');
  ok(x, 'policy flush');
  const out = ok(x, 'monitor');
  assert.equal(
    out,
    'src 10.0.0.1 dst 10.0.0.2\n' +
      '\tproto esp spi 0x00000100 reqid 0 mode tunnel\n' +
      '\treplay-window 0 \n' +
      `\tenc cbc(aes) ${AES128}\n` +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n' +
      'Deleted src 10.0.0.1 dst 10.0.0.2\n' +
      '\tproto esp spi 0x00000100 reqid 0 mode tunnel\n' +
      '\treplay-window 0 \n' +
      `\tenc cbc(aes) ${AES128}\n` +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n' +
      'src 10.0.0.0/8 dst 10.0.0.0/8 \n' +
      '\tdir out priority 0 ptype main \n' +
      // the state flush found nothing, so (as in Linux) it notified nothing
      'Flushed policy ptype main \n',
  );
  assert.equal(ok(x, 'monitor policy'), 'src 10.0.0.0/8 dst 10.0.0.0/8 \n\tdir out priority 0 ptype main \nFlushed policy ptype main \n');
  expectError(x, 'monitor bogus', 'Argument "bogus" is unknown, try "ip xfrm monitor help".\n', 255);
});

test('allocspi reserves an SPI on a larval SA that update then completes (the IKE responder flow)', () => {
  let r = 0;
  const x = new Xfrm({ clock: new ManualClock(T0), random: () => (r = (r + 0.37) % 1) });
  const out = ok(x, 'state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp reqid 3 mode tunnel min 0x100 max 0x1ff');
  const spi = x.sad.states[0]!.spi;
  assert.ok(spi >= 0x100 && spi <= 0x1ff);
  assert.equal(
    out,
    'src 192.0.2.2 dst 192.0.2.1\n' +
      `\tproto esp spi 0x${spi.toString(16).padStart(8, '0')} reqid 3 mode tunnel\n` +
      '\treplay-window 0 \n' +
      '\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
      '\tsel src 192.0.2.2/32 dst 192.0.2.1/32 \n',
  );
  // add refuses the taken SPI; update turns the larval SA into the real one
  expectError(x, `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi ${spi} reqid 3 mode tunnel enc aes ${AES128}`, 'RTNETLINK answers: File exists\n', 2);
  ok(x, `state update src 192.0.2.2 dst 192.0.2.1 proto esp spi ${spi} reqid 3 mode tunnel enc aes ${AES128}`);
  assert.deepEqual(x.sad.states.map((s) => [s.spi, s.kmState]), [[spi, 'valid']]);
  expectError(x, 'state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 5 max 4', 'value after "min" is larger than value after "max"\n', 1);
  expectError(x, 'state allocspi src 192.0.2.2 dst 192.0.2.1 proto route2 min 5 max 6', 'Error: Invalid protocol, must be one of AH, ESP, IPCOMP.\n', 2);
});
