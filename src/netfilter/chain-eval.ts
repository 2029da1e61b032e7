/**
 * nft_do_chain (net/netfilter/nf_tables_core.c): runs a base chain and the
 * chains it jumps to. Rules run one after another; an expression that breaks
 * (NFT_BREAK) ends its rule; a verdict ends the chain walk: accept, drop,
 * queue and stolen leave, jump pushes a return point on a 16-deep stack, goto
 * replaces the chain, return (or the end of a chain) pops, and the base
 * chain's policy decides when nothing did. The interpreter here is the
 * reference; the JIT provides a faster `ChainRunner` with the same contract.
 */
import { NFT_CONTINUE, NFT_BREAK, NFT_JUMP, NFT_GOTO, NFT_RETURN, NF_DROP } from './bytecode.js';
import type { Vm } from './vm.js';
import type { CompiledChain, ChainRunner } from './runtime.js';

/**
 * The reference interpreter on rules [from, end) of a chain: the index of the
 * rule that gave a verdict, or -1 when every rule went on (code[0] is then
 * NFT_CONTINUE). The JIT falls back to it for rules it does not compile.
 */
export function interpretRules(vm: Vm, chain: CompiledChain, from: number, end: number): number {
  const rules = chain.rules;
  const code = vm.code;
  for (let i = from; i < end; i++) {
    const ex = rules[i]!.exprs;
    code[0] = NFT_CONTINUE;
    for (let j = 0; j < ex.length; j++) {
      const e = ex[j]!;
      e.ops.eval(e.p, vm);
      if (code[0] !== NFT_CONTINUE) break;
    }
    const c = code[0]!;
    if (c === NFT_CONTINUE) {
      if (vm.tracer !== undefined) vm.tracer.ruleContinue(vm, chain, i);
      continue;
    }
    if (c === NFT_BREAK) { code[0] = NFT_CONTINUE; continue; }
    return i;
  }
  code[0] = NFT_CONTINUE;
  return -1;
}

/** The reference interpreter of one chain from rule `from` (a ChainRunner: the chain's length when no rule gave a verdict). */
export const interpretChain: ChainRunner = (vm, chain, from) => {
  const i = interpretRules(vm, chain, from, chain.rules.length);
  return i < 0 ? chain.rules.length : i;
};

/** Trace points at chain level (nft_trace_verdict, the policy event). */
export interface ChainTracer {
  /** After the rule loop: a verdict rule (index < rules.length) or the end of the chain / a return. */
  verdict(vm: Vm, chain: CompiledChain, ruleIndex: number): void;
  policy(vm: Vm, base: CompiledChain, policy: number): void;
}

export interface ChainOutcome {
  /** The chain and rule that decided (undefined: the policy). */
  chain: CompiledChain | undefined;
  ruleIndex: number;
}

/**
 * Runs base chain `base`; returns the netfilter verdict (NF_ACCEPT, NF_DROP,
 * NF_STOLEN, or NF_QUEUE with the queue number in the upper 16 bits), and
 * where it was decided in `out`.
 */
export function doChain(vm: Vm, base: CompiledChain, useJit: boolean, tracer: ChainTracer | undefined, out: ChainOutcome): number {
  let chain = base;
  let from = 0;
  let sp = 0;
  const code = vm.code;
  // Loops are refused at commit; this bound only guards against a bug.
  for (let guard = 0; guard < 1_000_000; guard++) {
    const run = (useJit && chain.jit) || interpretChain;
    const i = run(vm, chain, from);
    if (tracer !== undefined) tracer.verdict(vm, chain, i);
    const c = code[0]!;
    if (c >= 0) {
      out.chain = chain;
      out.ruleIndex = i;
      return c;
    }
    if (c === NFT_JUMP || c === NFT_GOTO) {
      const target = chain.byName.get(vm.chain ?? '');
      if (target === undefined) { out.chain = chain; out.ruleIndex = i; return NF_DROP; }
      if (c === NFT_JUMP) {
        if (sp >= 16) { out.chain = chain; out.ruleIndex = i; return NF_DROP; }
        vm.stackChain[sp] = chain;
        vm.stackRule[sp] = i + 1;
        sp++;
      }
      chain = target;
      from = 0;
      continue;
    }
    // NFT_CONTINUE at the end of the chain, or NFT_RETURN.
    void NFT_RETURN;
    if (sp > 0) {
      sp--;
      chain = vm.stackChain[sp]!;
      from = vm.stackRule[sp]!;
      vm.stackChain[sp] = undefined;
      continue;
    }
    out.chain = undefined;
    out.ruleIndex = -1;
    if (tracer !== undefined) tracer.policy(vm, base, base.policy);
    return base.policy;
  }
  return NF_DROP;
}
