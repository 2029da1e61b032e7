/**
 * The Security Association Database of one netns (net->xfrm.state_*): the
 * lookups of net/xfrm/xfrm_state.c. States are kept newest first, which is the
 * order of net->xfrm.state_all (list_add) and so of `ip xfrm state` dumps.
 */
import { IPPROTO_AH, IPPROTO_COMP, IPPROTO_ESP, IPSEC_PROTO_ANY } from './constants.js';
import { addrEqual, addrIsAny, type XfrmAddress } from './addr.js';
import { selectorMatch, type XfrmFlow } from './selector.js';
import type { XfrmTmpl } from './policy.js';
import type { XfrmSA } from './state.js';

/** xfrm_id_proto_match(): does `proto` fall under the user's `userproto` (0 = all)? */
export function protoMatch(proto: number, userproto: number): boolean {
  return (
    !userproto ||
    proto === userproto ||
    (userproto === IPSEC_PROTO_ANY && (proto === IPPROTO_AH || proto === IPPROTO_ESP || proto === IPPROTO_COMP))
  );
}

/** True for protocols whose SAs are found by SPI (ESP, AH, IPComp). */
export function usesSpi(proto: number): boolean {
  return protoMatch(proto, IPSEC_PROTO_ANY);
}

export class Sad {
  private list: XfrmSA[] = [];
  /**
   * SAs by SPI (net->xfrm.state_byspi), rebuilt lazily: the SPI of a larval
   * SA is set later by allocspi, so the index is refreshed when stale.
   */
  private bySpi = new Map<number, XfrmSA[]>();
  /** SAs by reqid: xfrm_state_find() only looks at SAs with the template's reqid. */
  private byReqid = new Map<number, XfrmSA[]>();
  private indexDirty = true;

  /** Newest first (the order of `ip xfrm state`). Treat as read-only; use insert/remove. */
  get states(): XfrmSA[] {
    return this.list;
  }
  set states(v: XfrmSA[]) {
    this.list = v;
    this.indexDirty = true;
  }

  get count(): number {
    return this.list.length;
  }

  insert(x: XfrmSA): void {
    this.list.unshift(x);
    this.indexDirty = true;
  }

  remove(x: XfrmSA): boolean {
    const i = this.list.indexOf(x);
    if (i < 0) return false;
    this.list.splice(i, 1);
    x.kmState = 'dead';
    this.indexDirty = true;
    return true;
  }

  /** Call after changing an SA's SPI in place. */
  reindex(): void {
    this.indexDirty = true;
  }

  private index(): Map<number, XfrmSA[]> {
    if (this.indexDirty) {
      this.bySpi.clear();
      this.byReqid.clear();
      for (const x of this.list) {
        const r = this.byReqid.get(x.reqid);
        if (r) r.push(x);
        else this.byReqid.set(x.reqid, [x]);
        if (x.spi === 0) continue;
        const b = this.bySpi.get(x.spi);
        if (b) b.push(x);
        else this.bySpi.set(x.spi, [x]);
      }
      this.indexDirty = false;
    }
    return this.bySpi;
  }

