/**
 * Transactions: all-or-nothing batches, handles as the kernel assigns them,
 * kernel-side refusals with nft's texts, and chain-loop detection at commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset, serialize, deserialize } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import type { CommitResult } from '../src/netfilter/transaction.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ruleFromText, baseChainOps } from '../src/netfilter/testing.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Rule } from '../src/netfilter/bytecode.js';
import { NFT_JUMP, NFT_GOTO, NFT_SET_MAP, NFT_DATA_VERDICT, NFT_OBJECT } from '../src/netfilter/bytecode.js';

const clock = new VirtualClock(0);
const F = 2;

function jump(chain: string, code = NFT_JUMP): Rule {
  return { exprs: [{ type: 'immediate', dreg: 0, verdict: { code, chain } }] };
}
function add(chain: string, rule: Rule): BatchOp {
  return { op: 'newrule', family: F, table: 't', chain, append: true, rule };
}
function chain(name: string): BatchOp {
  return { op: 'newchain', family: F, table: 't', chain: name };
}
function errorsOf(res: CommitResult): string[] {
  return res.ok ? [] : res.errors.map((e) => e.message);
}
const base = (): BatchOp[] => baseChainOps(F, 't', 'input', 1);

test('handles: tables count per netns, everything else per table, in batch order', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...base(), chain('a'), add('input', ruleFromText('[ counter pkts 0 bytes 0 ]')), add('a', ruleFromText('[ counter pkts 0 bytes 0 ]'))], clock).ok);
  const t = r.table(F, 't')!;
  assert.equal(t.handle, 1);
  assert.equal(t.chains.get('input')!.handle, 1);
  assert.equal(t.chains.get('a')!.handle, 2);
  assert.equal(t.chains.get('input')!.rules[0]!.handle, 3);
  assert.equal(t.chains.get('a')!.rules[0]!.handle, 4);
  assert.equal(r.generation, 1);
});

test('for every N, a batch whose N-th command fails leaves the ruleset exactly as it was', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...base(), chain('a'), add('input', jump('a'))], clock).ok);
  // The kernel never rolls back a table's handle generator on abort; everything else must be untouched.
  const state = (): string => serialize(r, clock).replace(/"hgenerator":\d+/g, '');
  const before = state();
  const good: BatchOp[] = [
    chain('b'), add('b', ruleFromText('[ counter pkts 0 bytes 0 ]')), add('input', jump('b')),
    { op: 'newset', family: F, set: { table: 't', name: 's', flags: 0, keyType: 7, keyLen: 4, elements: [] } },
    { op: 'newsetelem', family: F, table: 't', set: 's', elements: [{ key: Uint8Array.of(1, 2, 3, 4), flags: 0 }] },
    { op: 'delrule', family: F, table: 't', chain: 'a' },
  ];
  const bad: BatchOp = add('nonexistent', jump('a'));
  for (let n = 0; n <= good.length; n++) {
    const batch = [...good.slice(0, n), bad, ...good.slice(n)];
    const res = commitBatch(r, batch, clock);
    assert.equal(res.ok, false);
    assert.deepEqual(errorsOf(res), ['Could not process rule: No such file or directory']);
    assert.equal(!res.ok && res.errors[0]!.index, n);
    assert.equal(state(), before, `batch failing at ${n} changed the ruleset`);
    assert.equal(r.generation, 1);
  }
});

test('every refused command is reported, as nft prints them', () => {
  const r = new Ruleset();
  const res = commitBatch(r, [...base(), add('nope', jump('a')), add('input', jump('missing')), { op: 'newtable', family: F, table: 't', excl: true }], clock);
  assert.deepEqual(errorsOf(res), [
    'Could not process rule: No such file or directory',
    'Could not process rule: No such file or directory',
    'Could not process rule: File exists',
  ]);
  assert.equal(r.tables.size, 0);
});

function loopError(ops: BatchOp[]): CommitResult {
  const r = new Ruleset();
  return commitBatch(r, [...base(), ...ops], clock);
}

test('loops are refused at commit with "Too many links", naming the cycle', () => {
  const direct = loopError([chain('a'), add('input', jump('a')), add('a', jump('a'))]);
  assert.deepEqual(errorsOf(direct), ['Could not process rule: Too many links']);
  assert.match(!direct.ok ? direct.errors[0]!.detail ?? '' : '', /a -> a/);
  const indirect = loopError([chain('a'), chain('b'), chain('c'), add('input', jump('a')), add('a', jump('b')), add('b', jump('c')), add('c', jump('a', NFT_GOTO))]);
  assert.deepEqual(errorsOf(indirect), ['Could not process rule: Too many links']);
  assert.match(!indirect.ok ? indirect.errors[0]!.detail ?? '' : '', /a -> b -> c -> a/);
  const viaMap = loopError([
    chain('a'), add('input', jump('a')),
    { op: 'newset', family: F, set: { table: 't', name: 'vm', flags: NFT_SET_MAP, keyType: 7, keyLen: 4, dataType: NFT_DATA_VERDICT, dataLen: 16, elements: [] } },
    add('a', ruleFromText('[ payload load 4b @ network header + 12 => reg 1 ]\n[ lookup reg 1 set vm dreg 0 ]')),
    { op: 'newsetelem', family: F, table: 't', set: 'vm', elements: [{ key: Uint8Array.of(1, 1, 1, 1), flags: 0, verdict: { code: NFT_JUMP, chain: 'a' } }] },
  ]);
  assert.deepEqual(errorsOf(viaMap), ['Could not process rule: Too many links']);
});

test('jump depth: 16 levels are refused, 15 accepted; diamonds are fine', () => {
  const depth = (n: number): BatchOp[] => {
    const ops: BatchOp[] = [];
    for (let i = 1; i <= n; i++) ops.push(chain(`c${i}`));
    ops.push(add('input', jump('c1')));
    for (let i = 1; i < n; i++) ops.push(add(`c${i}`, jump(`c${i + 1}`)));
    return ops;
  };
  assert.equal(loopError(depth(15)).ok, true);
  assert.deepEqual(errorsOf(loopError(depth(16))), ['Could not process rule: Too many links']);
  const diamond: BatchOp[] = [chain('a'), chain('b'), chain('c'), chain('d'),
    add('input', jump('a')), add('a', jump('b')), add('a', jump('c')), add('b', jump('d')), add('c', jump('d'))];
  assert.equal(loopError(diamond).ok, true);
  // A wide diamond lattice 12 levels deep stays cheap.
  const lattice: BatchOp[] = [];
  for (let l = 0; l < 12; l++) for (const s of ['x', 'y']) lattice.push(chain(`${s}${l}`));
  lattice.push(add('input', jump('x0')), add('input', jump('y0')));
  for (let l = 0; l < 11; l++) for (const s of ['x', 'y']) lattice.push(add(`${s}${l}`, jump(`x${l + 1}`)), add(`${s}${l}`, jump(`y${l + 1}`)));
  assert.equal(loopError(lattice).ok, true);
});

test('kernel-only refusals: fib daddr . oif type in prerouting, meta ibrname outside bridge, missing objects', () => {
  const r = new Ruleset();
  const pre = baseChainOps(F, 't', 'pre', 0);
  const fib = commitBatch(r, [...pre, { op: 'newrule', family: F, table: 't', chain: 'pre', append: true, rule: ruleFromText('[ fib daddr . oif type => reg 1 ]\n[ cmp eq reg 1 0x00000002 ]') }], clock);
  assert.deepEqual(errorsOf(fib), ['Could not process rule: Operation not supported']);
  const bri = commitBatch(r, [...base(), add('input', ruleFromText('[ meta load bri_iifname => reg 1 ]\n[ cmp eq reg 1 0x00000000 ]'))], clock);
  assert.deepEqual(errorsOf(bri), ['Could not process rule: Operation not supported']);
  const obj = commitBatch(r, [...base(), add('input', { exprs: [{ type: 'objref', objType: NFT_OBJECT.COUNTER, name: 'cnt3' }] })], clock);
  assert.deepEqual(errorsOf(obj), ['Could not process rule: No such file or directory']);
  const limit = commitBatch(r, [...base(), add('input', ruleFromText('[ limit rate 1072693248000/second burst 0 type bytes flags 0x0 ]'))], clock);
  assert.deepEqual(errorsOf(limit), ['Could not process rule: Value too large for defined data type']);
  assert.equal(r.tables.size, 0);
});

test('delete of objects in use is refused; create of existing ones too', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...base(), chain('a'), add('input', jump('a')),
    { op: 'newset', family: F, set: { table: 't', name: 's', flags: 0, keyType: 7, keyLen: 4, elements: [] } },
    add('input', ruleFromText('[ payload load 4b @ network header + 12 => reg 1 ]\n[ lookup reg 1 set s ]')),
    { op: 'newobj', family: F, table: 't', name: 'c1', objType: NFT_OBJECT.COUNTER, expr: { type: 'counter', packets: 0, bytes: 0 } },
    add('input', { exprs: [{ type: 'objref', objType: NFT_OBJECT.COUNTER, name: 'c1' }] }),
  ], clock).ok);
  const busy = 'Could not process rule: Device or resource busy';
  assert.deepEqual(errorsOf(commitBatch(r, [{ op: 'delchain', family: F, table: 't', chain: 'a' }], clock)), [busy]);
  assert.deepEqual(errorsOf(commitBatch(r, [{ op: 'delset', family: F, table: 't', set: 's' }], clock)), [busy]);
  assert.deepEqual(errorsOf(commitBatch(r, [{ op: 'delobj', family: F, table: 't', name: 'c1', objType: NFT_OBJECT.COUNTER }], clock)), [busy]);
  assert.deepEqual(errorsOf(commitBatch(r, [{ op: 'newchain', family: F, table: 't', chain: 'a', excl: true }], clock)), ['Could not process rule: File exists']);
  // Flushing the rules first makes the deletes legal, in one batch.
  assert.ok(commitBatch(r, [{ op: 'delrule', family: F, table: 't' }, { op: 'delchain', family: F, table: 't', chain: 'a' }, { op: 'delset', family: F, table: 't', set: 's' }], clock).ok);
});

test('insert, add after a handle, replace', () => {
  const r = new Ruleset();
  const c = (n: number): Rule => ({ exprs: [{ type: 'counter', packets: n, bytes: 0 }] });
  assert.ok(commitBatch(r, [...base(), add('input', c(1)), add('input', c(2))], clock).ok);
  const ch = () => r.table(F, 't')!.chains.get('input')!.rules.map((x) => (x.exprs[0]!.type === 'counter' ? x.exprs[0]!.packets : -1));
  assert.ok(commitBatch(r, [{ op: 'newrule', family: F, table: 't', chain: 'input', rule: c(0) }], clock).ok);
  assert.deepEqual(ch(), [0, 1, 2]);
  const h1 = r.table(F, 't')!.chains.get('input')!.rules[1]!.handle!;
  assert.ok(commitBatch(r, [{ op: 'newrule', family: F, table: 't', chain: 'input', rule: c(5), append: true, position: h1 }], clock).ok);
  assert.deepEqual(ch(), [0, 1, 5, 2]);
  assert.ok(commitBatch(r, [{ op: 'newrule', family: F, table: 't', chain: 'input', rule: c(9), replace: true, position: h1 }], clock).ok);
  assert.deepEqual(ch(), [0, 9, 5, 2]);
});

test('serialize/deserialize keeps the whole state', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...base(), chain('a'), add('input', jump('a')),
    { op: 'newset', family: F, set: { table: 't', name: 's', flags: 0x10, timeout: 5000, keyType: 7, keyLen: 4, elements: [{ key: Uint8Array.of(1, 2, 3, 4), flags: 0 }] } },
  ], clock).ok);
  const text = serialize(r, clock);
  const r2 = deserialize(text, clock);
  assert.equal(serialize(r2, clock), text);
  assert.equal(r2.generation, 1);
});

test('binding chains (jump { ... }) get kernel names and go with their rule', () => {
  const r = new Ruleset();
  assert.ok(commitBatch(r, [...base(),
    { op: 'newchain', family: F, table: 't', chain: '__chain%d', flags: 4 },
    { op: 'newrule', family: F, table: 't', chain: '__chain%d', append: true, rule: ruleFromText('[ counter pkts 0 bytes 0 ]') },
    add('input', jump('__chain%d')),
  ], clock).ok);
  const t = r.table(F, 't')!;
  assert.ok(t.chains.has('__chain0'));
  assert.equal(t.chains.get('input')!.rules[0]!.exprs[0]!.type === 'immediate' && (t.chains.get('input')!.rules[0]!.exprs[0] as { verdict?: { chain?: string } }).verdict?.chain, '__chain0');
  assert.ok(commitBatch(r, [{ op: 'delrule', family: F, table: 't', chain: 'input' }], clock).ok);
  assert.ok(!r.table(F, 't')!.chains.has('__chain0'));
});

test('nat statements only in nat chains at their hooks', () => {
  const r = new Ruleset();
  const dnat = ruleFromText('[ immediate reg 1 0x0100000a ]\n[ nat dnat ip addr_min reg 1 ]');
  assert.deepEqual(errorsOf(commitBatch(r, [...base(), add('input', dnat)], clock)), ['Could not process rule: Operation not supported']);
  const ok = commitBatch(r, [
    { op: 'newtable', family: F, table: 't' },
    { op: 'newchain', family: F, table: 't', chain: 'pre', hook: { hooknum: 0, priority: -100 }, type: 'nat', policy: 1 },
    { op: 'newrule', family: F, table: 't', chain: 'pre', append: true, rule: dnat },
  ], clock);
  assert.ok(ok.ok, JSON.stringify(ok));
  const masqInPre = commitBatch(r, [{ op: 'newrule', family: F, table: 't', chain: 'pre', append: true, rule: ruleFromText('[ masq ]') }], clock);
  assert.deepEqual(errorsOf(masqInPre), ['Could not process rule: Operation not supported']);
});

test('a nat chain at or below conntrack\'s priority (-200) is refused with EOPNOTSUPP, as the kernel does', () => {
  const natChain = (priority: number): BatchOp[] => [
    { op: 'newtable', family: F, table: 'n' },
    { op: 'newchain', family: F, table: 'n', chain: 'pre', type: 'nat', hook: { hooknum: 0, priority } },
  ];
  for (const p of [-300, -200]) {
    const res = commitBatch(new Ruleset(), natChain(p), clock);
    assert.equal(res.ok, false, `priority ${p}`);
    if (!res.ok) assert.match(res.errors[0]!.message, /Operation not supported/);
  }
  assert.ok(commitBatch(new Ruleset(), natChain(-199), clock).ok);
  assert.ok(commitBatch(new Ruleset(), natChain(-100), clock).ok);
});
