/**
 * Rule text → bytecode, checked against what nft 1.0.6 prints with
 * --debug=netlink (lines taken from the tests/py payload files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRuleText, debugNetlinkLines } from '../src/nft/index.js';
import type { Family } from '../src/nft/ast.js';

function expectBytecode(family: Family, rule: string, lines: string[]): void {
  const c = compileRuleText(rule, { family, table: 't', chain: 'c' });
  const got = debugNetlinkLines(c, family, 't', 'c').filter((l) => l.startsWith('  [ ')).map((l) => l.trim());
  assert.deepEqual(got, lines, rule);
}

test('a transport match gains `meta l4proto` in every family', () => {
  for (const f of ['ip', 'ip6', 'inet', 'netdev'] as const) {
    expectBytecode(f, 'tcp dport 22', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp eq reg 1 0x00001600 ]']);
  }
});

test('a network-header match gains nfproto in inet and the ethertype in bridge', () => {
  expectBytecode('ip', 'ip dscp cs1', ['[ payload load 1b @ network header + 1 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x000000fc ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000020 ]']);
  expectBytecode('inet', 'ip dscp cs1', ['[ meta load nfproto => reg 1 ]', '[ cmp eq reg 1 0x00000002 ]', '[ payload load 1b @ network header + 1 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x000000fc ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000020 ]']);
  expectBytecode('bridge', 'ip dscp cs1', ['[ meta load protocol => reg 1 ]', '[ cmp eq reg 1 0x00000008 ]', '[ payload load 1b @ network header + 1 => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x000000fc ) ^ 0x00000000 ]', '[ cmp eq reg 1 0x00000020 ]']);
});

test('ranges: == is two comparisons, != a range expression', () => {
  expectBytecode('ip', 'tcp dport 33-45', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp gte reg 1 0x00002100 ]', '[ cmp lte reg 1 0x00002d00 ]']);
  expectBytecode('ip', 'tcp dport != 33-45', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ range neq reg 1 0x00002100 0x00002d00 ]']);
});

test('anonymous sets and verdict maps', () => {
  const c = compileRuleText('tcp dport {telnet, http, https} accept', { family: 'inet', table: 't', chain: 'c' });
  assert.equal(c.sets.length, 1);
  assert.equal(c.sets[0]!.flags, 3);
  assert.deepEqual(debugNetlinkLines(c, 'inet', 't', 'c').slice(-3).map((l) => l.trim()), ['[ payload load 2b @ transport header + 2 => reg 1 ]', '[ lookup reg 1 set __set%d ]', '[ immediate reg 0 accept ]']);
  const m = compileRuleText('tcp dport vmap { 22 : accept, 23 : drop }', { family: 'ip', table: 't', chain: 'c' });
  assert.equal(m.sets[0]!.flags, 0xb);
  assert.equal(m.sets[0]!.elements[0]!.verdict!.code, 1);
});

test('interval sets: ranges become start/end elements, with an end at 0', () => {
  const c = compileRuleText('tcp dport { 22, 123-125 }', { family: 'ip', table: 't', chain: 'c' });
  const el = c.sets[0]!.elements.map((e) => `${Buffer.from(e.key).toString('hex')}:${e.flags}`);
  assert.deepEqual(el, ['0000:1', '0016:0', '0017:1', '007b:0', '007e:1']);
  assert.equal(c.sets[0]!.flags, 7);
});

test('flags: an implicit match tests bits, an explicit one compares', () => {
  expectBytecode('ip', 'ct state established,related', ['[ ct load state => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]', '[ cmp neq reg 1 0x00000000 ]']);
  expectBytecode('ip', 'tcp flags == syn', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 1b @ transport header + 13 => reg 1 ]', '[ cmp eq reg 1 0x00000002 ]']);
});

test('adjacent payload matches merge into one load', () => {
  expectBytecode('ip', 'tcp sport 1024 tcp dport 22', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 4b @ transport header + 0 => reg 1 ]', '[ cmp eq reg 1 0x16000004 ]']);
});

test('nat: address and port in consecutive 128-bit registers', () => {
  expectBytecode('ip', 'tcp dport 80 dnat to 1.1.1.1:80', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp eq reg 1 0x00005000 ]', '[ immediate reg 1 0x01010101 ]', '[ immediate reg 2 0x00005000 ]', '[ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]']);
});

test('concatenations use consecutive 32-bit registers', () => {
  const c = compileRuleText('ip saddr . tcp dport { 10.0.0.1 . 22 }', { family: 'ip', table: 't', chain: 'c' });
  const lines = debugNetlinkLines(c, 'ip', 't', 'c').filter((l) => l.startsWith('  [ ')).map((l) => l.trim());
  assert.ok(lines.includes('[ payload load 4b @ network header + 12 => reg 1 ]'));
  assert.ok(lines.includes('[ payload load 2b @ transport header + 2 => reg 9 ]'));
});

test('the first transport protocol a rule names wins, as nft 1.0.6 proto_ctx_update keeps it', () => {
  // nft: "conflicting protocols specified: icmp vs. tcp" (checked against the real binary).
  assert.throws(() => compileRuleText('ip protocol icmp meta l4proto tcp tcp dport 22', { family: 'ip', table: 't', chain: 'c' }), /conflicting protocols specified: icmp vs\. tcp/);
  assert.throws(() => compileRuleText('icmp type 2 icmp mtu 5', { family: 'ip', table: 't', chain: 'c' }), /incompatible icmp match: rule has 2, need 3/);
  expectBytecode('ip', 'meta l4proto tcp tcp dport 22', ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp eq reg 1 0x00001600 ]']);
});

test('TCP options: `reset tcp option` strips, `@kind,offset,length` reads raw bits', () => {
  expectBytecode('ip', 'reset tcp option mptcp', ['[ exthdr reset tcpopt 30 ]']);
  expectBytecode('ip', 'reset tcp option 123', ['[ exthdr reset tcpopt 123 ]']);
  expectBytecode('ip', 'tcp option @255,8,8 255', ['[ exthdr load tcpopt 1b @ 255 + 1 => reg 1 ]', '[ cmp eq reg 1 0x000000ff ]']);
  assert.throws(() => compileRuleText('reset tcp option meh', { family: 'ip', table: 't', chain: 'c' }), /unknown tcp option meh/);
});

test('meta nfproto is refused outside inet tables, as nft 1.0.6 refuses it', () => {
  for (const family of ['ip', 'ip6', 'bridge', 'netdev', 'arp'] as Family[]) {
    assert.throws(() => compileRuleText('meta nfproto ipv4 accept', { family, table: 't', chain: 'c' }), /meta nfproto is only useful in the inet family/, family);
  }
  expectBytecode('inet', 'meta nfproto ipv4', ['[ meta load nfproto => reg 1 ]', '[ cmp eq reg 1 0x00000002 ]']);
});
