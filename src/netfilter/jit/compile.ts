/**
 * The JIT: each chain becomes generated JS (`new Function`), straight-line
 * code per rule (emit.ts) with register words in locals, packet fields read
 * once per chunk, constants inlined as numbers, and anything not inlined
 * called through its `eval` — the interpreter's code. Same contract as the
 * interpreter (`ChainRunner`), which stays the reference.
 *
 * Chains are cut into chunks of at most CHUNK rules: V8 does not optimise a
 * function past ~60 KB of bytecode, and a chain of 100 rules in one function
 * measured ~40 ns per packet. A chunk also ends after every rule that jumps,
 * so that returning from the jumped-to chain (nft_do_chain's jump stack: the
 * walk resumes at the next rule) enters compiled code at its first rule. A
 * chunk entered anywhere else (a return after a verdict map's jump) runs the
 * rest of its rules in the interpreter, then the next chunk compiled.
 * Chunks call the next chunk directly; the last one ends the chain.
 */
import type { Runtime, CompiledChain, ChainRunner, CompiledRule } from '../runtime.js';
import { NFT_CONTINUE, NFT_BREAK, NFT_JUMP } from '../bytecode.js';
import type { ImmediateP } from '../expr/immediate.js';
import type { Vm } from '../vm.js';
import { ChunkGen, BASE_LOCAL, readWord, emitExpr } from './emit.js';

export const CHUNK = 64;
/** Generated source per chunk beyond which a chunk ends early (keeps bytecode well under V8's limit). */
const CHUNK_SOURCE = 24_000;

type Chunk = (vm: Vm, chain: CompiledChain, from: number) => number;

/** The interpreter (chain-eval.ts interpretChain) on rules [from, end): a verdict rule's index, or -1 to go on. */
function interpretRange(vm: Vm, chain: CompiledChain, from: number, end: number): number {
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

function genRule(r: CompiledRule, i: number, g: ChunkGen): string {
  g.label = `r${i}`;
  g.ruleIndex = i;
  let body = '';
  for (const e of r.exprs) body += emitExpr(e, g) + '\n';
  // Reached the end: the rule matched without a verdict (traced as "continue").
  body += `if (vm.tracer !== undefined) { ${g.flush()}vm.tracer.ruleContinue(vm, chain, ${i}); }\n`;
  return `${g.label}: {\n${body}}\n`;
}

/** Whether rule `r` ends with a jump: the jumped-to chain's return resumes at the next rule. */
function jumps(r: CompiledRule): boolean {
  return r.exprs.some((e) => e.ops.type === 'immediate' && (e.p as ImmediateP).verdict?.code === NFT_JUMP);
}

interface ChunkPlan { start: number; end: number }

function plan(rules: CompiledRule[]): ChunkPlan[] {
  const out: ChunkPlan[] = [];
  let s = 0;
  for (let i = 0; i < rules.length; i++) {
    if (i + 1 - s >= CHUNK || jumps(rules[i]!) || i + 1 === rules.length) {
      out.push({ start: s, end: i + 1 });
      s = i + 1;
    }
  }
  return out;
}

/**
 * Generates chunk [start, end); `next` continues the chain at `end`. The
 * chunk is a closure over its constants (k0, k1, ...) and `next`.
 */
function compileChunk(chain: CompiledChain, start: number, end: number, next: Chunk): Chunk {
  const rules = chain.rules;
  const g = new ChunkGen();
  let body = '';
  for (let i = start; i < end; i++) body += genRule(rules[i]!, i, g);
  const fields = [...g.fields.values()];
  const words = [...g.words];
  const used = (name: string): boolean => new RegExp(`\\b${name}\\b`).test(body) || fields.some((f) => BASE_LOCAL[f.base] === name);
  // Header offsets and packet fields, re-read after anything that may change the packet.
  let refresh = 'buf = pkt.buffer; tl = pkt.tail;';
  if (used('mh')) refresh += ' mh = pkt.macHeader;';
  if (used('nh')) refresh += ' nh = pkt.networkHeader;';
  if (used('th')) refresh += ' th = pkt.l4proto < 0 ? -1 : pkt.transportHeader;';
  if (used('ih')) refresh += ' ih = pkt.innerNetworkHeader;';
  for (const f of fields) {
    const s = BASE_LOCAL[f.base]!;
    refresh += `\n${f.name} = ${s} < 0 || ${s} + ${f.offset + f.len} > tl ? -2 : ${readWord(`${s} + ${f.offset}`, f.len)};`;
  }
  const reload = words.map((w) => `w${w} = regs[${w}];`).join(' ');
  body = body.replaceAll('AFTER_CALL', `${reload} ${refresh}`);
  let src = `if (from !== ${start}) return resume(vm, chain, from);\n`;
  src += 'const regs = vm.regs, r8 = vm.r8, code = vm.code, pkt = vm.pkt;\n';
  src += 'let buf, tl, mh, nh, th, ih;\n';
  if (fields.length) src += `let ${fields.map((f) => f.name).join(', ')};\n`;
  if (words.length) src += `let ${words.map((w) => `w${w} = regs[${w}]`).join(', ')};\n`;
  src += refresh + '\ncode[0] = -1;\n' + body;
  src += `${g.flush()}return next(vm, chain, ${end});\n`;
  const names = g.consts.map((_, k) => `k${k}`);
  const factory = new Function('K', 'next', 'resume', `const [${names.join(', ')}] = K;\nreturn function chunk_${start}(vm, chain, from) {\n${src}};`);
  const resume: Chunk = (vm, ch, from) => {
    const r = interpretRange(vm, ch, from, end);
    return r >= 0 ? r : next(vm, ch, end);
  };
  void CHUNK_SOURCE;
  return factory(g.consts, next, resume) as Chunk;
}

export function jitChain(chain: CompiledChain): ChainRunner {
  const n = chain.rules.length;
  const end: Chunk = (vm) => { vm.code[0] = NFT_CONTINUE; return n; };
  const plans = plan(chain.rules);
  const fns: Chunk[] = new Array(plans.length);
  let next = end;
  for (let k = plans.length - 1; k >= 0; k--) {
    next = compileChunk(chain, plans[k]!.start, plans[k]!.end, next);
    fns[k] = next;
  }
  const first = next;
  const starts = plans.map((p) => p.start);
  return (vm, ch, from) => {
    if (from === 0) return first(vm, ch, 0);
    if (from >= n) return end(vm, ch, from);
    let k = starts.length - 1;
    while (starts[k]! > from) k--;
    return fns[k]!(vm, ch, from);
  };
}

/** Compiles every chain of a runtime in place. */
export function jitRuntime(rt: Runtime): void {
  for (const c of rt.chains) c.jit = jitChain(c);
}
