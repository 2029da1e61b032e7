/**
 * Anonymous sets and maps (nftables src/segtree.c, netlink.c): element
 * encoding, interval conversion (a range becomes a start element and an end
 * element one past its top, with an end element at 0 when the first range
 * does not start there), merging of adjacent ranges, and the set flags.
 */
import * as B from '../netfilter/bytecode.js';
import type { Expr } from './ast.js';
import { bytesToBig, intBytes } from './datatypes.js';
import { NftError } from './diagnostics.js';
import { type Operand, evalValue, toInternal, toNetlink } from './evaluate.js';
import type { Linearizer } from './linearize.js';

export function isSetExpr(e: Expr): boolean { return e.kind === 'set' || e.kind === 'setref'; }

export interface SetData {
  kind: 'verdict' | 'value' | 'object';
  op?: Operand;
  objType?: number;
  /**
   * Data that are ranges (NAT maps to `a-b`, `a/n`, `a . p1-p2`): each element's data is
   * every part's low end, then every part's high end (EXPR_F_INTERVAL data, twice as long).
   */
  interval?: boolean;
}

/** Flattens nested anonymous sets and `$variables` (nft allows `{ $a, { 1, 2 } }`). */
function flatten(lin: Linearizer, elems: Expr[], out: Expr[] = []): Expr[] {
  for (const e of elems) {
    if (e.kind === 'set') flatten(lin, e.elems, out);
    else if (e.kind === 'variable') {
      const v = lin.env.defines.get(e.name);
      if (!v) throw new NftError('UNDEFINED_VAR', [e.name], e.loc);
      flatten(lin, [v], out);
    } else out.push(e);
  }
  return out;
}

interface Interval { lo: bigint; hi: bigint; data?: Partial<B.SetElement> }

function keyRange(e: Expr, op: Operand): [Uint8Array, Uint8Array] {
  if (e.kind === 'range') return [evalValue(e.low, op), evalValue(e.high, op)];
  if (e.kind === 'prefix') {
    const v = evalValue(e.expr, op);
    const bits = op.regBytes * 8;
    const n = bytesToBig(v, 'big');
    const hostMask = (1n << BigInt(bits - e.plen)) - 1n;
    const lo = n & ~hostMask & ((1n << BigInt(bits)) - 1n);
    return [intBytes(lo, bits, 'big'), intBytes(lo | hostMask, bits, 'big')];
  }
  const v = evalValue(e, op);
  return [v, v];
}

/**
 * The set a lookup or map uses (anonymous sets are built and registered here) and the
 * key load the lookup needs: range lookups convert host-order keys (intervalKeyLoad).
 */
export function buildSet(lin: Linearizer, e: Expr, key: Operand, data: SetData | undefined, keepAdjacent = false): { name: string; load: (r: number) => B.Expr[] } {
  if (e.kind === 'setref') {
    const s = lin.env.sets.get(e.name);
    if (!s) throw new NftError('GENERIC', [`Could not process rule: No such file or directory`], e.loc);
    return { name: e.name, load: (s.flags & B.NFT_SET_INTERVAL ? intervalKeyLoad(key) : undefined) ?? key.load };
  }
  if (e.kind !== 'set') throw new NftError('GENERIC', ['expected a set'], e.loc);
  const { elements, flags, hton, size } = encodeElements(lin.env.defines, e.elems, key, data, e.loc, false, keepAdjacent);
  const name = data?.kind === 'object' ? '__objmap%d' : data ? '__map%d' : '__set%d';
  const desc: B.SetDescriptor = {
    table: lin.table, name, flags, keyType: key.dtype.id, keyLen: key.regBytes, elements,
    size: size ?? elements.length,
  };
  if (data?.kind === 'verdict') { desc.dataType = B.NFT_DATA_VERDICT; desc.dataLen = 0; }
  else if (data?.kind === 'value') { desc.dataType = data.op!.dtype.id; desc.dataLen = data.op!.regBytes * (data.interval ? 2 : 1); }
  else if (data?.kind === 'object') desc.objType = data.objType;
  if (key.parts) desc.fieldLengths = key.parts.map((p) => p.regBytes);
  lin.sets.push(desc);
  const load = key.parts && flags & B.NFT_SET_INTERVAL ? intervalKeyLoad(key) : hton ? (r: number) => [...key.load(r), ...hton(r)] : undefined;
  return { name, load: load ?? key.load };
}


/**
 * Encodes set elements for a key (and map data) as the kernel stores them:
 * plain keys, intervals (start/end elements), concatenated ranges (key + key_end).
 * Returns the elements, the anonymous-set flags, and the hton conversion a lookup needs.
 */
