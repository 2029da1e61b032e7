/**
 * The Security Policy Database of one netns (net/xfrm/xfrm_policy.c):
 * insertion with the kernel's duplicate rule and index generator, lookup by
 * direction where the lowest priority value wins and, among equal priorities,
 * the policy inserted first (xfrm_policy_lookup_bytype: sub policies are
 * consulted before main ones), plus per-socket policies.
 *
 * Lookups go through an index rebuilt lazily after the SPD changes, laid out
 * as the kernel's (net/xfrm/xfrm_policy.c): per direction and type, policies
 * whose selector names both full addresses sit in a hash by (daddr, saddr)
 * (policy_hash_bysel / policy_hash_direct), the rest in one list sorted in
 * lookup order (the kernel's inexact bins), and a direction without
 * policies answers at once. xfrm_policy_lookup_bytype() takes the best of
 * the exact chain's first match and the first inexact match ahead of it.
 */
import { AF_INET, AF_INET6, XFRM_POLICY_MAX, XFRM_POLICY_TYPE_MAIN, XFRM_POLICY_TYPE_SUB } from './constants.js';
import type { XfrmAddress } from './addr.js';
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

/** Lookup order: the lowest priority value, then the policy inserted first (the kernel's pos). */
function before(a: XfrmPolicy, b: XfrmPolicy): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.pos < b.pos);
}

/** policy_hash_bysel(): only a selector with both addresses at full length is exact. */
function isExact(p: XfrmPolicy): boolean {
  const full = p.sel.family === AF_INET ? 32 : p.sel.family === AF_INET6 ? 128 : -1;
  return p.sel.prefixlenD === full && p.sel.prefixlenS === full;
}

/**
 * __addr_hash() in spirit: a 32-bit hash of the bytes of both addresses that
 * `family` compares (4 for IPv4, 16 for IPv6). Collisions only lengthen a
 * chain: every candidate is still matched in full.
 */
function addrHash(family: number, daddr: XfrmAddress, saddr: XfrmAddress): number {
  const n = family === AF_INET6 ? 16 : 4;
  let h = family;
  for (let i = 0; i < n; i += 4) {
    const d = (daddr[i]! << 24) | (daddr[i + 1]! << 16) | (daddr[i + 2]! << 8) | daddr[i + 3]!;
    const s = (saddr[i]! << 24) | (saddr[i + 1]! << 16) | (saddr[i + 2]! << 8) | saddr[i + 3]!;
    h = Math.imul(h ^ d, 0x9e3779b1);
    h = Math.imul(h ^ s, 0x85ebca6b);
  }
  return (h ^ (h >>> 15)) >>> 0;
}

/** addrHash(AF_INET, …) of IPv4 addresses given as 32-bit words. */
function addrHash4(d: number, s: number): number {
  let h = Math.imul(AF_INET ^ d, 0x9e3779b1);
  h = Math.imul(h ^ s, 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The SPD policies of one direction and type, as xfrm_policy_lookup_bytype() searches them. */
interface Bin {
  /** Exact policies by addrHash() of their selector; each chain in lookup order. */
  exact: Map<number, XfrmPolicy[]>;
  /** Every other policy, in lookup order. */
  inexact: XfrmPolicy[];
  /**
   * For inexact IPv4 policies (1 in `v4`), their selector's addresses and
   * prefixes as 32-bit network and mask, so that an IPv4 flow outside a
   * policy's prefixes is passed over with two integer tests — the job the
   * kernel's inexact prefix tree does — before the full xfrm_policy_match().
   */
  v4: Uint8Array;
  dNet: Int32Array;
  dMask: Int32Array;
  sNet: Int32Array;
  sMask: Int32Array;
  /** How many of the bin's policies (exact or not) have a selector that is not IPv4: only those can match an IPv6 flow. */
  notV4: number;
}

/** The first four bytes of an address as a 32-bit integer. */
function word0(a: XfrmAddress): number {
  return (a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!;
}

/** A netmask of `plen` leading ones (all ones from 32 up). */
function mask32(plen: number): number {
  return plen <= 0 ? 0 : plen >= 32 ? -1 : (-1 << (32 - plen)) | 0;
}

/** Fills in a bin's IPv4 prefilter once its inexact list is complete. */
function compileBin(bin: Bin): void {
  const n = bin.inexact.length;
  bin.v4 = new Uint8Array(n);
  bin.dNet = new Int32Array(n);
  bin.dMask = new Int32Array(n);
  bin.sNet = new Int32Array(n);
  bin.sMask = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const sel = bin.inexact[i]!.sel;
    if (sel.family !== AF_INET) continue;
    bin.v4[i] = 1;
    bin.dMask[i] = mask32(sel.prefixlenD);
    bin.dNet[i] = word0(sel.daddr) & bin.dMask[i]!;
    bin.sMask[i] = mask32(sel.prefixlenS);
    bin.sNet[i] = word0(sel.saddr) & bin.sMask[i]!;
  }
}

/** Whether a policy is looked up through the index (socket policies and unknown types are not). */
function indexable(p: XfrmPolicy): boolean {
  return !p.socket && (p.type === XFRM_POLICY_TYPE_MAIN || p.type === XFRM_POLICY_TYPE_SUB) && p.dir >= 0 && p.dir < XFRM_POLICY_MAX;
}

/** The place in a list sorted in lookup order where `p` goes. */
function sortedAt(list: readonly XfrmPolicy[], p: XfrmPolicy): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid]!, p)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Files `p` in its bin: its exact chain or the inexact list, in lookup
 * order. `compile` refreshes the bin's prefilter (left to the caller when
 * filling a whole index).
 */
