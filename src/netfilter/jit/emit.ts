/**
 * Inline JS for the hot expressions, emitted by the JIT (compile.ts) into a
 * chunk function. The register words a chunk touches live in locals `wN`
 * (N = word index 4..19) holding exactly what `vm.regs[N]` would hold in the
 * interpreter (a uint32); they are written back ("flushed") before anything
 * that reads `vm.regs` itself (a called-out expression, a set lookup, the
 * tracer) and before the chunk returns, and reloaded after anything that may
 * write it. Packet fields of 1–4 bytes are read into locals `fK` before the
 * first rule that tests them and again after every call-out that may change
 * the packet (loads from the host — meta, ct, rt, ipsec — do not); -2 when
 * the load would run past the packet, where the rule breaks.
 *
 * An emitter returns undefined for a shape it does not inline; the chunk then
 * calls the expression's `eval` — the interpreter's own code — so every shape
 * stays exactly equal to the reference.
 */
import type { CompiledExpr } from '../runtime.js';
import type { PayloadP } from '../expr/payload.js';
import type { CmpP } from '../expr/cmp.js';
import type { BitwiseP } from '../expr/bitwise.js';
import type { ImmediateP } from '../expr/immediate.js';
import type { MetaP } from '../expr/meta.js';
import { ifnameWords, metaKeyLen } from '../expr/meta.js';
import type { CtP } from '../expr/ct.js';
import type { RtP } from '../expr/rt.js';
import type { XfrmP } from '../expr/xfrm.js';
import type { LookupP } from '../expr/lookup.js';
import type { RangeP } from '../expr/range.js';
import type { CounterP } from '../expr/counter.js';
import {
  NFT_CMP_EQ, NFT_CMP_NEQ, NFT_CMP_LT, NFT_CMP_LTE, NFT_CMP_GT, NFT_BITWISE_BOOL, NFT_RANGE_EQ, NFT_META,
} from '../bytecode.js';
import { statefulEval } from '../expr/stateful.js';

/** A packet field cached in a chunk local: `len` (1–4) bytes at header `base` + `offset`. */
export interface Field { name: string; base: number; offset: number; len: number }

/** Per-chunk emission state. */
export class ChunkGen {
  readonly consts: unknown[] = [];
  /** Register words the chunk keeps in locals. */
  readonly words = new Set<number>();
  /** Words written by inline code so far (what a flush must store). */
  readonly dirty = new Set<number>();
  readonly fields = new Map<string, Field>();
  /** Label of the rule being emitted; `break <label>` ends it as NFT_BREAK. */
  label = '';
  ruleIndex = 0;

  constant(v: unknown): string {
    let k = this.consts.indexOf(v);
    if (k < 0) { k = this.consts.length; this.consts.push(v); }
    return `k${k}`;
  }
  get brk(): string { return `break ${this.label};`; }
  /** Local of register word `w` (the caller checked w >= 4). */
  reg(w: number): string { this.words.add(w); return `w${w}`; }
  write(w: number): string { this.dirty.add(w); return this.reg(w); }
  /** Stores the words written so far back into vm.regs. */
  flush(): string {
    let s = '';
    for (const w of this.dirty) s += `regs[${w}] = w${w}; `;
    return s;
  }
  field(base: number, offset: number, len: number): string {
    const key = `${base}_${offset}_${len}`;
    let f = this.fields.get(key);
    if (!f) { f = { name: `f${this.fields.size}`, base, offset, len }; this.fields.set(key, f); }
    return f.name;
  }
  /** Ends the chunk with the rule's verdict already in code[0]. */
  ret(): string { return `${this.flush()}return ${this.ruleIndex};`; }
}

/** Header-start local per payload base (nft_payload_eval's bases; see baseOffset). */
export const BASE_LOCAL = ['mh', 'nh', 'th', 'ih'] as const;

/** JS reading `len` (1–4) bytes at `a` as the register word storeBytes() would leave (little-endian host order). */
export function readWord(a: string, len: number): string {
  const parts = [];
  for (let i = 0; i < len; i++) parts.push(i === 0 ? `buf[${a}]` : `(buf[${a} + ${i}] << ${8 * i})`);
  return len === 4 ? `(${parts.join(' | ')}) >>> 0` : parts.join(' | ');
}

