/**
 * Selectors and addresses: xfrm_selector_match against a straightforward
 * reference over random selectors and flows, and address text in both
 * directions against glibc's inet_pton/inet_ntop (through Debian's python3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import {
  emptySelector,
  formatAddress,
  parseAddress,
  prefixMatch,
  selectorMatch,
  selectorFromFlow,
  type XfrmFlow,
  type XfrmSelector,
} from '../src/xfrm/index.js';

const v4 = (s: string) => parseAddress(s, 2)!.addr;

function refPrefix(a: Uint8Array, b: Uint8Array, plen: number): boolean {
  const bits = (x: Uint8Array) => [...x].map((n) => n.toString(2).padStart(8, '0')).join('');
  return bits(a).slice(0, plen) === bits(b).slice(0, plen);
}

function refMatch(sel: XfrmSelector, fl: XfrmFlow): boolean {
  return (
    refPrefix(fl.daddr, sel.daddr, sel.prefixlenD) &&
    refPrefix(fl.saddr, sel.saddr, sel.prefixlenS) &&
    (sel.dportMask === 0 || fl.dport === sel.dport) &&
    (sel.sportMask === 0 || fl.sport === sel.sport) &&
    (sel.proto === 0 || sel.proto === fl.proto) &&
    (sel.ifindex === 0 || sel.ifindex === (fl.oif ?? 0))
  );
}

// Small alphabets so that matches actually happen.
const addr4 = fc.tuple(fc.constantFrom(10, 192), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })).map((b) => {
  const a = new Uint8Array(16);
  a.set(b);
  return a;
});
const port = fc.constantFrom(0, 22, 53, 443, 4500);
const proto = fc.constantFrom(0, 1, 6, 17, 50);

const selectorArb = fc.record({
  daddr: addr4,
  saddr: addr4,
  prefixlenD: fc.integer({ min: 0, max: 32 }),
  prefixlenS: fc.integer({ min: 0, max: 32 }),
  dport: port,
  sport: port,
  proto,
  ifindex: fc.constantFrom(0, 0, 2, 3),
}).map((r): XfrmSelector => ({
  ...emptySelector(2),
  ...r,
  dportMask: r.dport ? 0xffff : 0,
  sportMask: r.sport ? 0xffff : 0,
}));
const flowArb = fc.record({ daddr: addr4, saddr: addr4, dport: port, sport: port, proto: fc.constantFrom(1, 6, 17, 50), oif: fc.constantFrom(0, 2, 3) }).map(
  (r): XfrmFlow => ({ family: 2, ...r }),
);

test('selector matching equals the reference definition for random selectors and flows', () => {
  fc.assert(fc.property(selectorArb, flowArb, (sel, fl) => selectorMatch(sel, fl) === refMatch(sel, fl)), { numRuns: 5000 });
});

test('prefixMatch agrees with a bitwise comparison for every length 0..128', () => {
  const bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
  fc.assert(
    fc.property(bytes, bytes, fc.integer({ min: 0, max: 128 }), (a, b, n) => prefixMatch(a, b, n) === refPrefix(a, b, n)),
    { numRuns: 3000 },
  );
});

test('a larval selector (from the flow) matches exactly that flow', () => {
  fc.assert(fc.property(flowArb, flowArb, (a, b) => selectorMatch(selectorFromFlow(a), b) === (
    refPrefix(a.daddr, b.daddr, 32) && refPrefix(a.saddr, b.saddr, 32) && a.dport === b.dport && a.sport === b.sport && a.proto === b.proto && (a.oif === 0 || a.oif === b.oif)
  )));
});

test('ICMP type and code live in the port fields, as xfrm_flowi_sport/dport present them', () => {
  const sel = { ...emptySelector(2), proto: 1, sport: 8, sportMask: 0xffff, dport: 0, dportMask: 0xffff };
  const echo: XfrmFlow = { family: 2, saddr: v4('10.0.0.1'), daddr: v4('10.0.0.2'), proto: 1, sport: 8, dport: 0 };
  assert.equal(selectorMatch(sel, echo), true);
  assert.equal(selectorMatch(sel, { ...echo, sport: 0 }), false, 'echo reply (type 0) is not echo request');
  assert.equal(selectorMatch(sel, { ...echo, dport: 1 }), false, 'code must match');
});

test('IPv6 text: parse and print agree with glibc inet_pton/inet_ntop', (t) => {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return t.skip('/usr/bin/python3 not installed');
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
  const samples: Uint8Array[] = fc.sample(fc.array(group, { minLength: 8, maxLength: 8 }), 400).map((w) => {
    const a = new Uint8Array(16);
    w.forEach((g, i) => {
      a[2 * i] = g >> 8;
      a[2 * i + 1] = g & 0xff;
    });
    return a;
  });
  samples.push(new Uint8Array(16), v4('1.2.3.4'));
  const hex = samples.map((a) => Buffer.from(a).toString('hex'));
  const r = spawnSync(py, ['-c', 'import sys,socket\nfor l in sys.stdin.read().split():\n print(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(l)))'], {
    input: hex.join('\n'),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const glibc = r.stdout.trim().split('\n');
  samples.forEach((a, i) => {
    assert.equal(formatAddress(10, a), glibc[i], hex[i]);
    assert.deepEqual(parseAddress(glibc[i]!, 10)!.addr, a, `round trip ${glibc[i]}`);
  });
});

test('IPv4 text is a strict dotted quad, as iproute2 get_addr_ipv4 wants', () => {
  assert.equal(formatAddress(2, v4('192.0.2.255')), '192.0.2.255');
  for (const bad of ['1.2.3', '1.2.3.256', '01x.2.3.4', '1.2.3.4.5', '']) assert.equal(parseAddress(bad, 2), null, bad);
  assert.equal(parseAddress('2001:db8::1', 2), null, 'family mismatch');
  assert.equal(parseAddress('1::2::3'), null);
});
