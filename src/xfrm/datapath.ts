/**
 * What the packet path asks of xfrm, as Linux does it:
 *  - output: policy lookup (socket policy, then SPD), templates resolved to a
 *    bundle of SAs (xfrm_lookup_with_ifid → xfrm_resolve_and_create_bundle →
 *    xfrm_tmpl_resolve → xfrm_state_find), with acquire on a miss;
 *  - input: SA lookup by (daddr, SPI, proto, mark) and the state checks of
 *    xfrm_input() before and after the transform;
 *  - the inbound/forward policy check (__xfrm_policy_check);
 *  - lifetime accounting (xfrm_state_check_expire) and NAT-T mapping events.
 * Every failure names the /proc/net/xfrm_stat counter Linux increments, and
 * increments it here.
 */
import {
  XFRM_MODE_BEET,
  XFRM_MODE_IPTFS,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_FWD,
  XFRM_POLICY_ICMP,
  XFRM_POLICY_IN,
  XFRM_POLICY_OUT,
  XFRM_POLICY_TYPE_MAIN,
  XFRM_SA_DIR_IN,
  XFRM_SA_DIR_OUT,
  XFRM_STATE_ICMP,
  XFRM_MAX_DEPTH,
  type Family,
} from './constants.js';
import { addrEqual, addrIsAny, type XfrmAddress } from './addr.js';
import { selectorFromFlow, selectorMatch, type XfrmFlow } from './selector.js';
import { larvalSa, type XfrmSA } from './state.js';
import type { XfrmPolicy, XfrmTmpl } from './policy.js';
import type { XfrmMibName } from './stats.js';
import type { Xfrm } from './xfrm.js';

export interface OutputOptions {
  /**
   * For a forwarded ICMP error: the quoted packet's reversed flow. When the
   * error itself needs no transform, xfrm_out_fwd_icmp() looks up the quoted
   * flow and uses that bundle if its policy has `flag icmp`.
   */
  icmpInnerFlow?: XfrmFlow;
  /** The sending socket, for its per-socket policy. */
  sockId?: string;
  /** Policy direction: XFRM_POLICY_OUT (default) or XFRM_POLICY_FWD is never used on output. */
  dir?: number;
  /**
   * xfrm_get_saddr(): the source address routing would pick towards `daddr`,
   * for tunnel templates without a source. Without it such templates match
   * SAs of any source.
   */
  resolveSaddr?: (daddr: XfrmAddress, family: Family) => XfrmAddress | null;
  /** The CPU the packet is processed on (per-CPU SAs). Default 0. */
  cpu?: number;
}

export type OutputDecision =
  /** No policy (and default accept), or an allow policy without templates: send in clear. */
  | { action: 'bypass'; policy: XfrmPolicy | null }
  /** Apply the bundle, outermost last: bundle[0] is applied first (innermost). */
  | { action: 'transform'; policy: XfrmPolicy; bundle: XfrmSA[] }
  | { action: 'drop'; counter: XfrmMibName | null; why: string; policy: XfrmPolicy | null };

/** xfrm_sk_policy_lookup(): the socket policy when it matches, else none. */
function socketLookup(x: Xfrm, sockId: string | undefined, dir: number, fl: XfrmFlow): XfrmPolicy | undefined {
  if (sockId === undefined) return undefined;
  const pol = x.socketPolicy(sockId, dir);
  if (!pol || pol.sel.family !== fl.family || !selectorMatch(pol.sel, fl, fl.family)) return undefined;
  if ((((fl.mark ?? 0) & pol.mark.m) >>> 0) !== pol.mark.v || pol.ifId !== (fl.ifId ?? 0)) return undefined;
  return pol;
}

/**
 * xfrm_state_find() for one template: a VALID SA, or — when none exists and
 * no acquire is pending — a larval SA plus an ACQUIRE event, provided a key
 * manager listens (km_query fails with no listener and nothing is created).
 */