  /**
   * __xfrm_state_lookup(): the input-path lookup by (daddr, SPI, proto) under
   * a mark. Only states with an SPI are in the byspi table.
   */
  lookup(mark: number, daddr: XfrmAddress, spi: number, proto: number, family: number): XfrmSA | undefined {
    const bucket = this.index().get(spi);
    if (!bucket) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const x = bucket[i]!;
      if (
        x.spi !== 0 &&
        x.family === family &&
        x.spi === spi &&
        x.proto === proto &&
        addrEqual(x.daddr, daddr, family) &&
        ((mark & x.mark.m) >>> 0) === x.mark.v
      )
        return x;
    }
    return undefined;
  }

  /** __xfrm_state_lookup_byaddr(): for protocols without SPIs. */
  lookupByAddr(
    mark: number,
    daddr: XfrmAddress,
    saddr: XfrmAddress,
    proto: number,
    family: number,
  ): XfrmSA | undefined {
    for (const x of this.states) {
      if (
        x.family === family &&
        x.proto === proto &&
        addrEqual(x.daddr, daddr, family) &&
        addrEqual(x.saddr, saddr, family) &&
        ((mark & x.mark.m) >>> 0) === x.mark.v
      )
        return x;
    }
    return undefined;
  }

  /** __xfrm_state_locate(): "the same SA" for add (EEXIST) and update. */
  locate(x: XfrmSA): XfrmSA | undefined {
    const mark = (x.mark.v & x.mark.m) >>> 0;
    return usesSpi(x.proto)
      ? this.lookup(mark, x.daddr, x.spi, x.proto, x.family)
      : this.lookupByAddr(mark, x.daddr, x.saddr, x.proto, x.family);
  }

  /** __find_acq_core(..., create=0): the larval state a new SA answers. */
  findAcq(x: XfrmSA): XfrmSA | undefined {
    const mark = (x.mark.v & x.mark.m) >>> 0;
    return this.states.find(
      (a) =>
        a.kmState === 'acq' &&
        a.reqid === x.reqid &&
        a.mode === x.mode &&
        a.family === x.family &&
        a.spi === 0 &&
        a.proto === x.proto &&
        ((mark & a.mark.m) >>> 0) === a.mark.v &&
        a.ifId === x.ifId &&
        a.pcpuNum === x.pcpuNum &&
        addrEqual(a.daddr, x.daddr, x.family) &&
        addrEqual(a.saddr, x.saddr, x.family),
    );
  }

  /** __xfrm_find_acq_byseq(). */
  findAcqBySeq(mark: number, seq: number): XfrmSA | undefined {
    return this.states.find(
      (a) => a.seq === seq && a.kmState === 'acq' && ((mark & a.mark.m) >>> 0) === a.mark.v,
    );
  }

  /**
   * The candidate loop of xfrm_state_find() for one template: the best VALID
   * state (not dying, newest add time), whether an acquire is already in
   * progress (a larval state exists), or an error state.
   */
  findForTemplate(
    tmpl: XfrmTmpl,
    fl: XfrmFlow,
    daddr: XfrmAddress,
    saddr: XfrmAddress,
    family: number,
    pcpuId: number,
    /** pol->mark.v & pol->mark.m: SAs are matched against the policy's mark, not the packet's. */
    mark: number,
    /** policy->if_id. */
    ifId: number,
  ): { best: XfrmSA | undefined; acquireInProgress: boolean; error: boolean } {
    let best: XfrmSA | undefined;
    let acquireInProgress = false;
    let error = false;
    const wildSaddr = addrIsAny(saddr, family);
    this.index();
    const bucket = this.byReqid.get(tmpl.reqid);
    if (!bucket) return { best, acquireInProgress, error };
    for (let i = 0; i < bucket.length; i++) {
      const x = bucket[i]!;
      if (
        x.family !== family ||
        x.reqid !== tmpl.reqid ||
        ((mark & x.mark.m) >>> 0) !== x.mark.v ||
        x.ifId !== ifId ||
        x.flags & 8 /* XFRM_STATE_WILDRECV */ ||
        !addrEqual(x.daddr, daddr, family) ||
        // The kernel's second pass (saddr_wildcard) accepts states with an
        // unspecified source; when the caller could not resolve a source we
        // accept any.
        !(wildSaddr || addrEqual(x.saddr, saddr, family) || addrIsAny(x.saddr, family)) ||
        tmpl.mode !== x.mode ||
        tmpl.proto !== x.proto ||
        !(tmpl.spi === x.spi || !tmpl.spi)
      )
        continue;
      // xfrm_state_look_at()
      if (x.kmState === 'valid') {
        if (x.sel.family && (x.sel.family !== fl.family || !selectorMatch(x.sel, fl, fl.family))) continue;
        if (x.pcpuNum !== 0xffffffff && x.pcpuNum !== pcpuId) continue;
        if (
          !best ||
          (best.pcpuNum === 0xffffffff && x.pcpuNum === pcpuId) ||
          (best.dying && !x.dying) ||
          (best.dying === x.dying && best.curlft.addTime < x.curlft.addTime)
        )
          best = x;
      } else if (x.kmState === 'acq') {
        if (!best || x.pcpuNum === pcpuId) acquireInProgress = true;
      } else if (x.kmState === 'error' || x.kmState === 'expired') {
        if (!x.sel.family || (x.sel.family === fl.family && selectorMatch(x.sel, fl, fl.family))) error = true;
      }
    }
    return { best, acquireInProgress, error };
  }
}
