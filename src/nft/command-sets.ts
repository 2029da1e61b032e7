/**
 * Named sets and objects for the nft command's batch builder: what nfx keeps
 * in a set's userdata, the set's key and data operands (from type names, or
 * rebuilt from a committed set), element shapes for interval sets, the
 * counter/quota/ct helper object state, and the `--debug=netlink` lines nft
 * prints for set declarations, elements and objects.
 */
import * as B from '../netfilter/bytecode.js';
import { printElementLine } from '../netfilter/bytecode-text.js';
import type { Expr, Family, Loc } from './ast.js';
import { NftError } from './diagnostics.js';
import type { Operand } from './evaluate.js';
import { namedSetFromTypes, type NamedSet } from './index.js';
import type { SetData } from './sets.js';
import { DT, lookupDatatype } from './datatypes.js';
import { unitBytes } from './parser-stmt.js';
import { datatypeById, splitConcatType } from './command-names.js';

/** What nfx keeps in a named set's userdata so `list` can print the declaration as written. */
export interface SetUserdata {
  keyTypes?: string[];
  /** Every key field's datatype, width and byte order (also for `typeof` keys). */
  keyParts?: { t: string; bits: number; order: 'big' | 'host' }[];
  data?: { t: string; bits: number; order: 'big' | 'host' };
  dataType?: string;
  typeofKey?: string;
  typeofData?: string;
  flagWords: string[];
  comment?: string;
  autoMerge?: boolean;
  stmts?: string;
}

/** `autoMerge`: the set was declared `auto-merge` (touching intervals become one). */
export interface SetInfo { named: NamedSet; key: Operand; data?: SetData; flags: number; autoMerge?: boolean }
export const noLoad = (): B.Expr[] => [];

/** An operand for a set key (or map data) declared by type names. */
export function typeOperand(named: NamedSet, loc: Loc): Operand {
  const base = { shift: 0, deps: [], load: noLoad, loc };
  if (named.parts) {
    const parts = named.parts.map((p) => ({ ...base, dtype: p.dtype, bits: p.bits, byteorder: p.byteorder, regBytes: Math.ceil(p.bits / 8) }));
    return { ...base, dtype: DT.invalid, bits: named.keyBits, byteorder: 'big', regBytes: named.keyBits / 8, parts };
  }
  return { ...base, dtype: named.keyDtype, bits: named.keyBits, byteorder: named.keyByteorder, regBytes: Math.ceil(named.keyBits / 8) };
}

/** Flag words of a set declaration → NFT_SET_* bits. */
export function setFlags(words: string[], isMap: boolean, concat: boolean, objMap: boolean): number {
  let f = 0;
  if (words.includes('constant')) f |= B.NFT_SET_CONSTANT;
  if (words.includes('interval')) f |= B.NFT_SET_INTERVAL;
  if (words.includes('timeout')) f |= B.NFT_SET_TIMEOUT;
  if (words.includes('dynamic')) f |= B.NFT_SET_EVAL;
  if (objMap) f |= B.NFT_SET_OBJECT;
  else if (isMap) f |= B.NFT_SET_MAP;
  if (concat && f & B.NFT_SET_INTERVAL) f |= B.NFT_SET_CONCAT;
  return f;
}