function stateFind(
  x: Xfrm,
  fl: XfrmFlow,
  tmpl: XfrmTmpl,
  pol: XfrmPolicy,
  daddr: XfrmAddress,
  saddr: XfrmAddress,
  cpu: number,
): { sa?: XfrmSA; err?: 'EAGAIN' | 'EINVAL' } {
  const family = tmpl.family;
  const r = x.sad.findForTemplate(tmpl, fl, daddr, saddr, family, cpu, (pol.mark.v & pol.mark.m) >>> 0, pol.ifId);
  if (r.best) {
    // xfrm_tmpl_resolve_one(): an SA bound to the input direction cannot carry output.
    if (r.best.dir && r.best.dir !== XFRM_SA_DIR_OUT) {
      x.stats.inc('XfrmOutStateDirError');
      return { err: 'EINVAL' };
    }
    return { sa: r.best };
  }
  if (!r.acquireInProgress && !r.error && x.events.hasListeners('acquire')) {
    x.acqSeq = (x.acqSeq + 1) >>> 0 || 1;
    const larval = larvalSa({
      family: family as Family,
      daddr,
      saddr,
      spi: tmpl.spi,
      proto: tmpl.proto,
      mode: tmpl.mode,
      reqid: tmpl.reqid,
      sel: selectorFromFlow(fl),
      mark: pol.mark,
      ifId: pol.ifId,
      now: x.nowSeconds(),
      acqExpires: x.acqExpires,
    });
    larval.seq = x.acqSeq;
    x.sad.insert(larval);
    x.events.emit({
      type: 'acquire',
      family,
      daddr: daddr.slice(),
      saddr: saddr.slice(),
      proto: tmpl.proto,
      spi: tmpl.spi,
      sel: larval.sel,
      policy: pol,
      tmpl,
      seq: larval.seq,
    });
  }
  return { err: 'EAGAIN' };
}

/** The answer for most traffic — no policy, default accept — shared: decisions are read-only. */
const BYPASS_NO_POLICY: OutputDecision = Object.freeze({ action: 'bypass', policy: null });
const ALLOWED_NO_POLICY: PolicyCheckResult = Object.freeze({ ok: true, policy: null });
const NO_CHECK_OPTIONS: PolicyCheckOptions = Object.freeze({});

/**
 * xfrm_lookup_with_ifid()'s `!net->xfrm.policy_count[XFRM_POLICY_OUT]`
 * shortcut: without an `out` policy (and with default accept) a packet
 * without a socket policy goes in clear — the caller need not even decode
 * its flow. What lookupOutput() would answer with `bypass` and no policy.
 */
export function outputBypassesAll(x: Xfrm): boolean {
  return x.policyDefault.out !== 'block' && !x.spd.hasPolicies(XFRM_POLICY_OUT);
}

/**
 * __xfrm_policy_check2()'s shortcut: no policy for `dir` and no SA on the
 * packet (and default accept) pass without a flow to decode — what
 * policyCheck() would answer with `ok` and no policy.
 */
export function policyCheckPassesAll(x: Xfrm, dir: number, secpathLength: number): boolean {
  if (secpathLength !== 0) return false;
  const def = dir === XFRM_POLICY_FWD ? x.policyDefault.fwd : x.policyDefault.in;
  return def !== 'block' && !x.spd.hasPolicies(dir);
}

/** xfrm_lookup_with_ifid() for locally generated and forwarded traffic. */
export function lookupOutput(x: Xfrm, fl: XfrmFlow, opts: OutputOptions = {}): OutputDecision {
  const d = lookupOutputOnce(x, fl, opts);
  const inner = opts.icmpInnerFlow;
  if (d.action !== 'bypass' || !inner || !icmpErrPacket(fl)) return d;
  // XFRM_LOOKUP_ICMP: only a policy with `flag icmp` may carry the error.
  const d2 = lookupOutputOnce(x, inner, { ...opts, icmpInnerFlow: undefined });
  return d2.action === 'transform' && d2.policy.flags & XFRM_POLICY_ICMP ? d2 : d;
}