function binAdd(bins: (Bin | undefined)[], p: XfrmPolicy, compile: boolean): void {
  if (!indexable(p)) return;
  const k = p.dir * 2 + p.type;
  let bin = bins[k];
  if (!bin) {
    const none = new Int32Array(0);
    bins[k] = bin = { exact: new Map<number, XfrmPolicy[]>(), inexact: [] as XfrmPolicy[], v4: new Uint8Array(0), dNet: none, dMask: none, sNet: none, sMask: none, notV4: 0 };
  }
  if (p.sel.family !== AF_INET) bin.notV4++;
  if (isExact(p)) {
    const h = addrHash(p.sel.family, p.sel.daddr, p.sel.saddr);
    const chain = bin.exact.get(h);
    if (chain) chain.splice(sortedAt(chain, p), 0, p);
    else bin.exact.set(h, [p]);
  } else {
    bin.inexact.splice(sortedAt(bin.inexact, p), 0, p);
    if (compile) compileBin(bin);
  }
}

/** Takes `p` out of its bin; a bin left empty goes, so that its direction answers "no policy" at once. */
function binRemove(bins: (Bin | undefined)[], p: XfrmPolicy): void {
  if (!indexable(p)) return;
  const k = p.dir * 2 + p.type;
  const bin = bins[k];
  if (!bin) return;
  if (isExact(p)) {
    const h = addrHash(p.sel.family, p.sel.daddr, p.sel.saddr);
    const chain = bin.exact.get(h);
    const i = chain ? chain.indexOf(p) : -1;
    if (i >= 0) {
      chain!.splice(i, 1);
      if (chain!.length === 0) bin.exact.delete(h);
      if (p.sel.family !== AF_INET) bin.notV4--;
    }
  } else {
    const i = bin.inexact.indexOf(p);
    if (i >= 0) {
      bin.inexact.splice(i, 1);
      compileBin(bin);
      if (p.sel.family !== AF_INET) bin.notV4--;
    }
  }
  if (bin.exact.size === 0 && bin.inexact.length === 0) bins[k] = undefined;
}

