/**
 * Interval sets (the kernel's nft_set_rbtree): nft sends each range as a start
 * element and an end element flagged NFT_SET_ELEM_INTERVAL_END whose key is
 * one past the range. A key matches when the greatest boundary not above it is
 * a start. Boundaries sit in one array sorted by memcmp order (keys are in
 * network order, so this is numeric order); a lookup is a binary search.
 */
import { NFT_SET_ELEM_INTERVAL_END } from '../bytecode.js';
import type { ElemState, SetBackend } from './types.js';
import { bytesCompare, cloneElem } from './types.js';

export class IntervalSet implements SetBackend {
  readonly kind = 'interval' as const;
  private bounds: ElemState[] = [];
  constructor(readonly keyLen: number) {}

  /** Index of the greatest boundary <= key, -1 if none. */
  private floor(buf: Uint8Array, off: number): number {
    let lo = 0;
    let hi = this.bounds.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = bytesCompare(this.bounds[mid]!.key, 0, buf, off, this.keyLen);
      if (c <= 0) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  }
  lookup(buf: Uint8Array, off: number): ElemState | undefined {
    const i = this.floor(buf, off);
    if (i < 0) return undefined;
    const b = this.bounds[i]!;
    return b.flags & NFT_SET_ELEM_INTERVAL_END ? undefined : b;
  }
  private indexOfExact(key: Uint8Array, flags: number): number {
    const i = this.floor(key, 0);
    // An end and a start may share a key (adjacent ranges); look at both neighbours.
    for (const j of [i, i - 1]) {
      const b = this.bounds[j];
      if (b && bytesCompare(b.key, 0, key, 0, this.keyLen) === 0 &&
        (b.flags & NFT_SET_ELEM_INTERVAL_END) === (flags & NFT_SET_ELEM_INTERVAL_END)) return j;
    }
    return -1;
  }
  insert(e: ElemState): ElemState | undefined {
    const j = this.indexOfExact(e.key, e.flags);
    if (j >= 0) return this.bounds[j];
    // Ends sort before starts with the same key: [a, b) followed by [b, c).
    let pos = this.floor(e.key, 0) + 1;
    if (!(e.flags & NFT_SET_ELEM_INTERVAL_END)) {
      // keep start after an equal end
    } else {
      while (pos > 0 && bytesCompare(this.bounds[pos - 1]!.key, 0, e.key, 0, this.keyLen) === 0 &&
        !(this.bounds[pos - 1]!.flags & NFT_SET_ELEM_INTERVAL_END)) pos--;
    }
    this.bounds.splice(pos, 0, e);
    return undefined;
  }
  get(key: Uint8Array, _keyEnd?: Uint8Array, flags = 0): ElemState | undefined {
    const j = this.indexOfExact(key, flags);
    return j >= 0 ? this.bounds[j] : undefined;
  }
  remove(key: Uint8Array, _keyEnd?: Uint8Array, flags = 0): ElemState | undefined {
    const j = this.indexOfExact(key, flags);
    if (j < 0) return undefined;
    return this.bounds.splice(j, 1)[0];
  }
  elements(): Iterable<ElemState> { return this.bounds; }
  get size(): number { return this.bounds.length; }
  clear(): void { this.bounds = []; }
  clone(): SetBackend {
    const c = new IntervalSet(this.keyLen);
    c.bounds = this.bounds.map(cloneElem);
    return c;
  }
}

/**
 * Concatenated ranges (the kernel's nft_set_pipapo): each element carries key
 * and key_end, and matches when every field lies within its own bounds. A
 * linear scan: these sets are small in practice.
 */
export class ConcatRangeSet implements SetBackend {
  readonly kind = 'concat-range' as const;
  private elems: ElemState[] = [];
  /** Field byte lengths rounded to 32-bit words, as laid out in registers. */
  private fields: number[];
  constructor(readonly keyLen: number, fieldLengths: number[]) {
    this.fields = fieldLengths.length ? fieldLengths.map((l) => (l + 3) & ~3) : [keyLen];
  }
  private matches(e: ElemState, buf: Uint8Array, off: number): boolean {
    let o = 0;
    const end = e.keyEnd ?? e.key;
    for (const f of this.fields) {
      if (bytesCompare(buf, off + o, e.key, o, f) < 0) return false;
      if (bytesCompare(buf, off + o, end, o, f) > 0) return false;
      o += f;
    }
    return true;
  }
  lookup(buf: Uint8Array, off: number): ElemState | undefined {
    for (const e of this.elems) if (this.matches(e, buf, off)) return e;
    return undefined;
  }
  private find(key: Uint8Array, keyEnd?: Uint8Array): number {
    const end = keyEnd ?? key;
    return this.elems.findIndex((e) => bytesCompare(e.key, 0, key, 0, this.keyLen) === 0 &&
      bytesCompare(e.keyEnd ?? e.key, 0, end, 0, this.keyLen) === 0);
  }
  insert(e: ElemState): ElemState | undefined {
    const j = this.find(e.key, e.keyEnd);
    if (j >= 0) return this.elems[j];
    this.elems.push(e);
    return undefined;
  }
  get(key: Uint8Array, keyEnd?: Uint8Array): ElemState | undefined {
    const j = this.find(key, keyEnd);
    return j >= 0 ? this.elems[j] : undefined;
  }
  remove(key: Uint8Array, keyEnd?: Uint8Array): ElemState | undefined {
    const j = this.find(key, keyEnd);
    return j >= 0 ? this.elems.splice(j, 1)[0] : undefined;
  }
  elements(): Iterable<ElemState> { return this.elems; }
  get size(): number { return this.elems.length; }
  clear(): void { this.elems = []; }
  clone(): SetBackend {
    const c = new ConcatRangeSet(this.keyLen, []);
    c.fields = this.fields;
    c.elems = this.elems.map(cloneElem);
    return c;
  }
}
