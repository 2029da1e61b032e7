/**
 * A set as the kernel holds it (struct nft_set): its declaration, a backend
 * chosen from its flags, the catch-all element, element timeouts on the
 * engine's clock, and the size limit.
 */
import type { SetDescriptor, SetElement, Expr } from '../bytecode.js';
import { NFT_SET_INTERVAL, NFT_SET_CONCAT, NFT_SET_ELEM_CATCHALL, NFT_SET_TIMEOUT } from '../bytecode.js';
import type { ElemState, SetBackend } from './types.js';
import { cloneElem } from './types.js';
import { HashSet } from './hash.js';
import { IntervalSet, ConcatRangeSet } from './interval.js';
import { ERRNO } from '../errors.js';

export type SetDecl = Omit<SetDescriptor, 'elements'>;

function pickBackend(d: SetDecl): SetBackend {
  const keyLen = d.keyLen;
  if (d.flags & NFT_SET_INTERVAL) {
    if (d.flags & NFT_SET_CONCAT || (d.fieldLengths && d.fieldLengths.length > 1)) return new ConcatRangeSet(keyLen, d.fieldLengths ?? []);
    return new IntervalSet(keyLen);
  }
  return new HashSet(keyLen);
}

export class NftSet {
  backend: SetBackend;
  catchall: ElemState | undefined;
  /** Set references held by rules (nft_set.use), checked by `delete set`. */
  use = 0;
  constructor(public decl: SetDecl) {
    this.backend = pickBackend(decl);
  }
  get name(): string { return this.decl.name; }
  get count(): number { return this.backend.size + (this.catchall ? 1 : 0); }

  private live(e: ElemState | undefined, now: number): ElemState | undefined {
    if (e && e.expires !== 0 && now >= e.expires) return undefined;
    return e;
  }
  /** The element matching `keyLen` bytes at buf[off], or the catch-all; expired elements never match. */
  lookup(buf: Uint8Array, off: number, now: number): ElemState | undefined {
    const e = this.live(this.backend.lookup(buf, off), now);
    return e ?? this.live(this.catchall, now);
  }

  fromElement(el: SetElement, now: number): ElemState {
    const timeout = el.timeout ?? (this.decl.flags & NFT_SET_TIMEOUT ? this.decl.timeout ?? 0 : 0);
    const st: ElemState = { key: el.key, flags: el.flags, timeout, expires: timeout ? now + (el.expiration ?? timeout) : 0 };
    if (el.keyEnd) st.keyEnd = el.keyEnd;
    if (el.data) st.data = el.data;
    if (el.verdict) st.verdict = el.verdict;
    if (el.objref !== undefined) st.objref = el.objref;
    const exprs = el.exprs ?? this.decl.exprs;
    if (exprs) st.exprs = exprs.map((x) => ({ ...x }));
    if (el.comment !== undefined) st.comment = el.comment;
    return st;
  }

  /** NFT_MSG_NEWSETELEM for one element: 0, or an errno (EEXIST with `exclusive`, ENFILE when full). */
  add(el: SetElement, now: number, exclusive: boolean): number {
    if (el.flags & NFT_SET_ELEM_CATCHALL) {
      if (this.live(this.catchall, now)) return exclusive ? ERRNO.EEXIST : 0;
      this.catchall = this.fromElement(el, now);
      return 0;
    }
    const existing = this.backend.get(el.key, el.keyEnd, el.flags);
    if (existing && this.live(existing, now)) {
      // The kernel refuses a different mapping for an existing key even without NLM_F_EXCL.
      if (exclusive) return ERRNO.EEXIST;
      return 0;
    }
    if (existing) this.backend.remove(el.key, el.keyEnd, el.flags);
    if (this.decl.size && this.backend.size >= this.decl.size) return ERRNO.ENFILE;
    this.backend.insert(this.fromElement(el, now));
    return 0;
  }

  /** NFT_MSG_DELSETELEM: 0 or ENOENT. */
  remove(el: Pick<SetElement, 'key' | 'keyEnd' | 'flags'>, now: number): number {
    if (el.flags & NFT_SET_ELEM_CATCHALL) {
      if (!this.catchall) return ERRNO.ENOENT;
      this.catchall = undefined;
      return 0;
    }
    const e = this.backend.get(el.key, el.keyEnd, el.flags);
    if (!e || !this.live(e, now)) return ERRNO.ENOENT;
    this.backend.remove(el.key, el.keyEnd, el.flags);
    return 0;
  }

  /**
   * Data-path insertion (nft_dynset `add`/`update`): returns the element now in
   * the set, or undefined when the set is full. `update` refreshes the timeout.
   */
  dynsetAdd(buf: Uint8Array, off: number, data: Uint8Array | undefined, now: number, timeout: number, update: boolean, exprs: Expr[] | undefined): ElemState | undefined {
    const found = this.live(this.backend.lookup(buf, off), now);
    if (found) {
      if (update && found.timeout) found.expires = now + found.timeout;
      return found;
    }
    if (this.decl.size && this.backend.size >= this.decl.size) return undefined;
    const key = buf.slice(off, off + this.decl.keyLen);
    const stale = this.backend.get(key);
    if (stale) this.backend.remove(key);
    const t = timeout || this.decl.timeout || 0;
    const st: ElemState = { key, flags: 0, timeout: t, expires: t ? now + t : 0 };
    if (data) st.data = data;
    const ex = exprs ?? this.decl.exprs;
    if (ex) st.exprs = ex.map((x) => ({ ...x }));
    this.backend.insert(st);
    return st;
  }

  /** Elements as plain data, for listing and serialisation (expired ones left out). */
  toElements(now: number): SetElement[] {
    const out: SetElement[] = [];
    const all = [...this.backend.elements()];
    if (this.catchall) all.push(this.catchall);
    for (const e of all) {
      if (e.expires !== 0 && now >= e.expires) continue;
      const el: SetElement = { key: e.key, flags: e.flags };
      if (e.keyEnd) el.keyEnd = e.keyEnd;
      if (e.data) el.data = e.data;
      if (e.verdict) el.verdict = e.verdict;
      if (e.objref !== undefined) el.objref = e.objref;
      if (e.timeout) { el.timeout = e.timeout; el.expiration = e.expires - now; }
      if (e.exprs) el.exprs = e.exprs;
      if (e.comment !== undefined) el.comment = e.comment;
      out.push(el);
    }
    return out;
  }

  clone(): NftSet {
    const c = new NftSet(this.decl);
    c.backend = this.backend.clone();
    c.catchall = this.catchall ? cloneElem(this.catchall) : undefined;
    return c;
  }
}