/** The register word a constant of `len` (≤ 4) bytes from `b[at]` becomes. */
function wordOf(b: Uint8Array, at: number, len: number): number {
  let v = 0;
  for (let i = 0; i < len; i++) v |= b[at + i]! << (8 * i);
  return v >>> 0;
}

/** The big-endian (memcmp-order) value of the first `len` (≤ 4) bytes of a register word. */
function beOf(r: string, len: number): string {
  const parts = [];
  for (let k = 0; k < len; k++) {
    const byte = k === 0 ? `(${r} & 255)` : `((${r} >>> ${8 * k}) & 255)`;
    const sh = 8 * (len - 1 - k);
    parts.push(sh ? `(${byte} << ${sh})` : byte);
  }
  return `((${parts.join(' | ')}) >>> 0)`;
}
function beConst(b: Uint8Array, len: number): number {
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + b[i]!;
  return v;
}

/** Words [w, w + n) all data-register words (the verdict words 0–3 are left to eval). */
function dataWords(w: number, n: number): boolean { return w >= 4 && w + n <= 20; }

function payload(p: PayloadP, g: ChunkGen): string | undefined {
  if (p.write || p.base > 3 || p.len > 16 || !dataWords(p.reg >> 2, (p.len + 3) >> 2)) return undefined;
  const w = p.reg >> 2;
  if (p.len <= 4) {
    const f = g.field(p.base, p.offset, p.len);
    return `if (${f} === -2) ${g.brk} ${g.write(w)} = ${f};`;
  }
  // 5–16 bytes (IPv6 addresses): one word per 4 bytes, the partial last word's high bytes zero.
  const s = BASE_LOCAL[p.base]!;
  let code = `{ const a = ${s} + ${p.offset}; if (${s} < 0 || a + ${p.len} > tl) ${g.brk} `;
  for (let i = 0; i < p.len; i += 4) code += `${g.write(w + (i >> 2))} = ${readWord(`a + ${i}`, Math.min(4, p.len - i))}; `;
  return code + '}';
}

function cmp(p: CmpP, g: ChunkGen): string | undefined {
  const nw = (p.len + 3) >> 2;
  if (!dataWords(p.word, nw)) return undefined;
  if (p.op === NFT_CMP_EQ || p.op === NFT_CMP_NEQ) {
    // nft_cmp_fast / memcmp equality, word by word; the partial last word masked.
    const terms = [];
    for (let i = 0; i < nw; i++) {
      const n = Math.min(4, p.len - 4 * i);
      const r = g.reg(p.word + i);
      const v = wordOf(p.data, 4 * i, n);
      terms.push(n === 4 ? `${r} !== ${v}` : `(${r} & ${2 ** (8 * n) - 1}) !== ${v}`);
    }
    const differs = terms.join(' || ');
    return p.op === NFT_CMP_EQ ? `if (${differs}) ${g.brk}` : `if (!(${differs})) ${g.brk}`;
  }
  if (p.len > 4) return undefined;
  // memcmp order is big-endian numeric order.
  const lhs = beOf(g.reg(p.word), p.len);
  const rhs = beConst(p.data, p.len);
  const ok = p.op === NFT_CMP_LT ? '<' : p.op === NFT_CMP_LTE ? '<=' : p.op === NFT_CMP_GT ? '>' : '>=';
  return `if (!(${lhs} ${ok} ${rhs})) ${g.brk}`;
}

function range(p: RangeP, g: ChunkGen): string | undefined {
  if (p.len > 4 || !dataWords(p.reg >> 2, 1)) return undefined;
  const v = beOf(g.reg(p.reg >> 2), p.len);
  const inside = `(${v} >= ${beConst(p.from, p.len)} && ${v} <= ${beConst(p.to, p.len)})`;
  return `if (${p.op === NFT_RANGE_EQ ? '!' : ''}${inside}) ${g.brk}`;
}

function bitwise(p: BitwiseP, g: ChunkGen): string | undefined {
  if (p.op !== NFT_BITWISE_BOOL || !dataWords(p.src, p.words) || !dataWords(p.dst, p.words)) return undefined;
  let code = '';
  // Word by word in order, as the interpreter does (overlapping src/dst behave the same).
  for (let i = 0; i < p.words; i++) {
    const src = g.reg(p.src + i);
    code += `${g.write(p.dst + i)} = ((${src} & ${p.mask[i]}) ^ ${p.xor[i]}) >>> 0; `;
  }
  return code;
}

