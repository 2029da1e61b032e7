/**
 * Our `ip xfrm` printer against iproute2's own: every event is encoded as
 * the netlink message Linux would multicast (src/xfrm/netlink.ts) and fed to
 * this machine's `ip xfrm monitor file`, which prints it with iproute2's
 * code. Random SAs and policies, with and without -s, must print identically.
 * (The kernel here lacks ESP, so complete SAs cannot be listed from the
 * kernel itself; this checks the same printer on the same bytes.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  ManualClock,
  Xfrm,
  checkNatMapping,
  formatXfrmEvent,
  ipXfrm,
  lookupOutput,
  parseAddress,
  tick,
  type XfrmEvent,
} from '../src/xfrm/index.js';
import { encodeXfrmEvent } from '../src/xfrm/netlink.js';

function ipAvailable(): boolean {
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

function iproute2Prints(events: readonly XfrmEvent[], stats: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-xfrm-'));
  try {
    const file = join(dir, 'events.nl');
    writeFileSync(file, Buffer.concat(events.map((e) => Buffer.from(encodeXfrmEvent(e)))));
    // strxf_time() uses local time; we print UTC.
    const r = spawnSync('ip', [...Array<string>(stats).fill('-s'), 'xfrm', 'monitor', 'file', file], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    assert.equal(r.stderr, '');
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compare(events: readonly XfrmEvent[]): void {
  for (const stats of [0, 1, 2]) {
    const ours = events.map((e) => formatXfrmEvent(e, { stats })).join('');
    assert.equal(ours, iproute2Prints(events, stats), `with ${stats} -s`);
  }
}

const words = (l: string) => l.match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"(.*)"$/, '$1'));

const key = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => '0x' + Buffer.from(b).toString('hex'));
const v4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((a) => a.join('.'));
const v6 = fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
const algos = fc.oneof(
  fc.tuple(fc.constantFrom(64, 96, 128), key(20)).map(([icv, k]) => `aead rfc4106(gcm(aes)) ${k} ${icv}`),
  key(36).map((k) => `aead rfc7539esp(chacha20,poly1305) ${k} 128`),
  fc.tuple(fc.constantFrom(64, 96, 128), key(19)).map(([icv, k]) => `aead rfc4309(ccm(aes)) ${k} ${icv}`),
  key(20).map((k) => `aead rfc4543(gcm(aes)) ${k} 128`),
  fc.tuple(key(16), key(32), fc.constantFrom('sha256', 'hmac(sha1)', 'hmac(sha512)', 'xcbc(aes)')).map(([e, a, n]) => `enc aes ${e} auth ${n} ${n === 'xcbc(aes)' ? e : a}`),
  fc.tuple(key(24), key(20), fc.constantFrom(96, 128, 160)).map(([e, a, t]) => `enc rfc3686(ctr(aes)) ${e} auth-trunc sha1 ${a} ${t}`),
  key(16).map((a) => `enc cipher_null "" auth-trunc cmac(aes) ${a} 96`),
);
const extras = fc.record({
  mode: fc.constantFrom('transport', 'tunnel', 'beet'),
  reqid: fc.nat(),
  replay: fc.oneof(
    fc.constant(''),
    fc.constantFrom(0, 32, 64, 128, 4096).map((w) => `replay-window ${w}`),
    fc.tuple(fc.constantFrom(64, 256, 1024), fc.nat(), fc.nat()).map(([w, s, h]) => `replay-window ${w} replay-seq ${s} replay-seq-hi ${h} flag esn`),
  ),
  flags: fc.subarray(['noecn', 'decap-dscp', 'nopmtudisc', 'wildrecv', 'icmp', 'af-unspec', 'align4']).map((f) => (f.length ? `flag ${f.join(' ')}` : '')),
  mark: fc.oneof(fc.constant(''), fc.tuple(fc.nat(), fc.nat()).map(([v, m]) => `mark ${v} mask ${m}`)),
  omark: fc.oneof(fc.constant(''), fc.integer({ min: 1, max: 0xffff }).map((v) => `output-mark ${v}`)),
  ifid: fc.oneof(fc.constant(''), fc.nat().map((v) => `if_id ${v}`)),
  encap: fc.oneof(fc.constant(''), fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([s, d]) => `encap espinudp ${s} ${d} 0.0.0.0`)),
  limits: fc.subarray(['limit time-soft 30', 'limit time-hard 60', 'limit byte-soft 1000', 'limit packet-hard 99', 'limit time-use-hard 7']).map((l) => l.join(' ')),
  extra: fc.constantFrom('', 'extra-flag dont-encap-dscp', 'extra-flag oseq-may-wrap'),
  sel: fc.constantFrom('', 'sel src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 443', 'sel proto icmp type 3 code 1', 'sel src 10.3.0.0/24 proto gre key 77'),
});

test('random SAs print as iproute2 prints them (add, update, delete, expire)', (t) => {
  if (!ipAvailable()) return t.skip('ip (iproute2) not installed');
  const samples = fc.sample(fc.tuple(fc.boolean(), v4, v4, v6, v6, fc.nat(), algos, extras), { numRuns: 150, seed: 4303 });
  const x = new Xfrm({ clock: new ManualClock(Date.UTC(2026, 10, 28, 3, 0, 0)) });
  let accepted = 0;
  for (const [six, s4, d4, s6, d6, spi, algo, e] of samples) {
    const [src, dst] = six ? [s6, d6] : [s4, d4];
    const line = `state add src ${src} dst ${dst} proto esp spi ${spi} reqid ${e.reqid} mode ${e.mode} ${algo} ${e.replay} ${e.flags} ${e.mark} ${e.omark} ${e.ifid} ${e.encap} ${e.limits} ${e.extra} ${e.sel}`;
    if (ipXfrm(words(line), x).status === 0) accepted++;
  }
  assert.ok(accepted > 50, `only ${accepted} random SAs were valid`);
  // some updates, deletes and expiries
  for (const sa of x.sad.states.slice(0, 10)) sa.curlft.bytes = 1234;
  x.clock.nowMs = () => Date.UTC(2026, 10, 28, 3, 1, 0);
  tick(x);
  const first = x.sad.states[0]!;
  ipXfrm(['state', 'delete', 'src', '0.0.0.0', 'dst', '0.0.0.0', 'proto', 'esp', 'spi', '1'], x);
  if (first) x.deleteState({ family: first.family, daddr: first.daddr, spi: first.spi, proto: 50, mark: first.mark });
  compare(x.events.log.slice(-256));
});

test('policies, acquires, mappings, flushes and defaults print as iproute2 prints them', (t) => {
  if (!ipAvailable()) return t.skip('ip (iproute2) not installed');
  const x = new Xfrm({ clock: new ManualClock(Date.UTC(2026, 10, 28, 3, 0, 0)) });
  x.events.subscribe(() => {});
  const A = (s: string) => parseAddress(s)!.addr;
  for (const l of [
    'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 100 tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel tmpl proto ah mode transport level use',
    'policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 50 mark 3 if_id 4 flag icmp',
    'policy add src 2001:db8:1::/48 dst 2001:db8:2::/48 proto ipv6-icmp type 135 dir fwd action block ptype sub',
    'policy add src 10.5.0.0/16 dst 10.6.0.0/16 proto udp sport 500 dport 4500 dir in limit time-hard 3 limit time-soft 1 tmpl src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1234 reqid 9 mode tunnel',
    'policy delete src 10.1.0.0/16 dst 10.2.0.0/16 dir out mark 3 if_id 4',
    'policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 4 mode tunnel',
    'state add src 198.51.100.7 dst 192.0.2.1 proto esp spi 0xc001 reqid 9 mode tunnel enc aes 0x000102030405060708090a0b0c0d0e0f encap espinudp 4500 4500 0.0.0.0',
    'policy setdefault fwd block out block',
  ])
    assert.equal(ipXfrm(words(l), x).status, 0, l);
  lookupOutput(x, { family: 2, saddr: A('10.1.0.5'), daddr: A('10.2.0.9'), proto: 6, sport: 40000, dport: 22 });
  lookupOutput(x, { family: 2, saddr: A('10.1.0.6'), daddr: A('10.2.0.9'), proto: 1, sport: 8, dport: 0 });
  checkNatMapping(x, x.sad.states.find((s) => s.spi === 0xc001)!, A('203.0.113.9'), 31000);
  x.clock.nowMs = () => Date.UTC(2026, 10, 28, 3, 0, 5);
  tick(x);
  ipXfrm(words('policy flush'), x);
  ipXfrm(words('policy flush ptype sub'), x);
  ipXfrm(words('state flush proto esp'), x);
  compare(x.events.log);
});