function lookupOutputOnce(x: Xfrm, fl: XfrmFlow, opts: OutputOptions): OutputDecision {
  const dir = opts.dir ?? XFRM_POLICY_OUT;
  const ifId = fl.ifId ?? 0;
  const pol = socketLookup(x, opts.sockId, dir, fl) ?? x.spd.lookup(fl, fl.family, dir, ifId);
  if (!pol) {
    if (x.policyDefault.out === 'block') return { action: 'drop', counter: null, why: 'default policy block', policy: null };
    return BYPASS_NO_POLICY;
  }
  pol.curlft.useTime = x.nowSeconds();
  // xfrm_expand_policies(): a sub policy that allows is combined with the main one.
  let main: XfrmPolicy | undefined;
  if (pol.action === XFRM_POLICY_ALLOW && pol.type !== XFRM_POLICY_TYPE_MAIN && !pol.socket)
    main = x.spd.lookupByType(XFRM_POLICY_TYPE_MAIN, fl, fl.family, dir, pol.ifId);
  if (pol.action !== XFRM_POLICY_ALLOW || (main && main.action !== XFRM_POLICY_ALLOW)) {
    x.stats.inc('XfrmOutPolBlock');
    return { action: 'drop', counter: 'XfrmOutPolBlock', why: 'policy action block', policy: pol };
  }
  const nPol = pol.tmpls.length;
  const nTmpl = nPol + (main ? main.tmpls.length : 0);
  if (nTmpl === 0) return { action: 'bypass', policy: pol };
  if (nTmpl > XFRM_MAX_DEPTH) {
    x.stats.inc('XfrmOutPolError');
    return { action: 'drop', counter: 'XfrmOutPolError', why: 'too many templates', policy: pol };
  }

  // xfrm_tmpl_resolve_one(): transport templates protect the flow's own
  // addresses; tunnel/BEET templates name the tunnel endpoints.
  const bundle: XfrmSA[] = [];
  let daddr = fl.daddr;
  let saddr = fl.saddr;
  let failed: 'EAGAIN' | 'EINVAL' | null = null;
  for (let ti = 0; ti < nTmpl; ti++) {
    const t = ti < nPol ? pol.tmpls[ti]! : main!.tmpls[ti - nPol]!;
    let remote = daddr;
    let local = saddr;
    if (t.mode === XFRM_MODE_TUNNEL || t.mode === XFRM_MODE_BEET || t.mode === XFRM_MODE_IPTFS) {
      remote = t.daddr;
      local = t.saddr;
      if (addrIsAny(local, t.family)) local = opts.resolveSaddr?.(remote, t.family as Family) ?? local;
    }
    const r = stateFind(x, fl, t, pol, remote, local, opts.cpu ?? 0);
    if (r.sa) {
      bundle.push(r.sa);
      daddr = remote;
      saddr = local;
      continue;
    }
    if (r.err === 'EINVAL') {
      failed = 'EINVAL';
      break;
    }
    if (!t.optional) {
      failed = 'EAGAIN';
      break;
    }
  }
  if (failed === 'EINVAL') {
    // xfrm_resolve_and_create_bundle() also counts any error but EAGAIN.
    x.stats.inc('XfrmOutPolError');
    return { action: 'drop', counter: 'XfrmOutStateDirError', why: 'SA direction is not out', policy: pol };
  }
  if (failed || bundle.length === 0) {
    // Larval drop (net.core.xfrm_larval_drop=1) or queueing: either way the
    // packet does not leave now, and Linux counts it as XfrmOutNoStates.
    x.stats.inc('XfrmOutNoStates');
    return { action: 'drop', counter: 'XfrmOutNoStates', why: 'no SA for the policy template', policy: pol };
  }
  return { action: 'transform', policy: pol, bundle };
}

export type InputStateResult = { sa: XfrmSA; counter: null } | { sa: XfrmSA | null; counter: XfrmMibName };

/**
 * The SA lookup and the checks xfrm_input() makes before the replay check:
 * no SA (XfrmInNoStates), wrong direction (XfrmInStateDirError), not valid
 * (XfrmAcquireError for a larval SA, XfrmInStateInvalid otherwise), and an
 * encapsulation that is not the SA's (XfrmInStateMismatch).
 * `encapType` is 0 for plain ESP, UDP_ENCAP_ESPINUDP for ESP in UDP.
 */
