/**
 * The xfrm state of one network namespace (struct netns_xfrm): SAD, SPD,
 * counters, events and the management operations `ip xfrm` performs over
 * netlink (net/xfrm/xfrm_user.c: xfrm_add_sa, xfrm_del_sa, xfrm_get_sa,
 * xfrm_flush_sa, xfrm_add_policy, xfrm_get_policy, xfrm_flush_policy...).
 * Data-path entry points are in datapath.ts, timers in lifetime.ts.
 */
import {
  IPPROTO_AH,
  IPPROTO_COMP,
  IPPROTO_ESP,
  IPSEC_PROTO_ANY,
  XFRM_ACQ_EXPIRES_DEFAULT,
  XFRM_POLICY_OUT,
  XFRM_POLICY_TYPE_MAIN,
  type Family,
} from './constants.js';
import { systemClock, seconds, type Clock } from './clock.js';
import { XfrmError } from './errors.js';
import { XfrmEventBus } from './events.js';
import { Sad, protoMatch, usesSpi } from './sad.js';
import { Spd } from './spd.js';
import { XfrmStats } from './stats.js';
import { cloneSelector, emptySelector, type XfrmSelector } from './selector.js';
import { UINT32_MAX, constructSa, larvalSa, verifyNewSa, type SaConfig, type XfrmMark, type XfrmSA } from './state.js';
import {
  validateTemplates,
  verifyNewPolicy,
  verifyPolicyDir,
  verifyPolicyType,
  type PolicyConfig,
  type XfrmPolicy,
} from './policy.js';
import type { XfrmAddress } from './addr.js';

export type DefaultAction = 'accept' | 'block';

export interface XfrmOptions {
  clock?: Clock;
  /** num_possible_cpus(): bound for `pcpu-num`. Default 8. */
  possibleCpus?: number;
  /** net.core.xfrm_acq_expires (seconds a larval SA lives). Default 30. */
  acqExpires?: number;
  /** net.core.xfrm_larval_drop. Default true (drop, count XfrmOutNoStates). */
  larvalDrop?: boolean;
  /** Random numbers in [0, 1) for SPI allocation (get_random_u32_inclusive); default Math.random. */
  random?: () => number;
}

/** XFRM_MSG_ALLOCSPI's request (struct xfrm_userspi_info + attributes). */
export interface AllocSpiRequest {
  family: Family;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  proto: number;
  mode: number;
  reqid: number;
  /** An acquire's sequence number: allocate for that larval SA. */
  seq?: number;
  /** Inclusive range; `ip` defaults to 0x100..0x0fffffff (0xffff for IPComp). */
  min: number;
  max: number;
  mark?: XfrmMark;
  ifId?: number;
  dir?: number;
  pcpuNum?: number;
}

/** Identifies an SA for get/delete (struct xfrm_usersa_id + XFRMA_SRCADDR + XFRMA_MARK). */
export interface SaId {
  family: Family;
  daddr: XfrmAddress;
  spi: number;
  proto: number;
  saddr?: XfrmAddress;
  mark?: XfrmMark;
}

/** Identifies a policy for get/delete (struct xfrm_userpolicy_id + attributes). */
export interface PolicyId {
  dir: number;
  sel?: XfrmSelector;
  index?: number;
  type?: number;
  mark?: XfrmMark;
  ifId?: number;
  ctx?: string;
}

export class Xfrm {
  clock: Clock;
  readonly sad = new Sad();
  readonly spd = new Spd();
  readonly stats = new XfrmStats();
  readonly events = new XfrmEventBus();
  possibleCpus: number;
  acqExpires: number;
  larvalDrop: boolean;
  /** XFRM_MSG_SETDEFAULT: what happens without a matching policy. */
  policyDefault: { in: DefaultAction; fwd: DefaultAction; out: DefaultAction } = {
    in: 'accept',
    fwd: 'accept',
    out: 'accept',
  };
  /** xfrm_get_acqseq() counter. */
  acqSeq = 0;
  random: () => number;

  constructor(opts: XfrmOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.possibleCpus = opts.possibleCpus ?? 8;
    this.acqExpires = opts.acqExpires ?? XFRM_ACQ_EXPIRES_DEFAULT;
    this.larvalDrop = opts.larvalDrop ?? true;
    this.random = opts.random ?? Math.random;
  }

  /** Seconds, as the kernel keeps SA times. */
  nowSeconds(): number {
    return seconds(this.clock);
  }

  // ---- SAD management ---------------------------------------------------

