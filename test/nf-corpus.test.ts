import { fileURLToPath } from 'node:url';
/**
 * Every rule of the nftables tests/py corpus, as recorded bytecode, runs on
 * the VM: each expression prepares, and the interpreter and the JIT leave the
 * same registers, verdict and packet bytes on a set of packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseExprLine } from '../src/netfilter/bytecode-text.js';
import type { Expr } from '../src/netfilter/bytecode.js';
import { NFT_SET_MAP, NFT_SET_OBJECT, NFT_DATA_VERDICT, NF_ACCEPT } from '../src/netfilter/bytecode.js';
import { EXPR_OPS } from '../src/netfilter/expr/index.js';
import type { BindContext } from '../src/netfilter/expr/types.js';
import { NftSet } from '../src/netfilter/set/set.js';
import { Vm } from '../src/netfilter/vm.js';
import type { EvalEnv } from '../src/netfilter/vm.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { interpretChain } from '../src/netfilter/chain-eval.js';
import { jitChain } from '../src/netfilter/jit/compile.js';
import type { CompiledChain } from '../src/netfilter/runtime.js';
import { ipv4Packet, ipv6Packet } from '../src/netfilter/testing.js';
import { NftKernelError } from '../src/netfilter/errors.js';

const CORPUS = fileURLToPath(new URL('../../../shared/conformance/nftables-py', import.meta.url));

function rules(): Array<{ key: string; exprs: Expr[] }> {
  const out: Array<{ key: string; exprs: Expr[] }> = [];
  for (const dir of ['any', 'arp', 'bridge', 'inet', 'ip', 'ip6', 'netdev']) {
    const d = join(CORPUS, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (!f.includes('.payload')) continue;
      let cur: { key: string; exprs: Expr[] } | undefined;
      for (const line of readFileSync(join(d, f), 'utf8').split('\n')) {
        if (line.startsWith('#')) { cur = { key: `${dir}/${f}: ${line.slice(2).trim()}`, exprs: [] }; out.push(cur); }
        else if (/^\s*\[/.test(line) && cur) cur.exprs.push(parseExprLine(line));
      }
    }
  }
  return out.filter((r) => r.exprs.length > 0);
}

function bindFor(exprs: Expr[]): BindContext {
  return {
    family: 1,
    table: 't',
    set: (name) => {
      const use = exprs.find((e) => (e.type === 'lookup' || e.type === 'dynset' || e.type === 'objref') && e.set === name);
      let flags = 0x10;
      let dataType: number | undefined;
      if (use?.type === 'lookup' && use.dreg !== undefined) { flags |= NFT_SET_MAP; dataType = use.dreg === 0 ? NFT_DATA_VERDICT : 7; }
      if (use?.type === 'objref') flags |= NFT_SET_OBJECT;
      const s = new NftSet({ table: 't', name, flags, keyType: 7, keyLen: 4, dataLen: 16, objType: 1, ...(dataType !== undefined ? { dataType } : {}) });
      return s;
    },
    obj: (type, name) => ({ table: 't', name, type, handle: 1, expr: { type: 'counter', packets: 0, bytes: 0 } }),
  };
}

test('every corpus rule prepares and runs the same in the interpreter and the JIT', (t) => {
  const all = rules();
  if (all.length === 0) { t.skip('corpus not present'); return; }
  const host = new NullHostServices();
  const env: EvalEnv = { family: 1, pf: 2, hook: 1, host, clock: new VirtualClock(0), cpu: 0, random: () => 7 };
  const packets = [
    () => ipv4Packet({ dport: 22 }), () => ipv4Packet({ proto: 17, dport: 53, payload: 40 }),
    () => ipv6Packet({ ext: [0, 43, 44], dport: 80 }), () => ipv4Packet({ tcpOptions: [2, 4, 5, 0xb4, 1, 3, 3, 7] }),
  ];
  let ran = 0;
  let refused = 0;
  for (const r of all) {
    // Two preparations: stateful expressions (numgen, counters) must not share state between the two runs.
    let compiled;
    let compiled2;
    try {
      const b = bindFor(r.exprs);
      compiled = r.exprs.map((e) => ({ ops: EXPR_OPS[e.type], p: EXPR_OPS[e.type].prepare(structuredClone(e), b) }));
      compiled2 = r.exprs.map((e) => ({ ops: EXPR_OPS[e.type], p: EXPR_OPS[e.type].prepare(structuredClone(e), b) }));
    } catch (e) {
      // Kernel refusals of this engine (e.g. limit overflow, bridge-only meta keys in a non-bridge bind): counted, not fatal.
      assert.ok(e instanceof NftKernelError, `${r.key}: ${String(e)}`);
      refused++;
      continue;
    }
    const chain: CompiledChain = {
      name: 'c', table: undefined as never, family: 1, rules: [{ rule: { exprs: r.exprs }, handle: 1, exprs: compiled }],
      hooknum: 1, priority: 0, hookSeq: 0, policy: NF_ACCEPT, devices: undefined, isBase: true, byName: new Map(), jit: undefined,
    };
    const chain2: CompiledChain = { ...chain, rules: [{ rule: { exprs: r.exprs }, handle: 1, exprs: compiled2 }] };
    const jit = jitChain(chain2);
    for (const mk of packets) {
      const pa = mk();
      const pb = mk();
      const va = new Vm();
      va.reset(pa, env);
      const ia = interpretChain(va, chain, 0);
      const vb = new Vm();
      vb.reset(pb, env);
      const ib = jit(vb, chain2, 0);
      assert.equal(ib, ia, r.key);
      assert.equal(vb.code[0], va.code[0], r.key);
      assert.deepEqual(vb.regs, va.regs, r.key);
      assert.deepEqual(pb.buffer, pa.buffer, r.key);
      ran++;
    }
  }
  assert.ok(ran > 4 * 2400, `only ${ran} runs (${refused} refused)`);
  assert.ok(refused < 60, `${refused} rules refused`);
});