export function stateLookupInput(
  x: Xfrm,
  q: { family: Family; daddr: XfrmAddress; spi: number; proto: number; mark?: number; encapType?: number },
): InputStateResult {
  const sa = x.sad.lookup(q.mark ?? 0, q.daddr, q.spi >>> 0, q.proto, q.family);
  if (!sa) {
    x.stats.inc('XfrmInNoStates');
    return { sa: null, counter: 'XfrmInNoStates' };
  }
  let counter: XfrmMibName | null = null;
  if (sa.dir && sa.dir !== XFRM_SA_DIR_IN) counter = 'XfrmInStateDirError';
  else if (sa.kmState !== 'valid') counter = sa.kmState === 'acq' ? 'XfrmAcquireError' : 'XfrmInStateInvalid';
  else if ((sa.encap ? sa.encap.type : 0) !== (q.encapType ?? 0)) counter = 'XfrmInStateMismatch';
  if (counter) {
    x.stats.inc(counter);
    return { sa, counter };
  }
  return { sa, counter: null };
}

/**
 * xfrm_state_check_expire(): stamps the first use, hard byte/packet limits
 * kill the SA (hard EXPIRE event), soft ones mark it dying (soft EXPIRE).
 * Returns false when the SA must not be used. Call before counting the packet.
 */
export function stateCheckExpire(x: Xfrm, sa: XfrmSA): boolean {
  if (!sa.curlft.useTime) sa.curlft.useTime = x.nowSeconds();
  if (sa.curlft.bytes >= sa.lft.hardByteLimit || sa.curlft.packets >= sa.lft.hardPacketLimit) {
    sa.kmState = 'expired';
    // The kernel arms the SA timer for "now"; its handler deletes and notifies.
    expireStateNow(x, sa);
    return false;
  }
  if (!sa.dying && (sa.curlft.bytes >= sa.lft.softByteLimit || sa.curlft.packets >= sa.lft.softPacketLimit)) {
    sa.dying = true;
    x.events.emit({ type: 'expire', sa, hard: false });
  }
  return true;
}

/** Hard expiry: __xfrm_state_delete() then km_state_expired(x, 1). */
export function expireStateNow(x: Xfrm, sa: XfrmSA): void {
  if (x.sad.remove(sa)) {
    sa.kmState = 'expired';
    x.events.emit({ type: 'expire', sa, hard: true });
    sa.kmState = 'dead';
  }
}

/** Input: the check before decryption, counting XfrmInStateExpired. */
export function inputCheckExpire(x: Xfrm, sa: XfrmSA): boolean {
  if (stateCheckExpire(x, sa)) return true;
  x.stats.inc('XfrmInStateExpired');
  return false;
}

/** xfrm_output_one(): the SA must be valid (XfrmOutStateInvalid) and not expired (XfrmOutStateExpired). */
export function outputStateCheck(x: Xfrm, sa: XfrmSA): XfrmMibName | null {
  if (sa.kmState !== 'valid') {
    x.stats.inc('XfrmOutStateInvalid');
    return 'XfrmOutStateInvalid';
  }
  if (!stateCheckExpire(x, sa)) {
    x.stats.inc('XfrmOutStateExpired');
    return 'XfrmOutStateExpired';
  }
  return null;
}

/** After a packet went through the SA: curlft.bytes/packets and lastused. */
export function stateAccount(x: Xfrm, sa: XfrmSA, bytes: number): void {
  sa.curlft.bytes += bytes;
  sa.curlft.packets += 1;
  sa.lastused = x.nowSeconds();
}

/**
 * esp_input_done2(): an ESP-in-UDP packet whose outer source address or port
 * is not the SA's peer → XFRM_MSG_MAPPING to the key manager (km_new_mapping).
 * The SA itself is not changed; the IKE daemon decides. Returns true if an
 * event was sent.
 */
export function checkNatMapping(x: Xfrm, sa: XfrmSA, srcAddr: XfrmAddress, srcPort: number): boolean {
  if (!sa.encap || sa.proto !== 50) return false;
  if (addrEqual(srcAddr, sa.saddr, sa.family) && srcPort === sa.encap.sport) return false;
  x.events.emit({
    type: 'mapping',
    sa,
    oldSaddr: sa.saddr.slice(),
    oldSport: sa.encap.sport,
    newSaddr: srcAddr.slice(),
    newSport: srcPort,
  });
  return true;
}

// ---- inbound policy check -------------------------------------------------

/** xfrm_state_addr_cmp(): a template address that is set must equal the SA's. */
function addrMismatch(t: XfrmTmpl, sa: XfrmSA, family: number): boolean {
  return (
    (!addrIsAny(t.saddr, family) && !addrEqual(t.saddr, sa.saddr, family)) ||
    (!addrIsAny(t.daddr, family) && !addrEqual(t.daddr, sa.daddr, family))
  );
}

