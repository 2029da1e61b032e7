/**
 * The engine end to end: rules as nft --debug=netlink prints them, committed
 * in a batch, packets through evaluateHook — interpreter and JIT alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook, NF_INET_LOCAL_IN } from '../src/netfilter/hooks.js';
import type { HookContext } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet, ipv6Packet, ruleFromText, baseChainOps } from '../src/netfilter/testing.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import { NF_ACCEPT, NF_DROP, NFT_SET_ANONYMOUS, NFT_SET_CONSTANT, NFT_SET_INTERVAL, NFT_SET_MAP, NFT_DATA_VERDICT, NFT_JUMP } from '../src/netfilter/bytecode.js';
import { formatTrace } from '../src/netfilter/trace.js';
import type { Packet } from '../src/packet/packet.js';

const host = new NullHostServices();
const clock = new VirtualClock(1_000_000);

function load(ops: BatchOp[]): Ruleset {
  const r = new Ruleset();
  const res = commitBatch(r, ops, clock);
  assert.ok(res.ok, JSON.stringify(res));
  return r;
}

function fate(r: Ruleset, pkt: () => Packet, family = 2, hook = NF_INET_LOCAL_IN): number {
  const ctx: HookContext = { host, clock, jit: false };
  const a = evaluateHook(r, family, hook, pkt(), ctx).verdict;
  const b = evaluateHook(r, family, hook, pkt(), { ...ctx, jit: true }).verdict;
  assert.equal(a, b, 'interpreter and JIT disagree');
  return a;
}

const rule = (text: string, source?: string) => ruleFromText(text, source);

test('tcp dport 22 accept, policy drop', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_DROP),
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ meta load l4proto => reg 1 ]
  [ cmp eq reg 1 0x00000006 ]
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ cmp eq reg 1 0x00001600 ]
  [ immediate reg 0 accept ]`, 'tcp dport 22 accept') },
  ]);
  assert.equal(fate(r, () => ipv4Packet({ dport: 22 })), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet({ dport: 23 })), NF_DROP);
  assert.equal(fate(r, () => ipv4Packet({ proto: 17, dport: 22 })), NF_DROP);
});

test('a load past the end of the packet breaks the rule', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ payload load 4b @ transport header + 100 => reg 1 ]
  [ cmp neq reg 1 0x00000001 ]
  [ immediate reg 0 drop ]`) },
  ]);
  assert.equal(fate(r, () => ipv4Packet({ dport: 22 })), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet({ dport: 22, payload: 200 })), NF_DROP);
});

test('meta keys the packet lacks break the rule (iif on a locally generated packet)', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ meta load iif => reg 1 ]
  [ cmp neq reg 1 0x00000005 ]
  [ immediate reg 0 drop ]`) },
  ]);
  assert.equal(fate(r, () => ipv4Packet()), NF_ACCEPT);
  assert.equal(fate(r, () => { const p = ipv4Packet(); p.meta.iif = 3; return p; }), NF_DROP);
});

test('ranges compare in network byte order; and in host order after byteorder', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ range eq reg 1 0x00001f00 0x00002d00 ]
  [ immediate reg 0 drop ]`, 'tcp dport 31-45 drop') },
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ meta load mark => reg 1 ]
  [ byteorder reg 1 = hton(reg 1, 4, 4) ]
  [ range eq reg 1 0x00010000 0x00020000 ]
  [ immediate reg 0 drop ]`, 'meta mark 256-512 drop') },
  ]);
  assert.equal(fate(r, () => ipv4Packet({ dport: 31 })), NF_DROP);
  assert.equal(fate(r, () => ipv4Packet({ dport: 45 })), NF_DROP);
  assert.equal(fate(r, () => ipv4Packet({ dport: 46 })), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet({ dport: 30 })), NF_ACCEPT);
  // 300 = 0x12c sits between 256 and 512 only as a number, not as little-endian bytes.
  assert.equal(fate(r, () => { const p = ipv4Packet({ dport: 1 }); p.meta.mark = 300; return p; }), NF_DROP);
  assert.equal(fate(r, () => { const p = ipv4Packet({ dport: 1 }); p.meta.mark = 513; return p; }), NF_ACCEPT);
});

test('anonymous set lookup, and an interval set with prefixes', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newset', family: 2, set: { table: 't', name: '__set%d', id: 1, flags: NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, keyType: 13, keyLen: 2,
      elements: [22, 80, 443].map((p) => ({ key: Uint8Array.of(p >> 8, p & 0xff), flags: 0 })) } },
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ lookup reg 1 set __set%d ]
  [ immediate reg 0 drop ]`) },
    { op: 'newset', family: 2, set: { table: 't', name: 'nets', flags: NFT_SET_INTERVAL, keyType: 7, keyLen: 4,
      elements: [
        { key: Uint8Array.of(192, 168, 0, 0), flags: 0 }, { key: Uint8Array.of(192, 169, 0, 0), flags: 1 },
        { key: Uint8Array.of(10, 0, 0, 0), flags: 0 }, { key: Uint8Array.of(11, 0, 0, 0), flags: 1 },
      ] } },
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ payload load 4b @ network header + 12 => reg 1 ]
  [ lookup reg 1 set nets 0x1 ]
  [ immediate reg 0 drop ]`) },
  ]);
  // The anonymous set got a real name.
  assert.ok(r.table(2, 't')!.sets.has('__set0'));
  assert.equal(fate(r, () => ipv4Packet({ dport: 443, src: '10.1.2.3' })), NF_DROP);
  assert.equal(fate(r, () => ipv4Packet({ dport: 444, src: '10.1.2.3' })), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet({ dport: 444, src: '192.168.255.255' })), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet({ dport: 444, src: '192.169.0.0' })), NF_DROP);
  assert.equal(fate(r, () => ipv4Packet({ dport: 444, src: '11.0.0.0' })), NF_DROP);
});

test('verdict map jumps, return and the trace nft monitor prints', () => {
  const r = load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_DROP),
    { op: 'newchain', family: 2, table: 't', chain: 'ssh' },
    { op: 'newrule', family: 2, table: 't', chain: 'ssh', append: true, rule: rule(`
  [ counter pkts 0 bytes 0 ]`, 'counter') },
    { op: 'newset', family: 2, set: { table: 't', name: '__map%d', id: 2, flags: NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP, keyType: 13, keyLen: 2,
      dataType: NFT_DATA_VERDICT, dataLen: 16, elements: [{ key: Uint8Array.of(0, 22), flags: 0, verdict: { code: NFT_JUMP, chain: 'ssh' } }] } },
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: { ...rule(`
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ lookup reg 1 set __map%d dreg 0 ]`, 'tcp dport vmap { 22 : jump ssh }'), exprs: rule(`
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ lookup reg 1 set __map%d dreg 0 ]`).exprs.map((e) => (e.type === 'lookup' ? { ...e, setId: 2 } : e)) } },
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: rule(`
  [ immediate reg 0 accept ]`, 'accept') },
  ]);
  const res = evaluateHook(r, 2, NF_INET_LOCAL_IN, ipv4Packet({ dport: 22 }), { host, clock, traceAll: true, traceId: 0xabc });
  assert.equal(res.verdict, NF_ACCEPT);
  const lines = res.traces.flatMap((e) => formatTrace(e));
  assert.deepEqual(lines, [
    'trace id 00000abc ip t input packet: ',
    'trace id 00000abc ip t input rule tcp dport vmap { 22 : jump ssh } (verdict jump ssh)',
    'trace id 00000abc ip t ssh rule counter (verdict continue)',
    'trace id 00000abc ip t input rule accept (verdict accept)',
  ]);
  const ctr = r.table(2, 't')!.chains.get('ssh')!.rules[0]!.exprs[0]!;
  assert.equal(ctr.type === 'counter' && ctr.packets, 1);
  const res2 = evaluateHook(r, 2, NF_INET_LOCAL_IN, ipv4Packet({ dport: 22 }), { host, clock, jit: true, traceAll: true, traceId: 0xabc });
  assert.deepEqual(res2.traces.flatMap((e) => formatTrace(e)), lines);
});

test('IPv6 extension header lookup and inet tables at the ip6 hook', () => {
  const r = load([
    ...baseChainOps(1, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newrule', family: 1, table: 't', chain: 'input', append: true, rule: rule(`
  [ exthdr load ipv6 1b @ 44 + 0 present => reg 1 ]
  [ cmp eq reg 1 0x00000001 ]
  [ immediate reg 0 drop ]`, 'exthdr frag exists drop') },
  ]);
  assert.equal(fate(r, () => ipv6Packet({ ext: [0, 44] }), 10), NF_DROP);
  assert.equal(fate(r, () => ipv6Packet({ ext: [0] }), 10), NF_ACCEPT);
  assert.equal(fate(r, () => ipv4Packet(), 2), NF_ACCEPT);
});

test('queue without a listener drops, with bypass accepts', () => {
  const mk = (flags: number) => load([
    ...baseChainOps(2, 't', 'input', NF_INET_LOCAL_IN, NF_ACCEPT),
    { op: 'newrule', family: 2, table: 't', chain: 'input', append: true, rule: { exprs: [{ type: 'queue', num: 3, total: 1, flags }] } },
  ]);
  assert.equal(fate(mk(0), () => ipv4Packet()), NF_DROP);
  assert.equal(fate(mk(1), () => ipv4Packet()), NF_ACCEPT);
});