  /** XFRM_MSG_NEWSA (xfrm_add_sa + xfrm_state_add). */
  addState(cfg: SaConfig): XfrmSA {
    verifyNewSa(cfg);
    const x = constructSa(cfg, { possibleCpus: this.possibleCpus, now: this.nowSeconds() });
    if (this.sad.locate(x)) throw new XfrmError('EEXIST');
    // The SA answering an acquire replaces the larval state (found by the
    // acquire's sequence number, else by reqid/mode/addresses).
    let larval: XfrmSA | undefined;
    if (usesSpi(x.proto) && x.seq) {
      larval = this.sad.findAcqBySeq((x.mark.v & x.mark.m) >>> 0, x.seq);
      if (larval && (larval.proto !== x.proto || !sameAddr(larval.daddr, x.daddr))) larval = undefined;
    }
    if (usesSpi(x.proto) && !larval) larval = this.sad.findAcq(x);
    this.sad.insert(x);
    if (larval) this.sad.remove(larval);
    this.events.emit({ type: 'newsa', sa: x });
    return x;
  }

  /**
   * XFRM_MSG_UPDSA (xfrm_state_update): a larval state is replaced; a valid
   * one only takes the new encapsulation, lifetimes, output mark and if_id —
   * keys and algorithms of a live SA never change.
   */
  updateState(cfg: SaConfig): XfrmSA {
    verifyNewSa(cfg);
    const x = constructSa(cfg, { possibleCpus: this.possibleCpus, now: this.nowSeconds() });
    const x1 = this.sad.locate(x);
    if (!x1 || x1.dir !== x.dir) throw new XfrmError('ESRCH');
    if (x1.kmState === 'acq') {
      this.sad.insert(x);
      this.sad.remove(x1);
      this.events.emit({ type: 'updsa', sa: x });
      return x;
    }
    if (x1.kmState !== 'valid') throw new XfrmError('ESRCH');
    if (x.encap && x1.encap && x.encap.type === x1.encap.type) x1.encap = x.encap;
    else if (x.encap || x1.encap) throw new XfrmError('EINVAL');
    if (x.coaddr && x1.coaddr) x1.coaddr = x.coaddr;
    if (!usesSpi(x.proto)) x1.sel = cloneSelector(x.sel);
    x1.lft = { ...x.lft };
    x1.dying = false;
    if (x.smark.m || x.smark.v) x1.smark = { ...x.smark };
    if (x.ifId) x1.ifId = x.ifId;
    // xfrm_add_sa() notifies with the SA it built from the request, not the
    // live one it merged into: listeners see the requested values.
    x.kmState = 'dead';
    this.events.emit({ type: 'updsa', sa: x });
    return x1;
  }

  /** xfrm_user_state_lookup(): by SPI for ESP/AH/IPComp, else by addresses. */
  findState(id: SaId): XfrmSA | undefined {
    const mark = id.mark ? (id.mark.v & id.mark.m) >>> 0 : 0;
    if (protoMatch(id.proto, IPSEC_PROTO_ANY)) return this.sad.lookup(mark, id.daddr, id.spi >>> 0, id.proto, id.family);
    if (!id.saddr) throw new XfrmError('EINVAL');
    return this.sad.lookupByAddr(mark, id.daddr, id.saddr, id.proto, id.family);
  }