/** A committed set's cache entry, from the userdata nfx stored or from its type ids. */
export function infoFromDecl(decl: Omit<B.SetDescriptor, 'elements'>): SetInfo | undefined {
  const ud = (decl.userdata?.['nfx'] ?? undefined) as SetUserdata | undefined;
  if (ud?.keyParts?.length) {
    const parts = ud.keyParts.map((p) => ({ dtype: lookupDatatype(p.t) ?? DT.integer, bits: p.bits, byteorder: p.order }));
    const concat = parts.length > 1;
    const named: NamedSet = {
      keyDtype: concat ? DT.invalid : parts[0]!.dtype, keyBits: concat ? parts.reduce((n, p) => n + Math.ceil(p.bits / 32) * 32, 0) : parts[0]!.bits,
      keyByteorder: parts[0]!.byteorder, isMap: (decl.flags & B.NFT_SET_MAP) !== 0, flags: decl.flags, parts: concat ? parts : undefined,
    };
    if (decl.dataType === B.NFT_DATA_VERDICT) named.dataDtype = DT.verdict;
    else if (ud.data) { named.dataDtype = lookupDatatype(ud.data.t); named.dataBits = ud.data.bits; }
    const data = dataOf(decl);
    if (data?.kind === 'value' && ud.data) data.op = { ...data.op!, dtype: lookupDatatype(ud.data.t) ?? DT.integer, bits: ud.data.bits, byteorder: ud.data.order };
    return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data };
  }
  let types = ud?.keyTypes;
  if (!types) {
    const n = decl.fieldLengths && decl.fieldLengths.length > 1 ? decl.fieldLengths.length : 1;
    const ids = n > 1 ? splitConcatType(decl.keyType, n) : [decl.keyType];
    const names = ids.map((id) => datatypeById(id)?.name);
    if (names.some((x) => !x || x === 'invalid' || x === 'integer' || x === 'string')) {
      // typeof sets of integers/strings: an integer of the key's length is all the compiler needs.
      if (n > 1) return undefined;
      const dt = datatypeById(decl.keyType) ?? DT.integer;
      const named: NamedSet = { keyDtype: dt, keyBits: decl.keyLen * 8, keyByteorder: dt.byteorder, isMap: (decl.flags & B.NFT_SET_MAP) !== 0, flags: decl.flags };
      return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data: dataOf(decl) };
    }
    types = names as string[];
  }
  const named = namedSetFromTypes(types, (decl.flags & B.NFT_SET_MAP) !== 0, [], undefined);
  named.flags = decl.flags;
  if (decl.dataType === B.NFT_DATA_VERDICT) named.dataDtype = DT.verdict;
  else if (decl.dataType !== undefined) { named.dataDtype = datatypeById(decl.dataType); named.dataBits = (decl.dataLen ?? 0) * 8; }
  return { named, key: typeOperand(named, { file: '', line: 0, first: 0, last: 0 }), flags: decl.flags, data: dataOf(decl) };
}

function dataOf(decl: Omit<B.SetDescriptor, 'elements'>): SetData | undefined {
  if (decl.flags & B.NFT_SET_OBJECT) return { kind: 'object', objType: decl.objType ?? 1 };
  if (!(decl.flags & B.NFT_SET_MAP)) return undefined;
  if (decl.dataType === B.NFT_DATA_VERDICT) return { kind: 'verdict' };
  const dt = datatypeById(decl.dataType ?? 0) ?? DT.integer;
  const bits = (decl.dataLen ?? 4) * 8;
  return { kind: 'value', op: { dtype: dt, bits: dt.size || bits, byteorder: dt.byteorder, regBytes: decl.dataLen ?? 4, shift: 0, deps: [], load: noLoad, loc: { file: '', line: 0, first: 0, last: 0 } } };
}

export function flattenElems(elems: Expr[], defines: Map<string, Expr>, out: Expr[] = [], depth = 0): Expr[] {
  if (depth > 32) return out;
  for (const e of elems) {
    if (e.kind === 'set') flattenElems(e.elems, defines, out, depth + 1);
    else if (e.kind === 'variable') {
      const v = defines.get(e.name);
      if (!v) throw new NftError('UNDEFINED_VAR', [e.name], e.loc);
      flattenElems([v], defines, out, depth + 1);
    } else out.push(e);
  }
  return out;
}

/** In an interval set a single value is the range [v, v]. */
export function asRange(x: Expr): Expr {
  if (x.kind === 'mapping') return { ...x, key: asRange(x.key) };
  if (x.kind === 'elem') return { ...x, key: asRange(x.key) };
  if (x.kind === 'range' || x.kind === 'prefix' || x.kind === 'wildcard') return x;
  if (x.kind === 'concat') return x.parts.some((p) => p.kind === 'range' || p.kind === 'prefix') ? x : { ...x, parts: [asRange(x.parts[0]!), ...x.parts.slice(1)] };
  return { kind: 'range', low: x, high: x, loc: x.loc };
}

/** Named counter/quota state from the object's body words. */
export function objectExpr(type: string, tokens: string[]): B.Expr | undefined {
  if (type === 'counter') {
    const num = (w: string): number => { const i = tokens.indexOf(w); return i >= 0 ? Number(tokens[i + 1]) || 0 : 0; };
    return { type: 'counter', packets: num('packets'), bytes: num('bytes') };
  }
  if (type === 'quota') {
    let i = 0;
    let flags = 0;
    if (tokens[i] === 'over') { flags = 1; i++; } else if (tokens[i] === 'until') i++;
    const n = Number(tokens[i++]);
    const unit = tokens[i] && /bytes$/.test(tokens[i]!) ? tokens[i++]! : 'bytes';
    let consumed = 0;
    if (tokens[i] === 'used') { consumed = Number(tokens[i + 1]) * unitBytes(tokens[i + 2] ?? 'bytes'); }
    return { type: 'quota', bytes: n * unitBytes(unit), consumed, flags };
  }
  return undefined;
}

