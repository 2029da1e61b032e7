/**
 * The JIT: each chain becomes generated JS (`new Function`), straight-line
 * code per rule (emit.ts) with register words in locals, packet fields read
 * once per chunk (when first tested), constants inlined as numbers, and anything not inlined
 * called through its `eval` — the interpreter's code. Same contract as the
 * interpreter (`ChainRunner`), which stays the reference.
 *
 * Chains are cut into chunks of at most CHUNK rules and ~CHUNK_SOURCE
 * characters of source: V8 does not optimise a function past ~60 KB of
 * bytecode. Runs of rules that begin with the same "field == constant" test
 * become one binary search on the field (genGroup): 100 such rules measured
 * ~15 ns per packet in one chunk. A chunk also ends after every rule that jumps,
 * or looks up a verdict map, so that returning from the jumped-to chain
 * (nft_do_chain's jump stack: the walk resumes at the next rule) enters
 * compiled code at its first rule. A chunk entered anywhere else (a return
 * after a called-out expression's jump) runs the rest of its rules in the
 * interpreter, then the next chunk compiled.
 * Chunks call the next chunk directly; the last one ends the chain.
 */
import type { Runtime, CompiledChain, ChainRunner, CompiledRule } from '../runtime.js';
import { NFT_CONTINUE, NFT_JUMP, NFT_CMP_EQ } from '../bytecode.js';
import type { PayloadP } from '../expr/payload.js';
import type { CmpP } from '../expr/cmp.js';
import type { LookupP } from '../expr/lookup.js';
import type { ImmediateP } from '../expr/immediate.js';
import type { Vm } from '../vm.js';
import { ChunkGen, BASE_LOCAL, readWord, emitExpr } from './emit.js';
import type { Field } from './emit.js';
import { interpretRules } from '../chain-eval.js';

/** Most rules per chunk. */
export const CHUNK = 256;
/**
 * Generated source per chunk beyond which a chunk ends: ~3 characters per
 * byte of bytecode, so ~20 KB of bytecode, well under the ~60 KB past which
 * V8 does not optimise (64 simple rules measured 5.2 KB).
 */
const CHUNK_SOURCE = 60_000;

type Chunk = (vm: Vm, chain: CompiledChain, from: number) => number;

/** JS loading packet field `f` into its local: -2 when it lies past the packet or its header is missing. */
function fieldLoad(f: Field): string {
  const s = BASE_LOCAL[f.base]!;
  return `${s} < 0 || ${s} + ${f.offset + f.len} > tl ? -2 : ${readWord(`${s} + ${f.offset}`, f.len)}`;
}

/** Rule `i`'s code; `skip` leading expressions left out (a group switch did them). */
function genRule(r: CompiledRule, i: number, g: ChunkGen, skip = 0): string {
  g.label = `r${i}`;
  g.ruleIndex = i;
  let body = '';
  for (let j = skip; j < r.exprs.length; j++) body += emitExpr(r.exprs[j]!, g) + '\n';
  // Reached the end: the rule matched without a verdict (traced as "continue").
  body += `if (vm.tracer !== undefined) { ${g.flush()}vm.tracer.ruleContinue(vm, chain, ${i}); }\n`;
  return `${g.label}: {\n${body}}\n`;
}

/** Whether rule `r` may jump (an immediate jump, a verdict map): the jumped-to chain's return resumes at the next rule. */
function jumps(r: CompiledRule): boolean {
  return r.exprs.some((e) => (e.ops.type === 'immediate' && (e.p as ImmediateP).verdict?.code === NFT_JUMP) ||
    (e.ops.type === 'lookup' && (e.p as LookupP).dreg === 0));
}

/** Fewest rules worth a binary search. */
const GROUP_MIN = 4;