/**
 * `keepAdjacent`: a named set without `auto-merge` keeps touching intervals apart (nft merges
 * them only for anonymous sets, set->automerge), each with its own end element.
 */
export function encodeElements(defines: Map<string, Expr>, raw: Expr[], key: Operand, data: SetData | undefined, loc: Expr['loc'], forceInterval = false, keepAdjacent = false): { elements: B.SetElement[]; flags: number; hton?: (r: number) => B.Expr[]; size?: number } {
  const lin = { env: { defines } } as unknown as Linearizer;
  const e = { loc };
  const elems = flatten(lin, raw);
  const isMap = data !== undefined;
  const keys = elems.map((x) => (x.kind === 'mapping' ? x.key : x));
  const bare = (k: Expr): Expr => (k.kind === 'elem' ? k.key : k);
  const concat = key.parts !== undefined;
  const interval = forceInterval || keys.some((k) => { const b = bare(k); return b.kind === 'range' || b.kind === 'prefix' || (b.kind === 'concat' && b.parts.some((p) => p.kind === 'range' || p.kind === 'prefix')); });
  let flags = B.NFT_SET_ANONYMOUS | B.NFT_SET_CONSTANT;
  if (interval) flags |= B.NFT_SET_INTERVAL;
  if (interval && concat) flags |= B.NFT_SET_CONCAT;
  if (isMap) flags |= data.kind === 'object' ? B.NFT_SET_OBJECT : B.NFT_SET_MAP;
  const dataOf = (x: Expr): Partial<B.SetElement> => {
    if (!data || x.kind !== 'mapping') return {};
    const v = x.value;
    if (data.kind === 'verdict') {
      if (v.kind !== 'verdict') throw new NftError('GENERIC', ['expected a verdict'], v.loc);
      return { verdict: verdictOf(v.verdict, v.chain) };
    }
    if (data.kind === 'object') return { objref: v.kind === 'symbol' ? v.text : '' };
    if (data.interval) {
      const ops = data.op!.parts ?? [data.op!];
      const vs = data.op!.parts && v.kind === 'concat' ? v.parts : [v];
      if (vs.length !== ops.length) throw new NftError('GENERIC', ['datatype mismatch in concatenation'], v.loc);
      const ends = vs.map((p, i) => keyRange(p, ops[i]!).map(pad4));
      return { data: cat([...ends.map((x) => x[0]!), ...ends.map((x) => x[1]!)]) };
    }
    if (data.op!.parts && v.kind === 'concat') return { data: cat(v.parts.map((p, i) => pad4(evalValue(p, data.op!.parts![i]!)))) };
    return { data: evalValue(v, data.op!) };
  };
  const elements: B.SetElement[] = [];
  let hton: ((r: number) => B.Expr[]) | undefined;
  let size: number | undefined;
  if (!interval) {
    for (const x of elems) {
      const k = bare(x.kind === 'mapping' ? x.key : x);
      if (k.kind === 'wildcard') { elements.push({ key: new Uint8Array(0), flags: B.NFT_SET_ELEM_CATCHALL, ...dataOf(x) }); continue; }
      elements.push({ key: encodeKey(k, key), flags: 0, ...dataOf(x) });
    }
  } else if (concat) {
    for (const x of elems) {
      const k = bare(x.kind === 'mapping' ? x.key : x);
      const parts = k.kind === 'concat' ? k.parts : [k];
      const los: Uint8Array[] = [];
      const his: Uint8Array[] = [];
      parts.forEach((p, i) => {
        const part = key.parts![i]!;
        let [lo, hi] = keyRange(p, part);
        // Interval data is big endian: a host-order part is stored converted (see intervalKeyLoad).
        if (htonPart(part)) { lo = lo.slice().reverse(); hi = hi.slice().reverse(); }
        los.push(pad4(lo));
        his.push(pad4(hi));
      });
      elements.push({ key: cat(los), keyEnd: cat(his), flags: 0, ...dataOf(x) });
    }
  } else {
    const hostOrder = key.byteorder === 'host' && key.regBytes > 1;
    const toBig = (b: Uint8Array): bigint => bytesToBig(b, hostOrder ? 'host' : 'big');
    const ivs: Interval[] = elems.map((x) => {
      const [lo, hi] = keyRange(bare(x.kind === 'mapping' ? x.key : x), key);
      return { lo: toBig(lo), hi: toBig(hi), data: dataOf(x) };
    });
    ivs.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
    const merged: Interval[] = [];
    for (const iv of ivs) {
      const last = merged[merged.length - 1];
      if (last && !isMap && (keepAdjacent ? iv.lo <= last.hi : iv.lo <= last.hi + 1n)) {
        if (keepAdjacent) throw new NftError('GENERIC', ['conflicting intervals specified'], e.loc);
        if (iv.hi > last.hi) last.hi = iv.hi;
        continue;
      }
      if (last && iv.lo <= last.hi) throw new NftError('GENERIC', ['conflicting intervals specified'], e.loc);
      merged.push({ ...iv });
    }
    const bits = key.regBytes * 8;
    const max = (1n << BigInt(bits)) - 1n;
    const enc = (v: bigint): Uint8Array => intBytes(v, bits, 'big');
    if (merged.length && merged[0]!.lo !== 0n) elements.push({ key: enc(0n), flags: B.NFT_SET_ELEM_INTERVAL_END });
    for (let i = 0; i < merged.length; i++) {
      const iv = merged[i]!;
      elements.push({ key: enc(iv.lo), flags: 0, ...iv.data });
      const next = merged[i + 1];
      if (iv.hi !== max && (keepAdjacent || !(next && next.lo === iv.hi + 1n))) elements.push({ key: enc(iv.hi + 1n), flags: B.NFT_SET_ELEM_INTERVAL_END });
    }
    if (hostOrder) hton = (r) => [{ type: 'byteorder', sreg: r, dreg: r, op: B.NFT_BYTEORDER_HTON, len: key.regBytes, size: key.regBytes }];
    // The declared size counts every interval's start and end (also an end that falls on the
    // next start or past the top) and the leading end at 0: what nft sized the set for
    // before dropping the redundant ends.
    size = (merged.length && merged[0]!.lo !== 0n ? 1 : 0) + 2 * merged.length;
  }
  return { elements, flags, hton, size };
}

