/**
 * Exact-match sets (the kernel's nft_set_hash / nft_set_rhash). Keys of up to
 * 4 bytes index a Map by number, longer ones by a string of their bytes; a
 * lookup costs the same at 10 or 1,000,000 elements.
 */
import type { ElemState, SetBackend } from './types.js';
import { cloneElem } from './types.js';

export class HashSet implements SetBackend {
  readonly kind = 'hash' as const;
  private map = new Map<number | string, ElemState>();
  constructor(readonly keyLen: number) {}

  private keyOf(buf: Uint8Array, off: number): number | string {
    const n = this.keyLen;
    if (n <= 4) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + buf[off + i]!;
      return v;
    }
    let s = '';
    for (let i = 0; i < n; i += 2) s += String.fromCharCode((buf[off + i]! << 8) | (buf[off + i + 1] ?? 0));
    return s;
  }
  lookup(buf: Uint8Array, off: number): ElemState | undefined {
    return this.map.get(this.keyOf(buf, off));
  }
  insert(e: ElemState): ElemState | undefined {
    const k = this.keyOf(e.key, 0);
    const old = this.map.get(k);
    if (old) return old;
    this.map.set(k, e);
    return undefined;
  }
  get(key: Uint8Array): ElemState | undefined {
    return this.map.get(this.keyOf(key, 0));
  }
  remove(key: Uint8Array): ElemState | undefined {
    const k = this.keyOf(key, 0);
    const old = this.map.get(k);
    if (old) this.map.delete(k);
    return old;
  }
  elements(): Iterable<ElemState> { return this.map.values(); }
  get size(): number { return this.map.size; }
  clear(): void { this.map.clear(); }
  clone(): SetBackend {
    const c = new HashSet(this.keyLen);
    for (const [k, v] of this.map) c.map.set(k, cloneElem(v));
    return c;
  }
}
