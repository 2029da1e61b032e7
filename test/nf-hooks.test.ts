/**
 * Hooks: base chains of every table registered at a hook run by priority;
 * accept passes to the next chain, drop ends; netdev chains see only their
 * devices; dormant tables are skipped; the jump stack is 16 deep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset, serialize, deserialize } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook, NF_INET_PRE_ROUTING, NF_NETDEV_INGRESS } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet, ipv6Packet } from '../src/netfilter/testing.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Rule } from '../src/netfilter/bytecode.js';
import { NF_ACCEPT, NF_DROP, NFT_META, NFT_SET_MAP } from '../src/netfilter/bytecode.js';
import { formatTrace } from '../src/netfilter/trace.js';

const clock = new VirtualClock(0);
const host = new NullHostServices();
host.devices.set(2, { ifindex: 2, name: 'eth0', type: 1, group: 0, kind: '' });
host.devices.set(3, { ifindex: 3, name: 'eth1', type: 1, group: 0, kind: '' });

/** A rule that sets the packet mark to `n` (so the last chain to run is visible), then an optional verdict. */
function markRule(n: number, verdict?: number): Rule {
  const r: Rule = { exprs: [] };
  r.exprs.push({ type: 'immediate', dreg: 1, data: Uint8Array.of(n, 0, 0, 0) });
  r.exprs.push({ type: 'meta', key: NFT_META.MARK, sreg: 1 });
  if (verdict !== undefined) r.exprs.push({ type: 'immediate', dreg: 0, verdict: { code: verdict } });
  return r;
}

function chainOps(family: number, table: string, chain: string, hooknum: number, priority: number, rule: Rule, devices?: string[]): BatchOp[] {
  return [
    { op: 'newtable', family, table },
    { op: 'newchain', family, table, chain, hook: devices ? { hooknum, priority, devices } : { hooknum, priority }, type: 'filter', policy: NF_ACCEPT },
    { op: 'newrule', family, table, chain, append: true, rule },
  ];
}

test('ip and inet chains interleave by priority; accept moves on, drop stops', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [
    ...chainOps(2, 'a', 'late', NF_INET_PRE_ROUTING, 10, markRule(3)),
    ...chainOps(1, 'b', 'early', NF_INET_PRE_ROUTING, -150, markRule(1, NF_ACCEPT)),
    ...chainOps(2, 'c', 'mid', NF_INET_PRE_ROUTING, 0, markRule(2)),
  ], clock).ok);
  const p = ipv4Packet();
  assert.equal(evaluateHook(r, 2, NF_INET_PRE_ROUTING, p, { host, clock }).verdict, NF_ACCEPT);
  assert.equal(p.meta.mark, 3, 'the priority-10 chain ran last');
  // IPv6 sees only the inet table.
  const p6 = ipv6Packet();
  evaluateHook(r, 10, NF_INET_PRE_ROUTING, p6, { host, clock });
  assert.equal(p6.meta.mark, 1);
  // A drop in the middle chain ends the walk.
  assert.ok(commitBatch(r, [{ op: 'newrule', family: 2, table: 'c', chain: 'mid', append: true, rule: markRule(9, NF_DROP) }], clock).ok);
  const q = ipv4Packet();
  const res = evaluateHook(r, 2, NF_INET_PRE_ROUTING, q, { host, clock });
  assert.deepEqual([res.verdict, res.table, res.chain, q.meta.mark], [NF_DROP, 'c', 'mid', 9]);
});

test('netdev ingress chains run only for their devices; dormant tables not at all', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...chainOps(5, 'n', 'in', NF_NETDEV_INGRESS, 0, markRule(7, NF_DROP), ['eth1'])], clock).ok);
  const on = (iif: number) => { const p = ipv4Packet(); p.meta.iif = iif; return evaluateHook(r, 5, NF_NETDEV_INGRESS, p, { host, clock }).verdict; };
  assert.equal(on(2), NF_ACCEPT);
  assert.equal(on(3), NF_DROP);
  assert.ok(commitBatch(r, [{ op: 'newtable', family: 5, table: 'n', flags: 1 }], clock).ok);
  assert.equal(on(3), NF_ACCEPT);
});