function immediate(p: ImmediateP, g: ChunkGen): string | undefined {
  if (p.verdict) {
    const v = p.verdict.code;
    const chain = p.verdict.chain === undefined ? 'undefined' : JSON.stringify(p.verdict.chain);
    // continue: nothing but vm.chain; break: ends the rule; anything else ends the chain walk here.
    if (v === -1) return `vm.chain = ${chain};`;
    if (v === -2) return `vm.chain = ${chain}; ${g.brk}`;
    return `code[0] = ${v}; vm.chain = ${chain}; ${g.ret()}`;
  }
  const d = p.data!;
  if (d.length > 16 || !dataWords(p.reg >> 2, (d.length + 3) >> 2)) return undefined;
  let code = '';
  for (let i = 0; i < d.length; i += 4) code += `${g.write((p.reg >> 2) + (i >> 2))} = ${wordOf(d, i, Math.min(4, d.length - i))}; `;
  return code;
}

/**
 * `meta iifname`/`oifname`/`iifkind`/`oifkind` (nft_meta_get_eval): the
 * device's name as four register words, from ifnameWords' cache; no device
 * breaks the rule.
 */
function metaName(p: MetaP, g: ChunkGen): string | undefined {
  const w = p.reg >> 2;
  if (!dataWords(w, 4)) return undefined;
  const input = p.key === M.IIFNAME || p.key === M.IIFKIND;
  const field = p.key === M.IIFNAME || p.key === M.OIFNAME ? 'name' : 'kind';
  const words = g.constant(ifnameWords);
  let code = `{ const i = pkt.meta.${input ? 'iif' : 'oif'}; const d = i ? vm.env.host.device(i) : undefined; if (!d) ${g.brk} const n = ${words}(d.${field}); `;
  for (let i = 0; i < 4; i++) code += `${g.write(w + i)} = n[${i}]; `;
  return code + '}';
}

const M = NFT_META;
function meta(p: MetaP, g: ChunkGen): string | undefined {
  if (!p.set && (p.key === M.IIFNAME || p.key === M.OIFNAME || p.key === M.IIFKIND || p.key === M.OIFKIND)) return metaName(p, g);
  const w = p.reg >> 2;
  if (!dataWords(w, 1)) return undefined;
  if (p.set) {
    const r = g.reg(w);
    switch (p.key) {
      case M.MARK: return `pkt.meta.mark = ${r};`;
      case M.PRIORITY: return `pkt.meta.priority = ${r};`;
      default: return undefined;
    }
  }
  switch (p.key) {
    case M.MARK: return `${g.write(w)} = pkt.meta.mark >>> 0;`;
    case M.PRIORITY: return `${g.write(w)} = pkt.meta.priority >>> 0;`;
    case M.L4PROTO: return `if (pkt.l4proto < 0) ${g.brk} ${g.write(w)} = pkt.l4proto & 255;`;
    case M.NFPROTO: return `${g.write(w)} = vm.env.pf & 255;`;
    case M.IIF: return `if (!pkt.meta.iif) ${g.brk} ${g.write(w)} = pkt.meta.iif >>> 0;`;
    case M.OIF: return `if (!pkt.meta.oif) ${g.brk} ${g.write(w)} = pkt.meta.oif >>> 0;`;
    case M.PROTOCOL: return `${g.write(w)} = ((pkt.protocol >>> 8) & 255) | ((pkt.protocol & 255) << 8);`;
    case M.LEN: return `${g.write(w)} = (tl - (nh >= 0 ? nh : pkt.head)) >>> 0;`;
    case M.SECPATH: return `${g.write(w)} = pkt.meta.secpath && pkt.meta.secpath.length ? 1 : 0;`;
    case M.PKTTYPE: return `${g.write(w)} = pkt.meta.pktType & 255;`;
    default: return undefined;
  }
}

function counter(p: CounterP, g: ChunkGen): string {
  const c = g.constant(p.c);
  // pktLen(): layer-3 bytes, or the whole frame without a network header.
  return `${c}.packets += 1; ${c}.bytes += tl - (nh >= 0 ? nh : pkt.head);`;
}

/**
 * A called-out load (meta, ct, rt, ipsec reads: nft_meta_get_eval,
 * nft_ct_get_eval, nft_rt_get_eval, nft_xfrm_get_eval): it writes only its
 * `len` bytes at register byte `reg` and NFT_BREAK, and neither reads other
 * registers nor changes the packet — so only its destination words are synced
 * around the call, and the packet fields stay as they were read.
 */