/** xfrm_policy_lookup_bytype() within one bin: the exact chain's first match, unless an inexact policy comes before it. */
function binLookup(bin: Bin, type: number, fl: XfrmFlow, family: number, ifId: number): XfrmPolicy | undefined {
  let best: XfrmPolicy | undefined;
  if (bin.exact.size !== 0 && (family === AF_INET || family === AF_INET6)) {
    const chain = bin.exact.get(addrHash(family, fl.daddr, fl.saddr));
    if (chain) {
      for (let i = 0; i < chain.length; i++) {
        if (policyMatches(chain[i]!, fl, type, family, ifId)) {
          best = chain[i];
          break;
        }
      }
    }
  }
  const inexact = bin.inexact;
  const { v4, dNet, dMask, sNet, sMask } = bin;
  const fd = word0(fl.daddr), fs = word0(fl.saddr);
  for (let i = 0; i < inexact.length; i++) {
    const p = inexact[i]!;
    if (best && !before(p, best)) break;
    // An IPv4 selector can only match the flow when its prefixes do (prefixMatch on the first word).
    if (v4[i] === 1 && (((fd ^ dNet[i]!) & dMask[i]!) | ((fs ^ sNet[i]!) & sMask[i]!)) !== 0) continue;
    if (policyMatches(p, fl, type, family, ifId)) return p;
  }
  return best;
}

/**
 * What a direction's policies (main and sub) ask of a flow's addresses, for Spd.mayMatch4:
 * the prefixes of the inexact IPv4 ones as [dNet, dMask, sNet, sMask] quadruples in one
 * array, and the exact chains, which hold the exact IPv4 ones.
 */
interface AddrFilter {
  nets: Int32Array;
  exact: Map<number, XfrmPolicy[]>[];
  notV4: boolean;
}

function addrFilter(bins: readonly (Bin | undefined)[], dir: number): AddrFilter {
  const nets: number[] = [];
  const exact: Map<number, XfrmPolicy[]>[] = [];
  let notV4 = false;
  for (const type of [XFRM_POLICY_TYPE_SUB, XFRM_POLICY_TYPE_MAIN]) {
    const bin = bins[dir * 2 + type];
    if (!bin) continue;
    if (bin.exact.size !== 0) exact.push(bin.exact);
    for (let i = 0; i < bin.v4.length; i++) if (bin.v4[i] === 1) nets.push(bin.dNet[i]!, bin.dMask[i]!, bin.sNet[i]!, bin.sMask[i]!);
    if (bin.notV4 > 0) notV4 = true;
  }
  return { nets: Int32Array.from(nets), exact, notV4 };
}

export class Spd {
  /** Every policy incl. socket ones, newest first (net->xfrm.policy_all). */
  policies: XfrmPolicy[] = [];
  /** net->xfrm.idx_generator. */
  idxGenerator = 0;
  /** Insertion counter for priority ties. */
  posCounter = 0;

  /**
   * The lookup index, per `dir * 2 + type` (undefined: no such policies),
   * and what it was built from. insert() and remove() keep it up to date;
   * any other change is noticed because every insertion puts the new
   * policy first and every removal shortens the list, so the array, its
   * length and its first element tell whether the SPD changed — even when
   * someone edits `policies` directly — and the index is rebuilt. Whoever
   * changes an indexed policy's selector, priority, mark, if_id, direction
   * or type in place calls reindex().
   */
  private bins: (Bin | undefined)[] = [];
  private binsOf: XfrmPolicy[] | null = null;
  private binsLen = -1;
  private binsFirst: XfrmPolicy | undefined = undefined;
  /** Per direction, made from the index on demand (mayMatch4); emptied whenever the index changes. */
  private filters: (AddrFilter | undefined)[] = [];

  /** Drops the lookup index; the next lookup rebuilds it. */
  reindex(): void {
    this.binsOf = null;
  }

  /** The index, rebuilt if the SPD changed since it was built. */
  private index(): (Bin | undefined)[] {
    const ps = this.policies;
    if (ps === this.binsOf && ps.length === this.binsLen && ps[0] === this.binsFirst) return this.bins;
    const bins: (Bin | undefined)[] = new Array<Bin | undefined>(XFRM_POLICY_MAX * 2).fill(undefined);
    // Lookup order; pos (not the list's order) breaks priority ties, as updated policies keep theirs.
    const sorted = ps.filter(indexable);
    sorted.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    // Appending in lookup order keeps every chain and list sorted.
    for (const p of sorted) binAdd(bins, p, false);
    for (const bin of bins) if (bin) compileBin(bin);
    this.bins = bins;
    this.stamp();
    return bins;
  }

  /** Whether the index describes the policy list as it is. */
  private indexCurrent(): boolean {
    const ps = this.policies;
    return ps === this.binsOf && ps.length === this.binsLen && ps[0] === this.binsFirst;
  }