/** The rule's leading "payload field == constant" test: field key, register word and constant, if it has one. */
function firstTest(r: CompiledRule): { key: string; p: PayloadP; value: number } | undefined {
  const [a, b] = r.exprs;
  if (a === undefined || b === undefined || a.ops.type !== 'payload' || b.ops.type !== 'cmp') return undefined;
  const p = a.p as PayloadP;
  const c = b.p as CmpP;
  if (p.write || p.base > 3 || p.len > 4 || p.reg >> 2 < 4) return undefined;
  if (c.op !== NFT_CMP_EQ || c.word !== p.reg >> 2 || c.len !== p.len) return undefined;
  // The loaded word holds only the field's bytes (storeBytes zeroes the rest), so the masked compare is a plain one.
  return { key: `${p.base}_${p.offset}_${p.len}_${p.reg}`, p, value: c.value };
}

/** How many rules from `i` share rule i's first test. */
function groupAt(rules: CompiledRule[], i: number, end: number): number {
  const t = firstTest(rules[i]!);
  if (t === undefined) return 0;
  let n = 1;
  while (i + n < end && firstTest(rules[i + n]!)?.key === t.key) n++;
  return n;
}

/**
 * Rules [s, e) that all begin "load field F into word W; F == constant":
 * one binary search on F runs, in rule order, only the rules whose constant
 * matches — those are the only rules that get past their first test, so
 * nothing else is observable, provided no rule's remainder can change the
 * packet (then F would have to be re-read): remainders with call-outs
 * make the group fall back to rule-by-rule code. W is left as the
 * interpreter leaves it: F after each rule's load, then whatever the last
 * rule's remainder wrote if its test passed.
 */
function genGroup(rules: CompiledRule[], s: number, e: number, g: ChunkGen): string | undefined {
  const t0 = firstTest(rules[s]!)!;
  const w = t0.p.reg >> 2;
  const f = g.field(t0.p.base, t0.p.offset, t0.p.len);
  const wl = g.write(w);
  const byValue = new Map<number, number[]>();
  for (let i = s; i < e; i++) {
    const v = firstTest(rules[i]!)!.value;
    const l = byValue.get(v) ?? [];
    l.push(i);
    byValue.set(v, l);
  }
  const leaves: Array<{ key: number; code: string }> = [];
  for (const [v, list] of byValue) {
    let code = '';
    for (const i of list) {
      const r = genRule(rules[i]!, i, g, 2);
      if (r.includes('AFTER_CALL')) return undefined;
      code += `${wl} = ${f};\n${r}`;
    }
    if (list[list.length - 1] !== e - 1) code += `${wl} = ${f};\n`;
    leaves.push({ key: v | 0, code });
  }
  // A binary search on the int32 view of F (a JS switch on sparse values is a linear chain of compares).
  leaves.sort((a, b) => a.key - b.key);
  const k = `k_${s}`;
  const tree = (lo: number, hi: number): string => {
    if (hi - lo <= 3) {
      let out = '';
      for (let j = lo; j < hi; j++) out += `${j > lo ? 'else ' : ''}if (${k} === ${leaves[j]!.key}) {\n${leaves[j]!.code}}\n`;
      return out;
    }
    const mid = (lo + hi) >> 1;
    return `if (${k} < ${leaves[mid]!.key}) {\n${tree(lo, mid)}} else {\n${tree(mid, hi)}}\n`;
  };
  return `if (${f} !== -2) {\n${wl} = ${f};\nconst ${k} = ${f} | 0;\n${tree(0, leaves.length)}}\n`;
}

interface ChunkPlan { start: number; end: number }

function plan(rules: CompiledRule[]): ChunkPlan[] {
  const out: ChunkPlan[] = [];
  let s = 0;
  let size = 0;
  for (let i = 0; i < rules.length; i++) {
    // Source size of the rule on its own: ~3 characters per byte of bytecode.
    size += genRule(rules[i]!, i, new ChunkGen()).length;
    if (i + 1 - s >= CHUNK || size >= CHUNK_SOURCE || jumps(rules[i]!) || i + 1 === rules.length) {
      out.push({ start: s, end: i + 1 });
      s = i + 1;
      size = 0;
    }
  }
  return out;
}

/**
 * Generates chunk [start, end); `next` continues the chain at `end`. The
 * chunk is a closure over its constants (k0, k1, ...) and `next`.
 */