test('the jump stack: 15 nested jumps return in order; goto does not return', () => {
  const r = new Ruleset();
  const ops: BatchOp[] = [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'base', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: NF_DROP },
  ];
  for (let i = 1; i <= 15; i++) ops.push({ op: 'newchain', family: 2, table: 't', chain: `c${i}` });
  ops.push({ op: 'newrule', family: 2, table: 't', chain: 'base', append: true, rule: { exprs: [{ type: 'immediate', dreg: 0, verdict: { code: -3, chain: 'c1' } }] } });
  ops.push({ op: 'newrule', family: 2, table: 't', chain: 'base', append: true, rule: { exprs: [{ type: 'immediate', dreg: 0, verdict: { code: NF_ACCEPT } }] } });
  for (let i = 1; i < 15; i++) ops.push({ op: 'newrule', family: 2, table: 't', chain: `c${i}`, append: true, rule: { exprs: [{ type: 'immediate', dreg: 0, verdict: { code: -3, chain: `c${i + 1}` } }] } });
  assert.ok(commitBatch(r, ops, clock).ok);
  for (const jit of [false, true]) {
    const res = evaluateHook(r, 2, 1, ipv4Packet(), { host, clock, jit, traceAll: true, traceId: 1 });
    assert.equal(res.verdict, NF_ACCEPT);
    // Each chain runs off its end (a rule event without a rule), deepest first.
    const ends = res.traces.filter((e) => e.type === 'rule' && e.handle === undefined).map((e) => e.chain);
    assert.deepEqual(ends, Array.from({ length: 15 }, (_, i) => `c${15 - i}`));
  }
  // Replace base's first rule by a goto: c1's end is then base's end, and the policy drops.
  const h = r.table(2, 't')!.chains.get('base')!.rules[0]!.handle!;
  assert.ok(commitBatch(r, [{ op: 'newrule', family: 2, table: 't', chain: 'base', replace: true, position: h, rule: { exprs: [{ type: 'immediate', dreg: 0, verdict: { code: -4, chain: 'c1' } }] } }], clock).ok);
  const res = evaluateHook(r, 2, 1, ipv4Packet(), { host, clock, traceAll: true, traceId: 1 });
  assert.equal(res.verdict, NF_DROP);
  assert.match(formatTrace(res.traces[res.traces.length - 1]!).join('\n'), /ip t base policy drop $/);
});

test('per-element counters count lookups that hit', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'in', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: NF_ACCEPT },
    { op: 'newset', family: 2, set: { table: 't', name: 's', flags: 0, keyType: 7, keyLen: 4, exprs: [{ type: 'counter', packets: 0, bytes: 0 }],
      elements: [{ key: Uint8Array.of(10, 0, 0, 1), flags: 0 }] } },
    { op: 'newrule', family: 2, table: 't', chain: 'in', append: true, rule: { exprs: [
      { type: 'payload', base: 1, offset: 12, len: 4, dreg: 1 }, { type: 'lookup', sreg: 1, set: 's', flags: 0 }] } },
  ], clock).ok);
  for (let i = 0; i < 3; i++) evaluateHook(r, 2, 1, ipv4Packet({ src: '10.0.0.1' }), { host, clock, jit: i > 0 });
  evaluateHook(r, 2, 1, ipv4Packet({ src: '10.0.0.9' }), { host, clock });
  const el = [...r.table(2, 't')!.sets.get('s')!.backend.elements()][0]!;
  assert.deepEqual(el.exprs, [{ type: 'counter', packets: 3, bytes: 120 }]);
  void NFT_SET_MAP;
});