  /**
   * XFRM_MSG_ALLOCSPI (xfrm_alloc_userspi): find the larval SA of an acquire
   * (by sequence number, else by mode/reqid/addresses — creating one if
   * there is none, as xfrm_find_acq(create=1) does) and give it a free SPI
   * from [min, max]. The key manager then completes it with UPDSA.
   */
  allocSpi(req: AllocSpiRequest): XfrmSA {
    // verify_spi_info()
    if (req.proto === IPPROTO_COMP) {
      if (req.max >= 0x10000) throw new XfrmError('EINVAL', 'IPCOMP SPI must be <= 65535');
    } else if (req.proto !== IPPROTO_ESP && req.proto !== IPPROTO_AH) {
      throw new XfrmError('EINVAL', 'Invalid protocol, must be one of AH, ESP, IPCOMP');
    }
    if (req.min > req.max) throw new XfrmError('EINVAL', 'Invalid SPI range: min > max');
    const m = req.mark ?? { v: 0, m: 0 };
    const mark = (m.v & m.m) >>> 0;
    const pcpuNum = req.pcpuNum ?? UINT32_MAX;
    if (pcpuNum !== UINT32_MAX && pcpuNum >= this.possibleCpus) throw new XfrmError('EINVAL', 'pCPU number too big');
    let x: XfrmSA | undefined;
    if (req.seq) {
      x = this.sad.findAcqBySeq(mark, req.seq);
      if (x && !sameAddr(x.daddr, req.daddr)) x = undefined;
    }
    if (!x) {
      const probe = larvalSa({
        family: req.family,
        daddr: req.daddr,
        saddr: req.saddr,
        spi: 0,
        proto: req.proto,
        mode: req.mode,
        reqid: req.reqid,
        sel: emptySelector(0),
        mark: m,
        ifId: req.ifId ?? 0,
        now: this.nowSeconds(),
        acqExpires: this.acqExpires,
      });
      probe.pcpuNum = pcpuNum;
      probe.dir = 0;
      x = this.sad.findAcq(probe);
      if (!x) {
        // __find_acq_core(create=1): the selector is the two hosts, without a family.
        const full = req.family === 10 ? 128 : 32;
        probe.sel.daddr = req.daddr.slice();
        probe.sel.saddr = req.saddr.slice();
        probe.sel.prefixlenD = full;
        probe.sel.prefixlenS = full;
        this.sad.insert(probe);
        x = probe;
      }
    }
    // xfrm_alloc_spi(): keep an SPI already given, else pick a free one.
    if (!x.spi) {
      const free = (spi: number): boolean => !this.sad.lookup(mark, x!.daddr, spi, x!.proto, x!.family);
      let spi = 0;
      if (req.min === req.max) {
        if (free(req.min)) spi = req.min;
      } else {
        const span = req.max - req.min + 1;
        for (let i = 0; i < Math.min(span, 1 << 16); i++) {
          const cand = req.min + Math.floor(this.random() * span);
          if (free(cand)) {
            spi = cand;
            break;
          }
        }
      }
      if (!spi) throw new XfrmError('ENOENT', 'No SPI available in the requested range');
      x.spi = spi >>> 0;
      this.sad.reindex();
    }
    if (req.dir) x.dir = req.dir;
    return x;
  }

  /** XFRM_MSG_GETSA. */
  getState(id: SaId): XfrmSA {
    const x = this.findState(id);
    if (!x) throw new XfrmError('ESRCH');
    return x;
  }

  /** XFRM_MSG_DELSA (xfrm_del_sa). */
  deleteState(id: SaId): XfrmSA {
    const x = this.getState(id);
    this.sad.remove(x);
    this.events.emit({ type: 'delsa', sa: x });
    return x;
  }

  /** XFRM_MSG_FLUSHSA: all SAs of `proto` (0 = every protocol). Returns how many went. */
  flushStates(proto = 0): number {
    const victims = this.sad.states.filter((x) => protoMatch(x.proto, proto));
    for (const x of victims) this.sad.remove(x);
    // xfrm_flush_sa(): an empty flush (-ESRCH) succeeds silently, without a notification.
    if (victims.length) this.events.emit({ type: 'flushsa', proto });
    return victims.length;
  }

  // ---- SPD management ---------------------------------------------------

  private buildPolicy(cfg: PolicyConfig, socket: boolean, sockId: string | null): XfrmPolicy {
    verifyNewPolicy(cfg);
    const type = cfg.type ?? XFRM_POLICY_TYPE_MAIN;
    verifyPolicyType(type);
    const tmpls = cfg.tmpls.map((t) => ({ ...t, daddr: t.daddr.slice(), saddr: t.saddr.slice() }));
    validateTemplates(tmpls, cfg.sel.family, cfg.dir);
    return {
      sel: cloneSelector(cfg.sel),
      dir: cfg.dir,
      action: cfg.action,
      priority: cfg.priority >>> 0,
      index: cfg.index >>> 0,
      flags: cfg.flags,
      share: cfg.share ?? 0,
      type,
      mark: cfg.mark ? { ...cfg.mark } : { v: 0, m: 0 },
      ifId: cfg.ifId ?? 0,
      tmpls,
      lft: { ...cfg.lft },
      curlft: { bytes: 0, packets: 0, addTime: 0, useTime: 0 },
      // Without a security module (as on common kernels, and here) the
      // kernel's security_xfrm_policy_alloc() keeps no context: `ctx` is
      // accepted and dropped, and plays no part in matching.
      ctx: null,
      socket,
      sockId,
      pos: 0,
      dying: false,
    };
  }

  /** XFRM_MSG_NEWPOLICY. */
  addPolicy(cfg: PolicyConfig): XfrmPolicy {
    const p = this.buildPolicy(cfg, false, null);
    this.spd.insert(p, true, this.nowSeconds());
    this.events.emit({ type: 'newpolicy', policy: p });
    return p;
  }

