/** Runtime state of one set element, the kernel's nft_set_ext. */
import type { Verdict, Expr } from '../bytecode.js';

export interface ElemState {
  key: Uint8Array;
  keyEnd?: Uint8Array;
  /** NFT_SET_ELEM_* flags. */
  flags: number;
  data?: Uint8Array;
  verdict?: Verdict;
  objref?: string;
  /** Configured timeout in ms (0 = none). */
  timeout: number;
  /** Absolute expiry in ms on the engine clock (0 = never). */
  expires: number;
  /** Per-element stateful expressions (counter, limit, quota...), mutated in place. */
  exprs?: Expr[];
  comment?: string;
  /** Raw NFTA_SET_ELEM_USERDATA. */
  userdata?: Uint8Array;
}

/** A set backend: the kernel picks hash, rbtree or pipapo from the set's flags; so do we. */
export interface SetBackend {
  readonly kind: 'hash' | 'interval' | 'concat-range';
  /** The element matching the key bytes at `buf[off..off+keyLen)`, expired ones included (the caller checks). */
  lookup(buf: Uint8Array, off: number): ElemState | undefined;
  /** Inserts; returns the existing element with the same key instead when there is one. */
  insert(e: ElemState): ElemState | undefined;
  /** Removes the element with this key (and keyEnd); returns it. */
  remove(key: Uint8Array, keyEnd?: Uint8Array, flags?: number): ElemState | undefined;
  get(key: Uint8Array, keyEnd?: Uint8Array, flags?: number): ElemState | undefined;
  elements(): Iterable<ElemState>;
  readonly size: number;
  clear(): void;
  clone(): SetBackend;
}

export function bytesCompare(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function cloneElem(e: ElemState): ElemState {
  const c: ElemState = { ...e };
  if (e.exprs) c.exprs = e.exprs.map((x) => ({ ...x }));
  return c;
}