/**
 * evaluate.c byteorder_conversion() of a concatenation: a range lookup needs big-endian
 * data, so every host-order integer part (not strings) gets its own `byteorder hton`
 * right after its load; netlink_gen_unary() sizes the swap by the part's length.
 */
function htonPart(p: Operand): boolean {
  return p.byteorder === 'host' && p.dtype.integer;
}

/** The key load of a lookup in an interval set, with the conversions nft adds; undefined when none. */
export function intervalKeyLoad(key: Operand): ((r: number) => B.Expr[]) | undefined {
  if (!key.parts) {
    if (key.byteorder !== 'host' || key.regBytes < 2 || !key.dtype.integer) return undefined;
    return (r) => [...key.load(r), { type: 'byteorder', sreg: r, dreg: r, op: B.NFT_BYTEORDER_HTON, len: key.regBytes, size: key.regBytes }];
  }
  if (!key.parts.some(htonPart)) return undefined;
  const parts = key.parts;
  return (r) => {
    const out: B.Expr[] = [];
    let internal = toInternal(r);
    for (const p of parts) {
      const reg = toNetlink(internal);
      out.push(...p.load(reg));
      if (htonPart(p)) {
        const bits = p.regBytes * 8;
        out.push({ type: 'byteorder', sreg: reg, dreg: reg, op: B.NFT_BYTEORDER_HTON, len: p.regBytes, size: bits % 64 === 0 ? 8 : bits % 32 === 0 ? 4 : 2 });
      }
      internal += Math.ceil(p.regBytes / 4);
    }
    return out;
  };
}

function encodeKey(k: Expr, key: Operand): Uint8Array {
  if (key.parts) {
    const parts = k.kind === 'concat' ? k.parts : [k];
    if (parts.length !== key.parts.length) throw new NftError('GENERIC', ['datatype mismatch in concatenation'], k.loc);
    return cat(parts.map((p, i) => pad4(evalValue(p, key.parts![i]!))));
  }
  return evalValue(k, key);
}

function pad4(b: Uint8Array): Uint8Array {
  const n = Math.ceil(b.length / 4) * 4;
  if (n === b.length) return b;
  const out = new Uint8Array(n);
  out.set(b);
  return out;
}

function cat(bs: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of bs) { out.set(b, o); o += b.length; }
  return out;
}

export function verdictOf(v: string, chain?: string): B.Verdict {
  switch (v) {
    case 'accept': return { code: B.NF_ACCEPT };
    case 'drop': return { code: B.NF_DROP };
    case 'continue': return { code: B.NFT_CONTINUE };
    case 'return': return { code: B.NFT_RETURN };
    case 'jump': return { code: B.NFT_JUMP, chain: chain! };
    case 'goto': return { code: B.NFT_GOTO, chain: chain! };
    case 'queue': return { code: B.NF_QUEUE };
    default: throw new NftError('GENERIC', [`unknown verdict ${v}`], undefined);
  }
}