  /** Records the policy list the index now describes. */
  private stamp(): void {
    this.filters = [];
    this.binsOf = this.policies;
    this.binsLen = this.policies.length;
    this.binsFirst = this.policies[0];
  }

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
    const indexed = this.indexCurrent();
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
    // Like xfrm_policy_inexact_insert() / the bydst chains: the index is updated in place
    // (a full rebuild per change would make filling a large SPD quadratic).
    if (indexed) {
      if (del) binRemove(this.bins, del);
      binAdd(this.bins, p, true);
      this.stamp();
    } else this.binsOf = null;
    return del;
  }

  remove(p: XfrmPolicy): void {
    const indexed = this.indexCurrent();
    const i = this.policies.indexOf(p);
    if (i >= 0) this.policies.splice(i, 1);
    p.dying = true;
    if (indexed && i >= 0) {
      binRemove(this.bins, p);
      this.stamp();
    } else if (i >= 0) this.binsOf = null;
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

  /**
   * xfrm_policy_lookup_bytype(): the matching policy of `type` with the
   * lowest priority value, then first inserted. The exact chain for the
   * flow's addresses gives a candidate; the inexact list, in the same order,
   * is searched only up to it.
   */
  lookupByType(type: number, fl: XfrmFlow, family: number, dir: number, ifId: number): XfrmPolicy | undefined {
    if (type !== XFRM_POLICY_TYPE_MAIN && type !== XFRM_POLICY_TYPE_SUB) return undefined;
    const bin = this.index()[dir * 2 + type];
    return bin && binLookup(bin, type, fl, family, ifId);
  }

  /** xfrm_policy_lookup(): sub policies first, then main; nothing at all for a direction without policies. */
  lookup(fl: XfrmFlow, family: number, dir: number, ifId: number): XfrmPolicy | undefined {
    const bins = this.index();
    const sub = bins[dir * 2 + XFRM_POLICY_TYPE_SUB];
    const found = sub && binLookup(sub, XFRM_POLICY_TYPE_SUB, fl, family, ifId);
    if (found) return found;
    const main = bins[dir * 2 + XFRM_POLICY_TYPE_MAIN];
    return main && binLookup(main, XFRM_POLICY_TYPE_MAIN, fl, family, ifId);
  }

  /** Whether the SPD has any policy for `dir` (net->xfrm.policy_count[dir], socket policies aside). */
  hasPolicies(dir: number): boolean {
    const bins = this.index();
    return bins[dir * 2 + XFRM_POLICY_TYPE_MAIN] !== undefined || bins[dir * 2 + XFRM_POLICY_TYPE_SUB] !== undefined;
  }

  /** The address filter of `dir`'s policies, current with the index. */
  private filter(dir: number): AddrFilter {
    const bins = this.index();
    return this.filters[dir] ??= addrFilter(bins, dir);
  }

  /**
   * Whether some policy of `dir` (main or sub) may match an IPv4 flow from `s` to `d` (the
   * addresses as 32-bit words), whatever its ports, protocol, mark or if_id: an exact policy
   * hashed under these addresses, or an inexact IPv4 one whose prefixes hold them. False is
   * exact — xfrm_policy_match() compares the family and both address prefixes first, so
   * lookup() would find nothing for any flow between these addresses — and lets a caller
   * skip decoding the flow.
   */
  mayMatch4(dir: number, s: number, d: number): boolean {
    const f = this.filter(dir);
    if (f.exact.length !== 0) {
      const h = addrHash4(d | 0, s | 0);
      for (let i = 0; i < f.exact.length; i++) if (f.exact[i]!.has(h)) return true;
    }
    const n = f.nets;
    for (let i = 0; i < n.length; i += 4) if ((((d ^ n[i]!) & n[i + 1]!) | ((s ^ n[i + 2]!) & n[i + 3]!)) === 0) return true;
    return false;
  }

  /** Whether some policy of `dir` (main or sub) has a selector that is not IPv4 — the only ones an IPv6 flow can match. */
  mayMatchNonV4(dir: number): boolean {
    return this.filter(dir).notV4;
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