  /** XFRM_MSG_UPDPOLICY: replaces the same policy (or adds it). */
  updatePolicy(cfg: PolicyConfig): XfrmPolicy {
    const p = this.buildPolicy(cfg, false, null);
    this.spd.insert(p, false, this.nowSeconds());
    this.events.emit({ type: 'updpolicy', policy: p });
    return p;
  }

  /** xfrm_get_policy(): by index or by selector; ENOENT when absent. */
  findPolicy(id: PolicyId): XfrmPolicy | undefined {
    verifyPolicyDir(id.dir);
    const type = id.type ?? XFRM_POLICY_TYPE_MAIN;
    verifyPolicyType(type);
    const mark = id.mark ?? { v: 0, m: 0 };
    const ifId = id.ifId ?? 0;
    if (id.index) return this.spd.byIndex(type, id.dir, id.index, mark, ifId);
    if (!id.sel) throw new XfrmError('EINVAL');
    return this.spd.bySelector(type, id.dir, id.sel, mark, ifId, null);
  }

  /** XFRM_MSG_GETPOLICY. */
  getPolicy(id: PolicyId): XfrmPolicy {
    const p = this.findPolicy(id);
    if (!p) throw new XfrmError('ENOENT');
    return p;
  }

  /** XFRM_MSG_DELPOLICY. */
  deletePolicy(id: PolicyId): XfrmPolicy {
    const p = this.getPolicy(id);
    this.spd.remove(p);
    this.events.emit({ type: 'delpolicy', policy: p });
    return p;
  }

  /** XFRM_MSG_FLUSHPOLICY: every SPD (not socket) policy of `type`. */
  flushPolicies(type = XFRM_POLICY_TYPE_MAIN): number {
    verifyPolicyType(type);
    const victims = this.spd.policies.filter((p) => !p.socket && p.type === type);
    for (const p of victims) this.spd.remove(p);
    // xfrm_flush_policy(): likewise silent when there was nothing to flush.
    if (victims.length) this.events.emit({ type: 'flushpolicy', ptype: type });
    return victims.length;
  }

  /**
   * A per-socket policy (setsockopt IP_XFRM_POLICY / xfrm_user_policy()):
   * consulted before the SPD for that socket's traffic, in direction `dir`
   * (XFRM_POLICY_IN or XFRM_POLICY_OUT). `null` removes it.
   */
  setSocketPolicy(sockId: string, dir: number, cfg: PolicyConfig | null): XfrmPolicy | null {
    // xfrm_compile_policy(): only in and out exist for sockets.
    if (dir > XFRM_POLICY_OUT) throw new XfrmError('EINVAL');
    const old = this.spd.policies.find((p) => p.socket && p.sockId === sockId && p.dir === dir);
    if (old) this.spd.remove(old);
    if (!cfg) return null;
    const p = this.buildPolicy({ ...cfg, dir, index: 0 }, true, sockId);
    p.pos = ++this.spd.posCounter;
    p.index = this.spd.genSocketIndex(dir);
    p.curlft = { bytes: 0, packets: 0, addTime: this.nowSeconds(), useTime: 0 };
    this.spd.policies.unshift(p);
    return p;
  }

  socketPolicy(sockId: string, dir: number): XfrmPolicy | undefined {
    return this.spd.policies.find((p) => p.socket && p.sockId === sockId && p.dir === dir);
  }

  /**
   * XFRM_MSG_SETDEFAULT (xfrm_set_default): what happens to traffic no policy
   * matches, per direction; omitted directions keep their value. Key
   * managers are told (xfrm_notify_userpolicy).
   */
  setPolicyDefault(d: Partial<Record<'in' | 'fwd' | 'out', DefaultAction>>): void {
    if (d.in) this.policyDefault.in = d.in;
    if (d.fwd) this.policyDefault.fwd = d.fwd;
    if (d.out) this.policyDefault.out = d.out;
    this.events.emit({ type: 'policydefault', ...this.policyDefault });
  }

  /** SAD size as XFRM_MSG_GETSADINFO reports it (state_num, hash buckets). */
  sadInfo(): { count: number; buckets: number; maxBuckets: number } {
    let buckets = 8;
    while (this.sad.count > buckets - 1 && buckets < 1024 * 1024) buckets *= 2;
    return { count: this.sad.count, buckets, maxBuckets: 1024 * 1024 };
  }
}

function sameAddr(a: XfrmAddress, b: XfrmAddress): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