test('a host service may run hooks again from inside an expression (reject reply through OUTPUT)', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [
    { op: 'newtable', family: 2, table: 't' },
    { op: 'newchain', family: 2, table: 't', chain: 'in', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: NF_ACCEPT },
    { op: 'newchain', family: 2, table: 't', chain: 'out', hook: { hooknum: 3, priority: 0 }, type: 'filter', policy: NF_ACCEPT },
    { op: 'newrule', family: 2, table: 't', chain: 'in', append: true, rule: { exprs: [
      { type: 'payload', base: 2, offset: 2, len: 2, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(0, 23) },
      { type: 'reject', rejectType: 1, icmpCode: 0 }] } },
    { op: 'newrule', family: 2, table: 't', chain: 'out', append: true, rule: { exprs: [{ type: 'counter', packets: 0, bytes: 0 }, { type: 'immediate', dreg: 0, verdict: { code: NF_DROP } }] } },
  ], clock).ok);
  class ReplyingHost extends NullHostServices {
    replies: number[] = [];
    override reject(pkt: Parameters<NullHostServices['reject']>[0], family: number, t: number, c: number): void {
      super.reject(pkt, family, t, c);
      // The RST crosses OUTPUT while the input chain is still running.
      this.replies.push(evaluateHook(r, 2, 3, ipv4Packet({ sport: 23, dport: 40000 }), { host: this, clock }).verdict);
    }
  }
  const h = new ReplyingHost();
  for (const jit of [false, true]) {
    const res = evaluateHook(r, 2, 1, ipv4Packet({ dport: 23 }), { host: h, clock, jit, traceAll: true, traceId: 5 });
    assert.deepEqual([res.verdict, res.chain], [NF_DROP, 'in']);
    assert.ok(res.traces.every((e) => e.chain === 'in'));
  }
  assert.deepEqual(h.replies, [NF_DROP, NF_DROP]);
});

test('equal priorities: the most recently registered chain runs first (nf_hook_entries_grow), also after a reload', () => {
  const r = new Ruleset();
  // inet f is registered before ip f, both at priority 0: the kernel runs ip f first.
  assert.ok(commitBatch(r, [
    ...chainOps(1, 'f', 'fwd', NF_INET_PRE_ROUTING, 0, markRule(1)),
    ...chainOps(2, 'f', 'fwd', NF_INET_PRE_ROUTING, 0, markRule(2)),
  ], clock).ok);
  const p = ipv4Packet();
  evaluateHook(r, 2, NF_INET_PRE_ROUTING, p, { host, clock });
  assert.equal(p.meta.mark, 1, 'inet f (registered first) ran last');
  // A third chain in a later batch goes in front of both.
  assert.ok(commitBatch(r, chainOps(2, 'g', 'fwd', NF_INET_PRE_ROUTING, 0, markRule(3)), clock).ok);
  const q = ipv4Packet();
  evaluateHook(r, 2, NF_INET_PRE_ROUTING, q, { host, clock });
  assert.equal(q.meta.mark, 1);
  const back = deserialize(serialize(r, clock), clock);
  const s = ipv4Packet();
  evaluateHook(back, 2, NF_INET_PRE_ROUTING, s, { host, clock });
  assert.equal(s.meta.mark, 1, 'the order survives serialisation');
  // Without the inet chain, the ip chains show the order between themselves: g (newest) then f.
  assert.ok(commitBatch(back, [{ op: 'deltable', family: 1, table: 'f' }], clock).ok);
  const t = ipv4Packet();
  evaluateHook(back, 2, NF_INET_PRE_ROUTING, t, { host, clock });
  assert.equal(t.meta.mark, 2, 'ip f (older) ran after ip g');
});

test('inet table: `dnat ip to` leaves IPv6 packets alone and NATs IPv4 ones (nft_nat_inet_eval)', () => {
  const calls: number[] = [];
  const natHost = new (class extends NullHostServices {
    override nat(_pkt: unknown, req: { family: number }): number { calls.push(req.family); return NF_ACCEPT; }
  })();
  const r = new Ruleset();
  const dnat: Rule = { exprs: [
    { type: 'immediate', dreg: 1, data: Uint8Array.of(10, 0, 1, 2) },
    { type: 'nat', natType: 1, family: 2, sregAddrMin: 1 },
  ] };
  assert.ok(commitBatch(r, [
    { op: 'newtable', family: 1, table: 'n' },
    { op: 'newchain', family: 1, table: 'n', chain: 'pre', hook: { hooknum: NF_INET_PRE_ROUTING, priority: -100 }, type: 'nat', policy: NF_ACCEPT },
    { op: 'newrule', family: 1, table: 'n', chain: 'pre', append: true, rule: dnat },
  ], clock).ok);
  evaluateHook(r, 10, NF_INET_PRE_ROUTING, ipv6Packet(), { host: natHost, clock });
  assert.deepEqual(calls, [], 'no NAT for an IPv6 packet');
  evaluateHook(r, 2, NF_INET_PRE_ROUTING, ipv4Packet(), { host: natHost, clock });
  assert.deepEqual(calls, [2]);
});