function compileChunk(chain: CompiledChain, start: number, end: number, next: Chunk, last: boolean): Chunk {
  const rules = chain.rules;
  const g = new ChunkGen();
  let body = '';
  // A packet field is first read just before the first rule that tests it: rules run in order,
  // and a walk that ends earlier (the common accept of `ct state established`) never pays for it.
  const firstLoads = (from: number): string => {
    let s = '';
    for (const f of [...g.fields.values()].slice(from)) s += `${f.name} = ${fieldLoad(f)};\n`;
    return s;
  };
  for (let i = start; i < end;) {
    const known = g.fields.size;
    const n = groupAt(rules, i, end);
    if (n >= GROUP_MIN) {
      const grp = genGroup(rules, i, i + n, g);
      if (grp !== undefined) { body += firstLoads(known) + grp; i += n; continue; }
    }
    const r = genRule(rules[i]!, i, g);
    body += firstLoads(known) + r;
    i++;
  }
  const fields = [...g.fields.values()];
  const words = [...g.words];
  const used = (name: string): boolean => new RegExp(`\\b${name}\\b`).test(body) || fields.some((f) => BASE_LOCAL[f.base] === name);
  // Header offsets, read on entry and re-read, with the packet fields, after anything that may change the packet.
  let headers = 'buf = pkt.buffer; tl = pkt.tail;';
  if (used('mh')) headers += ' mh = pkt.macHeader;';
  if (used('nh')) headers += ' nh = pkt.networkHeader;';
  if (used('th')) headers += ' th = pkt.l4proto < 0 ? -1 : pkt.transportHeader;';
  if (used('ih')) headers += ' ih = pkt.innerNetworkHeader;';
  let refresh = headers;
  for (const f of fields) refresh += `\n${f.name} = ${fieldLoad(f)};`;
  const reload = words.map((w) => `w${w} = regs[${w}];`).join(' ');
  body = body.replaceAll('AFTER_CALL', `${reload} ${refresh}`);
  let src = `if (from !== ${start}) return resume(vm, chain, from);\n`;
  src += 'const regs = vm.regs, r8 = vm.r8, code = vm.code, pkt = vm.pkt;\n';
  src += 'let buf, tl, mh, nh, th, ih;\n';
  if (fields.length) src += `let ${fields.map((f) => f.name).join(', ')};\n`;
  if (words.length) src += `let ${words.map((w) => `w${w} = regs[${w}]`).join(', ')};\n`;
  src += headers + '\ncode[0] = -1;\n' + body;
  // The chain's end inline (what `next` would do last): no verdict, NFT_CONTINUE.
  src += last ? `${g.flush()}code[0] = ${NFT_CONTINUE}; return ${chain.rules.length};\n` : `${g.flush()}return next(vm, chain, ${end});\n`;
  const names = g.consts.map((_, k) => `k${k}`);
  const factory = new Function('K', 'next', 'resume', `const [${names.join(', ')}] = K;\nreturn function chunk_${start}(vm, chain, from) {\n${src}};`);
  // Entered past its first rule: the interpreter up to this chunk's end, or straight on to a later chunk.
  const resume: Chunk = (vm, ch, from) => {
    if (from >= end) return next(vm, ch, from);
    const r = interpretRules(vm, ch, from, end);
    return r >= 0 ? r : next(vm, ch, end);
  };
  return factory(g.consts, next, resume) as Chunk;
}

export function jitChain(chain: CompiledChain): ChainRunner {
  const n = chain.rules.length;
  const end: Chunk = (vm) => { vm.code[0] = NFT_CONTINUE; return n; };
  const plans = plan(chain.rules);
  let next = end;
  for (let k = plans.length - 1; k >= 0; k--) next = compileChunk(chain, plans[k]!.start, plans[k]!.end, next, k === plans.length - 1);
  // The first chunk is the runner: a walk resumed at a later rule passes from chunk to chunk to the right one.
  return next;
}

/** Compiles every chain of a runtime in place. */
export function jitRuntime(rt: Runtime): void {
  for (const c of rt.chains) c.jit = jitChain(c);
}
