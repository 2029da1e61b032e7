/**
 * The Security Policy Database of one netns (net/xfrm/xfrm_policy.c):
 * insertion with the kernel's duplicate rule and index generator, lookup by
 * direction where the lowest priority value wins and, among equal priorities,
 * the policy inserted first (xfrm_policy_lookup_bytype: sub policies are
 * consulted before main ones), plus per-socket policies.
 */
import { XFRM_POLICY_MAX, XFRM_POLICY_TYPE_MAIN, XFRM_POLICY_TYPE_SUB } from './constants.js';
import { XfrmError } from './errors.js';
import { selectorEqual, selectorMatch, type XfrmFlow, type XfrmSelector } from './selector.js';
import { policyIdToDir, type XfrmPolicy } from './policy.js';
import type { XfrmMark } from './state.js';

/** xfrm_policy_mark_match(): the same mark value and mask. */
function markEqual(a: XfrmMark, b: XfrmMark): boolean {
  return a.v === b.v && a.m === b.m;
}

/** xfrm_policy_match(): family, if_id, mark and type, then the selector. */
export function policyMatches(pol: XfrmPolicy, fl: XfrmFlow, type: number, family: number, ifId: number): boolean {
  return (
    pol.sel.family === family &&
    pol.ifId === ifId &&
    (((fl.mark ?? 0) & pol.mark.m) >>> 0) === pol.mark.v &&
    pol.type === type &&
    selectorMatch(pol.sel, fl, family)
  );
}

export class Spd {
  /** Every policy incl. socket ones, newest first (net->xfrm.policy_all). */
  policies: XfrmPolicy[] = [];
  /** net->xfrm.idx_generator. */
  idxGenerator = 0;
  /** Insertion counter for priority ties. */
  posCounter = 0;

  /** xfrm_gen_index(): direction in the low 3 bits, unique across the netns. */
  genIndex(dir: number, index: number): number {
    for (let guard = 0; guard < 1 << 20; guard++) {
      let idx: number;
      if (!index) {
        idx = (this.idxGenerator | dir) >>> 0;
        this.idxGenerator = (this.idxGenerator + 8) >>> 0;
      } else {
        idx = index;
        index = 0;
      }
      if (idx === 0) idx = 8;
      if (!this.policies.some((p) => p.index === idx)) return idx;
    }
    throw new Error('xfrm: policy index space exhausted');
  }

  /** The same policy in the sense of xfrm_policy_insert_list(). */
  findSame(p: XfrmPolicy): XfrmPolicy | undefined {
    return this.policies.find(
      (q) =>
        !q.socket &&
        q.dir === p.dir &&
        q.type === p.type &&
        q.ifId === p.ifId &&
        selectorEqual(q.sel, p.sel) &&
        markEqual(q.mark, p.mark) &&
        q.ctx === p.ctx,
    );
  }

  /**
   * xfrm_policy_insert(): `excl` (add) fails with EEXIST on a duplicate;
   * otherwise (update) the duplicate is replaced, keeping its index and its
   * place among equal priorities. Returns the replaced policy, if any.
   */
  insert(p: XfrmPolicy, excl: boolean, now: number): XfrmPolicy | undefined {
    const del = this.findSame(p);
    if (del && excl) throw new XfrmError('EEXIST');
    if (del) {
      this.policies.splice(this.policies.indexOf(del), 1);
      del.dying = true;
      p.pos = del.pos;
      p.index = del.index;
    } else {
      p.pos = ++this.posCounter;
      p.index = this.genIndex(p.dir, p.index);
    }
    p.curlft = { bytes: 0, packets: 0, addTime: now, useTime: 0 };
    this.policies.unshift(p);
    return del;
  }

  remove(p: XfrmPolicy): void {
    const i = this.policies.indexOf(p);
    if (i >= 0) this.policies.splice(i, 1);
    p.dying = true;
  }

  /** xfrm_policy_bysel_ctx(). */
  bySelector(
    type: number,
    dir: number,
    sel: XfrmSelector,
    mark: XfrmMark,
    ifId: number,
    ctx: string | null,
  ): XfrmPolicy | undefined {
    return this.policies.find(
      (q) =>
        !q.socket &&
        q.dir === dir &&
        q.type === type &&
        q.ifId === ifId &&
        markEqual(q.mark, mark) &&
        selectorEqual(q.sel, sel) &&
        q.ctx === ctx,
    );
  }

  /** xfrm_policy_byid(): ENOENT when the index is for another direction. */
  byIndex(type: number, dir: number, index: number, mark: XfrmMark, ifId: number): XfrmPolicy | undefined {
    if (policyIdToDir(index) !== dir) return undefined;
    return this.policies.find(
      (q) => !q.socket && q.type === type && q.index === index && q.ifId === ifId && markEqual(q.mark, mark),
    );
  }

  /** xfrm_policy_lookup_bytype(): lowest priority value, then first inserted. */
  lookupByType(type: number, fl: XfrmFlow, family: number, dir: number, ifId: number): XfrmPolicy | undefined {
    let best: XfrmPolicy | undefined;
    for (const p of this.policies) {
      if (p.socket || p.dir !== dir) continue;
      if (!policyMatches(p, fl, type, family, ifId)) continue;
      if (!best || p.priority < best.priority || (p.priority === best.priority && p.pos < best.pos)) best = p;
    }
    return best;
  }

  /** xfrm_policy_lookup(): sub policies first, then main (one pass over the SPD). */
  lookup(fl: XfrmFlow, family: number, dir: number, ifId: number): XfrmPolicy | undefined {
    let sub: XfrmPolicy | undefined;
    let main: XfrmPolicy | undefined;
    const ps = this.policies;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      if (p.socket || p.dir !== dir) continue;
      const cur = p.type === XFRM_POLICY_TYPE_SUB ? sub : p.type === XFRM_POLICY_TYPE_MAIN ? main : p;
      if (cur === p) continue;
      if (cur && (p.priority > cur.priority || (p.priority === cur.priority && p.pos > cur.pos))) continue;
      if (!policyMatches(p, fl, p.type, family, ifId)) continue;
      if (p.type === XFRM_POLICY_TYPE_SUB) sub = p;
      else main = p;
    }
    return sub ?? main;
  }

  /** policy_count[] as XFRM_MSG_GETSPDINFO reports it. */
  counts(): { in: number; out: number; fwd: number; sockIn: number; sockOut: number; sockFwd: number } {
    const c = { in: 0, out: 0, fwd: 0, sockIn: 0, sockOut: 0, sockFwd: 0 };
    for (const p of this.policies) {
      const d = p.dir;
      if (p.socket) {
        if (d === 0) c.sockIn++;
        else if (d === 1) c.sockOut++;
        else c.sockFwd++;
      } else if (d === 0) c.in++;
      else if (d === 1) c.out++;
      else c.fwd++;
    }
    return c;
  }

  /** Index generation for socket policies uses dir + XFRM_POLICY_MAX. */
  genSocketIndex(dir: number): number {
    return this.genIndex(dir + XFRM_POLICY_MAX, 0);
  }
}