/** xfrm_state_ok(): does this SA satisfy the template? */
function stateOk(t: XfrmTmpl, sa: XfrmSA, family: number, ifId: number): boolean {
  return (
    sa.proto === t.proto &&
    (sa.spi === t.spi || !t.spi) &&
    (sa.reqid === t.reqid || !t.reqid) &&
    sa.mode === t.mode &&
    // The kernel also tests the SA's algorithm against the template's
    // aalgos mask; `ip` always sends all-ones masks, so that test passes.
    !(sa.mode !== XFRM_MODE_TRANSPORT && addrMismatch(t, sa, family)) &&
    (ifId === 0 || ifId === sa.ifId)
  );
}

/**
 * xfrm_policy_ok(): find the template among the secpath from `start`.
 * Returns the next index, `start` for a skipped optional template, or < 0:
 * -1 for "missing", -2-i for "tunnel SA at i does not fit".
 */
function policyOk(t: XfrmTmpl, sp: readonly XfrmSA[], start: number, family: number, ifId: number): number {
  let idx = start;
  if (t.optional) {
    if (t.mode === XFRM_MODE_TRANSPORT) return start;
  } else start = -1;
  for (; idx < sp.length; idx++) {
    if (stateOk(t, sp[idx]!, family, ifId)) return idx + 1;
    if (sp[idx]!.mode !== XFRM_MODE_TRANSPORT) {
      if (start === -1) start = -2 - idx;
      break;
    }
  }
  return start;
}

/** secpath_has_nontransport(): a tunnel SA beyond index k was not asked for. */
function secpathHasNonTransport(sp: readonly XfrmSA[], k: number): boolean {
  for (let i = k; i < sp.length; i++) if (sp[i]!.mode !== XFRM_MODE_TRANSPORT) return true;
  return false;
}

export type PolicyCheckResult =
  | { ok: true; policy: XfrmPolicy | null }
  | { ok: false; counter: XfrmMibName | null; why: string; policy: XfrmPolicy | null };

export interface PolicyCheckOptions {
  sockId?: string;
  /**
   * For an ICMP error (destination unreachable, time exceeded, packet too
   * big): the flow of the packet quoted inside it, reversed, as
   * xfrm_icmp_flow_decode() builds it (oif and mark copied from the outer
   * flow). RFC 4301 §6: with `flag icmp` on the SA such errors may pass SA
   * selectors meant for the quoted flow, a forwarded error may use the
   * quoted flow's `fwd` policy, and local delivery retries the check on the
   * quoted flow (icmp_rcv → xfrm4_policy_check_reverse).
   */
  icmpInnerFlow?: XfrmFlow;
}

/** icmp_err_packet(): ICMP errors that carry a quoted packet. */
export function icmpErrPacket(fl: XfrmFlow): boolean {
  if (fl.family === 2) return fl.proto === 1 && (fl.sport === 3 || fl.sport === 11);
  return fl.proto === 58 && (fl.sport === 1 || fl.sport === 2 || fl.sport === 3);
}