function loadCall(e: CompiledExpr, reg: number, len: number, g: ChunkGen): string | undefined {
  const w0 = reg >> 2;
  const n = (len + 3) >> 2;
  if (!dataWords(w0, n)) return undefined;
  let code = '';
  // A break leaves the words as they were: the register file must hold them before the call.
  for (let i = 0; i < n; i++) if (g.dirty.has(w0 + i)) code += `regs[${w0 + i}] = w${w0 + i}; `;
  code += `${g.constant(e.ops)}.eval(${g.constant(e.p)}, vm); `;
  for (let i = 0; i < n; i++) code += `${g.reg(w0 + i)} = regs[${w0 + i}]; `;
  return code + `if (code[0] !== -1) { if (code[0] === -2) { code[0] = -1; ${g.brk} } return ${g.ruleIndex}; }`;
}

/** A called-out expression: the code that refreshes the chunk's view of vm/packet afterwards is `AFTER_CALL`. */
export function callout(e: CompiledExpr, g: ChunkGen): string {
  return `${g.flush()}${g.constant(e.ops)}.eval(${g.constant(e.p)}, vm); AFTER_CALL\n` +
    `if (code[0] !== -1) { if (code[0] === -2) { code[0] = -1; ${g.brk} } return ${g.ruleIndex}; }`;
}

function lookup(p: LookupP, g: ChunkGen): string | undefined {
  if (p.dreg !== -1) return undefined; // maps and verdict maps: eval
  // The set reads the key from vm.regs: store the key's words first.
  const nw = (p.set.decl.keyLen + 3) >> 2;
  const w = p.reg >> 2;
  let code = '';
  for (let i = 0; i < nw; i++) if (g.dirty.has(w + i)) code += `regs[${w + i}] = w${w + i}; `;
  const s = g.constant(p.set);
  code += `{ const el = ${s}.lookup(r8, ${p.reg}, vm.env.clock.nowMs()); if (el ${p.inv ? '!==' : '==='} undefined) ${g.brk}`;
  if (!p.inv) {
    // Per-element stateful expressions (nft_set_elem_update_expr): all of them, then the rule checks the verdict.
    const se = g.constant(statefulEval);
    code += `\nif (el.exprs) { ${g.flush()}for (const x of el.exprs) ${se}(x, vm); AFTER_CALL\n` +
      `if (code[0] !== -1) { if (code[0] === -2) { code[0] = -1; ${g.brk} } return ${g.ruleIndex}; } }`;
  }
  return code + ' }';
}

/** Inline code for one expression, or a call to its eval. */
export function emitExpr(e: CompiledExpr, g: ChunkGen): string {
  let s: string | undefined;
  switch (e.ops.type) {
    case 'payload': s = payload(e.p as PayloadP, g); break;
    case 'cmp': s = cmp(e.p as CmpP, g); break;
    case 'range': s = range(e.p as RangeP, g); break;
    case 'bitwise': s = bitwise(e.p as BitwiseP, g); break;
    case 'immediate': s = immediate(e.p as ImmediateP, g); break;
    case 'meta': {
      const p = e.p as MetaP;
      s = meta(p, g) ?? (p.set ? undefined : loadCall(e, p.reg, metaKeyLen(p.key), g));
      break;
    }
    case 'ct': {
      const p = e.p as CtP;
      s = p.set ? undefined : loadCall(e, p.reg, p.len, g);
      break;
    }
    // nft_rt: 16 bytes for the IPv6 nexthop (NFT_RT_NEXTHOP6), 4 otherwise (nft_rt_get_init).
    case 'rt': s = loadCall(e, (e.p as RtP).reg, (e.p as RtP).key === 2 ? 16 : 4, g); break;
    // nft_xfrm: 16 bytes for the IPv6 daddr/saddr keys, 4 otherwise (nft_xfrm_get_init).
    case 'xfrm': { const p = e.p as XfrmP; s = loadCall(e, p.reg, p.key === 2 || p.key === 4 ? 16 : 4, g); break; }
    case 'counter': s = counter(e.p as CounterP, g); break;
    case 'lookup': s = lookup(e.p as LookupP, g); break;
    default: s = undefined;
  }
  return s ?? callout(e, g);
}