/** `ct helper` (type, protocol, l3proto) and other objects' settings, kept with their body words. */
export function objectData(type: string, tokens: string[], family: Family): Record<string, unknown> {
  const data: Record<string, unknown> = { tokens };
  if (type === 'ct helper') {
    const at = (w: string): string | undefined => { const i = tokens.indexOf(w); return i >= 0 ? tokens[i + 1] : undefined; };
    data['type'] = (at('type') ?? '').replace(/^"|"$/g, '');
    data['protocol'] = at('protocol') ?? 'tcp';
    // nft_ct_helper_obj_init: without l3proto the table's family decides.
    data['l3proto'] = at('l3proto') ?? family;
  }
  if (type === 'secmark') data['ctx'] = tokens.join(' ').replace(/^"|"$/g, '');
  return data;
}

/** The object part of libnftnl's object line for objects kept as data. */
export function objDataDebug(type: string, data: Record<string, unknown>): string {
  if (type === 'ct helper') {
    const l3: Record<string, number> = { inet: 1, ip: 2, ip6: 10, bridge: 7, netdev: 5, arp: 3 };
    const proto: Record<string, number> = { tcp: 6, udp: 17, dccp: 33, sctp: 132, udplite: 136 };
    return `ct_helper name ${String(data['type'])} family ${l3[String(data['l3proto'])] ?? 0} protocol ${proto[String(data['protocol'])] ?? 0}`;
  }
  if (type === 'secmark') return `secmark context ${String(data['ctx'])}`;
  return type;
}

export function objDebug(e: B.Expr): string {
  if (e.type === 'counter') return `counter pkts ${e.packets} bytes ${e.bytes}`;
  if (e.type === 'quota') return `quota bytes ${e.bytes} consumed ${e.consumed} flags ${e.flags}`;
  return e.type;
}

export function setDeclDebug(d: B.SetDescriptor): string {
  let s = `${d.name} ${d.table} ${(d.flags >>> 0).toString(16)}`;
  if (d.timeout !== undefined) s += ` timeout ${d.timeout}ms`;
  if (d.gcInterval !== undefined) s += ` gc_interval ${d.gcInterval}ms`;
  if (d.policy !== undefined) s += ` policy ${d.policy}`;
  if (d.size !== undefined) s += ` size ${d.size}`;
  return s;
}

/** A comment as nft's userdata TLV: type 0 (NFTNL_UDATA_*_COMMENT), length, the text and its NUL. */
export function commentUdata(comment: string): Uint8Array {
  const text = new TextEncoder().encode(comment);
  const ud = new Uint8Array(text.length + 3);
  ud[1] = text.length + 1;
  ud.set(text, 2);
  return ud;
}

/** Userdata bytes as libnftnl prints them: printable ASCII as is, the rest as `\xNN`. */
export function udataText(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
  return s;
}

/** The element line of `--debug=netlink`; an element comment travels as userdata (NFTNL_UDATA_SET_ELEM_COMMENT, NUL-terminated). */
export function elementLine(els: B.SetElement[], interval = false): string {
  const open = interval ? openIntervalIndex(els) : -1;
  return printElementLine(els.map((e, i) => {
    if (e.comment === undefined && i !== open) return e;
    const parts = [e.comment !== undefined ? commentUdata(e.comment) : new Uint8Array(0), i === open ? INTERVAL_OPEN_UDATA : new Uint8Array(0)];
    const userdata = new Uint8Array(parts[0]!.length + parts[1]!.length);
    userdata.set(parts[0]!);
    userdata.set(parts[1]!, parts[0]!.length);
    return { ...e, userdata };
  }));
}

/**
 * libnftnl NFTNL_UDATA_SET_ELEM_FLAGS (1), 4 bytes, NFTNL_SET_ELEM_F_INTERVAL_OPEN: nft marks
 * an interval that runs to the top of the key space (it has no end element).
 */
export const INTERVAL_OPEN_UDATA = Uint8Array.of(1, 4, 1, 0, 0, 0);

/** The start element of an interval set's last interval when nothing ends it, else -1. */
export function openIntervalIndex(els: readonly B.SetElement[]): number {
  const i = els.length - 1;
  return i >= 0 && !(els[i]!.flags & (B.NFT_SET_ELEM_INTERVAL_END | B.NFT_SET_ELEM_CATCHALL)) && els[i]!.keyEnd === undefined ? i : -1;
}
