/**
 * The JIT: each chain becomes generated JS (`new Function`) with the hot
 * expressions (payload loads, cmp, meta, bitwise, immediate, lookup, counter)
 * inlined and the others called through their `eval`. Chains are cut into
 * chunks of CHUNK rules so V8 keeps optimising them; a chunk returns the
 * index of a rule that set a verdict, or -1 to go on with the next chunk.
 * Same contract as the interpreter (`ChainRunner`), which stays the reference.
 */
import type { Runtime, CompiledChain, ChainRunner, CompiledRule } from '../runtime.js';
import type { JitGen } from '../expr/types.js';
import type { Vm } from '../vm.js';

export const CHUNK = 64;

type Chunk = (vm: Vm, chain: CompiledChain, from: number, K: unknown[]) => number;

/** Header offsets cached in locals; re-read after code that may change the packet. */
const REFRESH = 'mh = pkt.macHeader; nh = pkt.networkHeader; th = pkt.l4proto < 0 ? -1 : pkt.transportHeader; ih = pkt.innerNetworkHeader; tl = pkt.tail; buf = pkt.buffer;';

function genRule(r: CompiledRule, i: number, consts: unknown[], caches: Set<string>): string {
  const label = `r${i}`;
  let lastWord = -1;
  const g: JitGen = {
    constant(v: unknown): string {
      let k = consts.indexOf(v);
      if (k < 0) { k = consts.length; consts.push(v); }
      return `K[${k}]`;
    },
    brk: `break ${label};`,
    word: (w) => (w === lastWord ? 'rw' : `regs[${w}]`),
    packetCache: (key) => { caches.add(`c_${key}`); return `c_${key}`; },
  };
  let body = '';
  for (const e of r.exprs) {
    const inl = e.ops.jit?.(e.p, g);
    if (inl) {
      body += inl.code.replaceAll('return RULE;', `return ${i};`) + '\n';
      if (inl.mayVerdict) body += `if (code[0] !== -1) { if (code[0] === -2) { code[0] = -1; ${g.brk} } return ${i}; }\n`;
      lastWord = inl.writesWord ?? -1;
    } else {
      body += `${g.constant(e.ops)}.eval(${g.constant(e.p)}, vm); ${REFRESH} INVALIDATE\n`;
      body += `if (code[0] !== -1) { if (code[0] === -2) { code[0] = -1; ${g.brk} } return ${i}; }\n`;
      lastWord = -1;
    }
  }
  // Reached the end: the rule matched without a verdict (traced as "continue").
  body += `if (vm.tracer !== undefined) vm.tracer.ruleContinue(vm, chain, ${i});\n`;
  return `if (from <= ${i}) {\n${label}: {\n${body}}\n}\n`;
}

function compileChunk(rules: CompiledRule[], start: number, end: number, consts: unknown[]): Chunk {
  // code[0] is NFT_CONTINUE between rules: set once on entry (a resumed chain may arrive with NFT_RETURN), and
  // reset wherever a called-out expression broke its rule.
  let src = `const regs = vm.regs, r8 = vm.r8, code = vm.code, pkt = vm.pkt; let rw = 0, mh, nh, th, ih, tl, buf; ${REFRESH} code[0] = -1;\n`;
  const caches = new Set<string>();
  let body = '';
  for (let i = start; i < end; i++) body += genRule(rules[i]!, i, consts, caches);
  const names = [...caches];
  if (names.length) src += `let ${names.map((n) => `${n} = -1`).join(', ')};\n`;
  src += body.replaceAll('INVALIDATE', names.map((n) => `${n} = -1;`).join(' '));
  src += 'return -1;\n';
  return new Function('vm', 'chain', 'from', 'K', src) as Chunk;
}

export function jitChain(chain: CompiledChain): ChainRunner {
  const rules = chain.rules;
  const chunks: Array<{ start: number; end: number; fn: Chunk; K: unknown[] }> = [];
  for (let s = 0; s < rules.length; s += CHUNK) {
    const e = Math.min(s + CHUNK, rules.length);
    const K: unknown[] = [];
    chunks.push({ start: s, end: e, fn: compileChunk(rules, s, e, K), K });
  }
  const n = rules.length;
  return (vm, ch, from) => {
    for (let c = 0; c < chunks.length; c++) {
      const k = chunks[c]!;
      if (from >= k.end) continue;
      const r = k.fn(vm, ch, from, k.K);
      if (r >= 0) return r;
    }
    vm.code[0] = -1;
    return n;
  };
}

/** Compiles every chain of a runtime in place. */
export function jitRuntime(rt: Runtime): void {
  for (const c of rt.chains) c.jit = jitChain(c);
}
