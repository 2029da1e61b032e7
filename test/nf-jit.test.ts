/**
 * The JIT against the interpreter: random rulesets × random packets must give
 * the same verdict, the same deciding rule, the same trace and the same
 * packet changes. 1,000 rulesets × 100 packets = 100,000 pairs.
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
import { NFT_JUMP, NFT_GOTO, NFT_RETURN, NFT_CONTINUE, NF_ACCEPT, NF_DROP, NFT_META } from '../src/netfilter/bytecode.js';
import { formatTrace } from '../src/netfilter/trace.js';
import { printRule } from '../src/netfilter/bytecode-text.js';
import { mulberry32Float as prng } from '../src/netfilter/random.js';


function gen(seed: number): { ops: BatchOp[]; chains: string[] } {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number, small: boolean): Uint8Array => Uint8Array.from({ length: n }, () => (small ? pick([0, 1, 2, 6, 17, 22, 80, 0x50, 10]) : int(256)));
  const nChains = 1 + int(4);
  const chains = ['base', ...Array.from({ length: nChains - 1 }, (_, i) => `c${i + 1}`)];
  const ops: BatchOp[] = [
    { op: 'newtable', family: 1, table: 't' },
    { op: 'newchain', family: 1, table: 't', chain: 'base', hook: { hooknum: 1, priority: 0 }, type: 'filter', policy: pick([NF_ACCEPT, NF_DROP]) },
    ...chains.slice(1).map((c): BatchOp => ({ op: 'newchain', family: 1, table: 't', chain: c })),
    { op: 'newset', family: 1, set: { table: 't', name: 'ports', flags: 0, keyType: 13, keyLen: 2, elements: [22, 80, 443, 53].map((p) => ({ key: Uint8Array.of(p >> 8, p & 0xff), flags: 0 })) } },
    { op: 'newset', family: 1, set: { table: 't', name: 'nets', flags: 4, keyType: 7, keyLen: 4, elements: [
      { key: Uint8Array.of(10, 0, 0, 0), flags: 0 }, { key: Uint8Array.of(10, 0, 1, 0), flags: 1 },
      { key: Uint8Array.of(192, 168, 0, 0), flags: 0 }, { key: Uint8Array.of(192, 169, 0, 0), flags: 1 }] } },
  ];
  chains.forEach((c, ci) => {
    const nRules = int(7);
    for (let k = 0; k < nRules; k++) {
      const exprs: Expr[] = [];
      const nMatch = int(3);
      for (let m = 0; m < nMatch; m++) {
        switch (int(7)) {
          case 0: case 1: {
            const len = pick([1, 2, 4]);
            exprs.push({ type: 'payload', base: pick([1, 2]), offset: int(24), len, dreg: 1 });
            exprs.push({ type: 'cmp', sreg: 1, op: int(6), data: bytes(len, rnd() < 0.7) });
            break;
          }
          case 2:
            exprs.push({ type: 'meta', key: pick([NFT_META.MARK, NFT_META.L4PROTO, NFT_META.NFPROTO, NFT_META.IIF, NFT_META.LEN]), dreg: 1 });
            exprs.push({ type: 'cmp', sreg: 1, op: int(2), data: Uint8Array.of(pick([0, 1, 2, 6, 10, 17, 60]), 0, 0, 0) });
            break;
          case 3:
            exprs.push({ type: 'payload', base: 2, offset: 2, len: 2, dreg: 1 });
            exprs.push({ type: 'lookup', sreg: 1, set: 'ports', flags: int(2) });
            break;
          case 4:
            exprs.push({ type: 'payload', base: 1, offset: 12, len: 4, dreg: 9 });
            exprs.push({ type: 'lookup', sreg: 9, set: 'nets', flags: int(2) });
            break;
          case 5:
            exprs.push({ type: 'payload', base: 1, offset: 0, len: 1, dreg: 1 });
            exprs.push({ type: 'bitwise', sreg: 1, dreg: 1, len: 4, op: 0, mask: Uint8Array.of(0xf0, 0, 0, 0), xor: new Uint8Array(4) });
            exprs.push({ type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(pick([0x40, 0x60]), 0, 0, 0) });
            break;
          default:
            exprs.push({ type: 'payload', base: 2, offset: 0, len: 2, dreg: 2 });
            exprs.push({ type: 'range', sreg: 2, op: int(2), from: Uint8Array.of(0, int(256)), to: Uint8Array.of(int(256), 255) });
        }
      }
      if (rnd() < 0.3) exprs.push({ type: 'counter', packets: 0, bytes: 0 });
      if (rnd() < 0.2) {
        exprs.push({ type: 'immediate', dreg: 1, data: Uint8Array.of(int(256), 0, 0, 0) });
        exprs.push({ type: 'meta', key: NFT_META.MARK, sreg: 1 });
      }
      const later = chains.slice(ci + 1);
      const v = int(10);
      if (v < 2) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_ACCEPT } });
      else if (v < 4) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_DROP } });
      else if (v < 6 && later.length) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_JUMP, chain: pick(later) } });
      else if (v < 7 && later.length) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_GOTO, chain: pick(later) } });
      else if (v < 8) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_RETURN } });
      else if (v < 9) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NFT_CONTINUE } });
      const rule: Rule = { exprs, source: printRule(exprs).join(' ') };
      ops.push({ op: 'newrule', family: 1, table: 't', chain: c, append: true, rule });
    }
  });
  return { ops, chains };
}

test('JIT and interpreter agree on 100,000 random (ruleset, packet) pairs', () => {
  const host = new NullHostServices();
  const clock = new VirtualClock(0);
  let pairs = 0;
  for (let s = 1; s <= 1000; s++) {
    const { ops } = gen(s);
    const rs = new Ruleset();
    const res = commitBatch(rs, ops, clock);
    assert.ok(res.ok, JSON.stringify(res));
    const rnd = prng(s * 7919);
    const int = (n: number): number => Math.floor(rnd() * n);
    for (let k = 0; k < 100; k++) {
      const spec = {
        proto: [6, 17, 1][int(3)]!, sport: [22, 80, 1234, 53][int(4)]!, dport: [22, 80, 443, 0x5000, 53][int(4)]!,
        src: ['10.0.0.5', '192.168.3.4', '8.8.8.8'][int(3)]!, payload: int(3) * 20,
      };
      const v6 = rnd() < 0.3;
      const mark = int(3);
      const iif = int(3);
      const mk = () => {
        const p = v6 ? ipv6Packet(spec) : ipv4Packet(spec);
        p.meta.mark = mark;
        p.meta.iif = iif;
        return p;
      };
      const pa = mk();
      const pb = mk();
      const a = evaluateHook(rs, v6 ? 10 : 2, 1, pa, { host, clock, jit: false, traceAll: true, traceId: 1 });
      const ta = a.traces.flatMap((e) => formatTrace(e));
      const ra = { verdict: a.verdict, chain: a.chain, handle: a.handle, mark: pa.meta.mark };
      const b = evaluateHook(rs, v6 ? 10 : 2, 1, pb, { host, clock, jit: true, traceAll: true, traceId: 1 });
      const tb = b.traces.flatMap((e) => formatTrace(e));
      assert.deepEqual({ verdict: b.verdict, chain: b.chain, handle: b.handle, mark: pb.meta.mark }, ra, `seed ${s} packet ${k}`);
      assert.deepEqual(tb, ta, `seed ${s} packet ${k}`);
      pairs++;
    }
  }
  assert.equal(pairs, 100_000);
});