function policyCheckOnce(
  x: Xfrm,
  dir: number,
  fl: XfrmFlow,
  sp: readonly XfrmSA[],
  opts: PolicyCheckOptions,
): PolicyCheckResult {
  const family = fl.family;
  const ifId = fl.ifId ?? 0;
  // First, the SAs used must have admitted this flow by their selectors.
  for (let i = sp.length - 1; i >= 0; i--) {
    const sa = sp[i]!;
    if (!selectorMatch(sa.sel, fl, family)) {
      // xfrm_selector_inner_icmp_match(): an ICMP error about a packet the SA covers.
      const inner = opts.icmpInnerFlow;
      if (sa.flags & XFRM_STATE_ICMP && inner && icmpErrPacket(fl) && selectorMatch(sa.sel, inner, family)) continue;
      x.stats.inc('XfrmInStateMismatch');
      return { ok: false, counter: 'XfrmInStateMismatch', why: 'SA selector does not match the packet', policy: null };
    }
  }
  let pol =
    (dir === XFRM_POLICY_IN ? socketLookup(x, opts.sockId, dir, fl) : undefined) ??
    x.spd.lookup(fl, family, dir, ifId);
  // xfrm_in_fwd_icmp(): a forwarded ICMP error may use the quoted flow's policy.
  if (!pol && dir === XFRM_POLICY_FWD && opts.icmpInnerFlow && icmpErrPacket(fl))
    pol = x.spd.lookup(opts.icmpInnerFlow, family, dir, ifId);
  if (!pol) {
    const def = dir === XFRM_POLICY_FWD ? x.policyDefault.fwd : x.policyDefault.in;
    if (def === 'block') {
      x.stats.inc('XfrmInNoPols');
      return { ok: false, counter: 'XfrmInNoPols', why: 'no policy and default block', policy: null };
    }
    if (secpathHasNonTransport(sp, 0)) {
      x.stats.inc('XfrmInNoPols');
      return { ok: false, counter: 'XfrmInNoPols', why: 'tunnel-mode SA used but no policy', policy: null };
    }
    return ALLOWED_NO_POLICY;
  }
  pol.curlft.useTime = x.nowSeconds();
  if (pol.action !== XFRM_POLICY_ALLOW) {
    x.stats.inc('XfrmInPolBlock');
    return { ok: false, counter: 'XfrmInPolBlock', why: 'policy action block', policy: pol };
  }
  // A sub policy is combined with the main policy for the same flow.
  const main =
    pol.type !== XFRM_POLICY_TYPE_MAIN ? x.spd.lookupByType(XFRM_POLICY_TYPE_MAIN, fl, family, dir, ifId) : undefined;
  if (main && main.action !== XFRM_POLICY_ALLOW) {
    x.stats.inc('XfrmInPolBlock');
    return { ok: false, counter: 'XfrmInPolBlock', why: 'main policy action block', policy: main };
  }
  const nPol = pol.tmpls.length;
  const nTmpl = nPol + (main ? main.tmpls.length : 0);
  if (nPol >= XFRM_MAX_DEPTH || nTmpl >= XFRM_MAX_DEPTH) {
    // `ti + xfrm_nr >= XFRM_MAX_DEPTH` in __xfrm_policy_check.
    x.stats.inc('XfrmInBufferError');
    return { ok: false, counter: 'XfrmInBufferError', why: 'too many templates', policy: pol };
  }
  // For each tunnel SA find the first matching template; templates are
  // walked from the outermost (last) inwards, as the kernel does.
  let k = 0;
  for (let i = nTmpl - 1; i >= 0; i--) {
    const t = i < nPol ? pol.tmpls[i]! : main!.tmpls[i - nPol]!;
    k = policyOk(t, sp, k, family, ifId);
    if (k < 0) {
      x.stats.inc('XfrmInTmplMismatch');
      return { ok: false, counter: 'XfrmInTmplMismatch', why: 'secpath does not match the policy templates', policy: pol };
    }
  }
  if (secpathHasNonTransport(sp, k)) {
    x.stats.inc('XfrmInTmplMismatch');
    return { ok: false, counter: 'XfrmInTmplMismatch', why: 'unexpected tunnel-mode SA in secpath', policy: pol };
  }
  return { ok: true, policy: pol };
}

/**
 * __xfrm_policy_check() for `dir` XFRM_POLICY_IN (local delivery) or
 * XFRM_POLICY_FWD (forwarding). `secpath` lists the SAs that decapsulated
 * the packet, in order (outermost first), as skb's sec_path does.
 */
export function policyCheck(
  x: Xfrm,
  dir: number,
  fl: XfrmFlow,
  secpath: readonly XfrmSA[],
  opts: PolicyCheckOptions = NO_CHECK_OPTIONS,
): PolicyCheckResult {
  const r = policyCheckOnce(x, dir, fl, secpath, opts);
  if (r.ok || !opts.icmpInnerFlow || dir !== XFRM_POLICY_IN || (fl.proto !== 1 && fl.proto !== 58)) return r;
  // icmp_rcv(): when the SA that delivered an ICMP message has `flag icmp`,
  // the check is retried on the quoted packet's (reversed) flow.
  const last = secpath[secpath.length - 1];
  if (!last || !(last.flags & XFRM_STATE_ICMP)) return r;
  return policyCheckOnce(x, dir, opts.icmpInnerFlow, secpath, opts);
}

