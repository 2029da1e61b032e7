/**
 * The JIT's optimised shapes against the interpreter: runs of rules sharing
 * a first test (compiled to one binary search), rule remainders that write
 * the tested register, 16-byte loads and multi-word compares, ordered
 * compares and ranges of odd lengths, meta keys inlined, payload writes that
 * change fields later rules test (cached fields must be re-read), compares
 * of what earlier rules left in a register, set
 * elements with counters, verdict maps whose jump returns into the middle of
 * a chunk, and chains long enough to span several chunks. Verdict, deciding
 * rule, trace, mark, priority and the packet bytes must all be equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet, ipv6Packet } from '../src/netfilter/testing.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Expr, Rule } from '../src/netfilter/bytecode.js';
import { NFT_JUMP, NFT_GOTO, NFT_RETURN, NFT_CONTINUE, NFT_BREAK, NF_ACCEPT, NF_DROP, NFT_META, NFT_DATA_VERDICT } from '../src/netfilter/bytecode.js';
import { formatTrace } from '../src/netfilter/trace.js';
import { printRule } from '../src/netfilter/bytecode-text.js';
import { mulberry32Float as prng } from '../src/netfilter/random.js';


const SRCS = ['10.0.0.5', '192.168.3.4', '8.8.8.8'];
const PORTS = [22, 80, 443, 0x5000, 53, 1234];

function gen(seed: number): BatchOp[] {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const nChains = 2 + int(3);
  const chains = ['base', ...Array.from({ length: nChains - 1 }, (_, i) => `c${i + 1}`)];
  const ops: BatchOp[] = [
    { op: 'newtable', family: 1, table: 't' },
    { op: 'newchain', family: 1, table: 't', chain: 'base', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: pick([NF_ACCEPT, NF_DROP]) },
    ...chains.slice(1).map((c): BatchOp => ({ op: 'newchain', family: 1, table: 't', chain: c })),
    { op: 'newset', family: 1, set: { table: 't', name: 'ports', flags: 0, keyType: 13, keyLen: 2, elements: [22, 80, 443].map((p) => ({
      key: Uint8Array.of(p >> 8, p & 0xff), flags: 0, exprs: [{ type: 'counter', packets: 0, bytes: 0 } as Expr] })) } },
    { op: 'newset', family: 1, set: { table: 't', name: 'vm', flags: 8, keyType: 13, keyLen: 2, dataType: NFT_DATA_VERDICT, elements: [
      { key: Uint8Array.of(0, 22), flags: 0, verdict: { code: NFT_JUMP, chain: 'c1' } },
      { key: Uint8Array.of(0, 80), flags: 0, verdict: { code: NF_ACCEPT } },
      { key: Uint8Array.of(1, 187), flags: 0, verdict: { code: NFT_GOTO, chain: 'c1' } }] } },
  ];
  const ipBytes = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
  const firstTest = (kind: number): Expr[] => kind === 0
    ? [{ type: 'payload', base: 1, offset: 12, len: 4, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: rnd() < 0.8 ? ipBytes(pick(SRCS)) : Uint8Array.of(int(256), 1, 2, 3) }]
    : [{ type: 'payload', base: 2, offset: 2, len: 2, dreg: 2 }, { type: 'cmp', sreg: 2, op: 0, data: (() => { const p = pick(PORTS); return Uint8Array.of(p >> 8, p & 0xff); })() }];
  const extra = (): Expr[] => {
    switch (int(15)) {
      case 0: return [{ type: 'payload', base: 2, offset: 0, len: 2, dreg: 1 }, { type: 'cmp', sreg: 1, op: int(6), data: Uint8Array.of(int(256), int(256)) }];
      case 1: return [{ type: 'payload', base: 1, offset: 8, len: 16, dreg: 1 }, { type: 'cmp', sreg: 1, op: int(2), data: rnd() < 0.5
        ? Uint8Array.of(0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) : Uint8Array.from({ length: 16 }, () => int(3)) }];
      case 2: return [{ type: 'payload', base: 1, offset: int(4), len: 3, dreg: 2 }, { type: 'cmp', sreg: 2, op: 2 + int(4), data: Uint8Array.of(int(256), int(256), int(256)) }];
      case 3: return [{ type: 'payload', base: 1, offset: int(20), len: pick([1, 4]), dreg: 3 },
        { type: 'range', sreg: 3, op: int(2), from: Uint8Array.of(int(128)), to: Uint8Array.of(128 + int(128)) }].map((e, i, a) =>
        i === 1 && (a[0] as { len: number }).len === 4 ? { type: 'range', sreg: 3, op: int(2), from: Uint8Array.of(0, 0, 0, 0), to: Uint8Array.of(int(256), 255, 255, 255) } as Expr : e as Expr);
      case 4: return [{ type: 'meta', key: pick([NFT_META.LEN, NFT_META.PROTOCOL, NFT_META.PRIORITY, NFT_META.OIF]), dreg: 1 },
        { type: 'cmp', sreg: 1, op: int(2), data: Uint8Array.of(pick([0, 8, 0x86, 40, 60, 80]), pick([0, 0, 0xdd]), 0, 0) }];
      case 5: return [{ type: 'immediate', dreg: 1, data: Uint8Array.of(0, pick([22, 80, 53])) }, { type: 'payload', base: 2, offset: 2, len: 2, sreg: 1 }];
      case 6: return [{ type: 'payload', base: 2, offset: 2, len: 2, dreg: 1 }, { type: 'lookup', sreg: 1, set: 'ports', flags: int(2) }];
      case 7: return [{ type: 'immediate', dreg: 1, data: Uint8Array.of(int(4), 0, 0, 0) }, { type: 'meta', key: pick([NFT_META.MARK, NFT_META.PRIORITY]), sreg: 1 }];
      case 8: return [{ type: 'payload', base: 1, offset: 12, len: 8, dreg: 1 },
        { type: 'bitwise', sreg: 1, dreg: 2, len: 8, op: 0, mask: Uint8Array.of(255, 255, 0, 0, 255, 0, 0, 0), xor: Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0) },
        { type: 'cmp', sreg: 2, op: int(2), data: Uint8Array.of(10, 0, 0, 0, 11, 0, 0, 0) }];
      case 9: return [{ type: 'counter', packets: 0, bytes: 0 }];
      case 10: return [{ type: 'immediate', dreg: 0, verdict: { code: NFT_BREAK } }];
      case 11: case 12: case 13: // reads what earlier rules left in the register (every walk starts by setting all of them)
        return [{ type: 'cmp', sreg: pick([1, 2, 3]), op: int(2), data: rnd() < 0.5 ? ipBytes(pick(SRCS)) : Uint8Array.of(0, pick([22, 80, 53]), 0, 0) }];
      default: return [{ type: 'payload', base: 1, offset: 40 + int(40), len: 2, dreg: 1 }];
    }
  };
  chains.forEach((c, ci) => {
    const later = chains.slice(ci + 1);
    // Runs of rules sharing their first test, so that the JIT groups them; long chains span chunks.
    const nRules = ci === 0 && rnd() < 0.1 ? 300 + int(100) : int(24);
    let kind = int(2);
    if (ci === 0) {
      // Registers carry over from packet to packet in one VM: give every walk the same start.
      const init: Expr[] = [1, 2, 3, 4].map((dreg): Expr => ({ type: 'immediate', dreg, data: new Uint8Array(16) }));
      ops.push({ op: 'newrule', family: 1, table: 't', chain: c, append: true, rule: { exprs: init, source: printRule(init).join(' ') } });
    }
    for (let k = 0; k < nRules; k++) {
      if (rnd() < 0.15) kind = int(3);
      const exprs: Expr[] = kind < 2 ? firstTest(kind) : [];
      const nExtra = int(3);
      for (let m = 0; m < nExtra; m++) exprs.push(...extra());
      if (ci === 0 && rnd() < 0.05) exprs.push({ type: 'payload', base: 2, offset: 2, len: 2, dreg: 1 }, { type: 'lookup', sreg: 1, set: 'vm', dreg: 0, flags: 0 });
      const v = int(12);
      if (v < 1) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_ACCEPT } });
      else if (v < 2) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_DROP } });
      else if (v < 4 && later.length) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_JUMP, chain: pick(later) } });
      else if (v < 5 && later.length) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_GOTO, chain: pick(later) } });
      else if (v < 6) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_RETURN } });
      else if (v < 7) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_CONTINUE } });
      if (exprs.length === 0) exprs.push({ type: 'counter', packets: 0, bytes: 0 });
      const rule: Rule = { exprs, source: printRule(exprs).join(' ') };
      ops.push({ op: 'newrule', family: 1, table: 't', chain: c, append: true, rule });
    }
  });
  return ops;
}

test('JIT and interpreter agree on the shapes the JIT optimises (30,000 pairs)', () => {
  const host = new NullHostServices();
  const clock = new VirtualClock(0);
  let pairs = 0;
  for (let s = 1; s <= 300; s++) {
    const rs = new Ruleset();
    const res = commitBatch(rs, gen(s), clock);
    if (!res.ok) continue; // a random ruleset the kernel would refuse (e.g. a verdict map jump into a loop)
    const rnd = prng(s * 7919);
    const int = (n: number): number => Math.floor(rnd() * n);
    for (let k = 0; k < 100; k++) {
      const spec = {
        proto: [6, 17, 1][int(3)]!, sport: PORTS[int(PORTS.length)]!, dport: PORTS[int(PORTS.length)]!,
        src: SRCS[int(3)]!, payload: int(3) * 20,
      };
      const v6 = rnd() < 0.3;
      const mark = int(3);
      const mk = () => {
        const p = v6 ? ipv6Packet(spec) : ipv4Packet(spec);
        p.meta.mark = mark;
        p.meta.iif = int(2);
        return p;
      };
      const iif = int(2);
      const pa = mk();
      const pb = mk();
      pa.meta.iif = iif;
      pb.meta.iif = iif;
      const a = evaluateHook(rs, v6 ? 10 : 2, 1, pa, { host, clock, jit: false, traceAll: true, traceId: 1 });
      const ra = { verdict: a.verdict, chain: a.chain, handle: a.handle, mark: pa.meta.mark, prio: pa.meta.priority, bytes: [...pa.buffer.subarray(pa.head, pa.tail)] };
      const ta = a.traces.flatMap((e) => formatTrace(e));
      const b = evaluateHook(rs, v6 ? 10 : 2, 1, pb, { host, clock, jit: true, traceAll: true, traceId: 1 });
      const rb = { verdict: b.verdict, chain: b.chain, handle: b.handle, mark: pb.meta.mark, prio: pb.meta.priority, bytes: [...pb.buffer.subarray(pb.head, pb.tail)] };
      assert.deepEqual(rb, ra, `seed ${s} packet ${k}`);
      assert.deepEqual(b.traces.flatMap((e) => formatTrace(e)), ta, `seed ${s} packet ${k}`);
      pairs++;
    }
  }
  assert.ok(pairs >= 20_000, `only ${pairs} pairs`);
});
