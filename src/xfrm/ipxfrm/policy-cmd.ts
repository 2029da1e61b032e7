/**
 * `ip xfrm policy ...` (iproute2 ip/xfrm_policy.c): xfrm_policy_modify,
 * xfrm_policy_get_or_delete, xfrm_policy_list_or_deleteall, flush, count,
 * setdefault/getdefault.
 */
import {
  AF_INET,
  AF_UNSPEC,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_BLOCK,
  XFRM_POLICY_FWD,
  XFRM_POLICY_ICMP,
  XFRM_POLICY_IN,
  XFRM_POLICY_LOCALOK,
  XFRM_POLICY_OUT,
  XFRM_POLICY_TYPE_MAIN,
  XFRM_POLICY_TYPE_SUB,
} from '../constants.js';
import { XfrmError } from '../errors.js';
import { emptySelector } from '../selector.js';
import { infiniteLifetime, type XfrmMark } from '../state.js';
import type { PolicyConfig, XfrmPolicy, XfrmTmpl } from '../policy.js';
import type { Xfrm, DefaultAction } from '../xfrm.js';
import { Args, IpExit, die, duparg, duparg2, getU32, getU8, invarg, matches, missarg, parseFlagWords } from './args.js';
import {
  addrMatchBits,
  emptyFilter,
  newXfrmId,
  parseLimit,
  parseMark,
  parseMode,
  parseReqid,
  parseSelector,
  parseXfrmId,
  type IpContext,
  type XfrmFilter,
} from './parse.js';
import { formatPolicy, formatSpdInfo, type PrintOptions } from './print.js';
import type { CmdResult } from './state-cmd.js';

function parseDir(v: string): number {
  if (v === 'in') return XFRM_POLICY_IN;
  if (v === 'out') return XFRM_POLICY_OUT;
  if (v === 'fwd') return XFRM_POLICY_FWD;
  return invarg('DIR value is invalid', v);
}

function parsePtype(v: string): number {
  if (v === 'main') return XFRM_POLICY_TYPE_MAIN;
  if (v === 'sub') return XFRM_POLICY_TYPE_SUB;
  return invarg('PTYPE value is invalid', v);
}

function parseAction(v: string): number {
  if (v === 'allow') return XFRM_POLICY_ALLOW;
  if (v === 'block') return XFRM_POLICY_BLOCK;
  return invarg('ACTION value is invalid\n', v);
}

/** xfrm_policy_flag_parse(). */
const POLICY_FLAGS: Readonly<Record<string, number>> = { localok: XFRM_POLICY_LOCALOK, icmp: XFRM_POLICY_ICMP };
function parsePolicyFlags(a: Args, flags: number): number {
  return parseFlagWords(a, flags, POLICY_FLAGS, (t) => getU8(t, 16), 'FLAG value is invalid');
}

/** xfrm_tmpl_parse(): ID [ mode MODE ] [ reqid REQID ] [ level LEVEL ]. */
function parseTmpl(a: Args, ctx: IpContext, t: XfrmTmpl): void {
  const start = a.argc;
  let idp = false;
  for (;;) {
    const w = a.cur;
    if (w === 'mode') t.mode = parseMode(a.next());
    else if (w === 'reqid') t.reqid = parseReqid(a.next());
    else if (w === 'level') {
      const v = a.next();
      if (v === 'required') t.optional = 0;
      else if (v === 'use') t.optional = 1;
      else invarg('LEVEL value is invalid\n', v);
    } else {
      if (idp) {
        a.prev();
        break;
      }
      idp = true;
      ctx.preferredFamily = AF_UNSPEC;
      const id = newXfrmId(t.family);
      parseXfrmId(a, ctx, false, id);
      t.family = id.family;
      t.saddr = id.saddr;
      t.daddr = id.daddr;
      t.proto = id.proto;
      t.spi = id.spi;
      ctx.preferredFamily = t.family;
    }
    if (!a.nextOk()) break;
    a.next();
  }
  if (a.argc === start) missarg('TMPL');
}

/** xfrm_policy_modify(). */
export function parsePolicyModify(args: string[], ctx: IpContext): PolicyConfig {
  const a = new Args(args);
  const cfg: PolicyConfig = {
    sel: emptySelector(ctx.preferredFamily),
    dir: 0,
    action: XFRM_POLICY_ALLOW,
    priority: 0,
    index: 0,
    flags: 0,
    tmpls: [],
    lft: infiniteLifetime(),
  };
  let dirp = false;
  let selp = false;
  let ptypep = false;
  let sctxp = false;
  let mark: XfrmMark = { v: 0, m: 0 };
  let ifIdSet = false;
  let ifId = 0;
  let offload = false;
  while (a.argc > 0) {
    const w = a.cur;
    if (w === 'dir') {
      if (dirp) duparg('dir', w);
      dirp = true;
      cfg.dir = parseDir(a.next());
    } else if (w === 'ctx') {
      if (sctxp) duparg('ctx', w);
      sctxp = true;
      cfg.ctx = a.next();
    } else if (w === 'mark') mark = parseMark(a);
    else if (w === 'index') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('INDEX value is invalid', v);
      cfg.index = n;
    } else if (w === 'ptype') {
      if (ptypep) duparg('ptype', w);
      ptypep = true;
      cfg.type = parsePtype(a.next());
    } else if (w === 'action') cfg.action = parseAction(a.next());
    else if (w === 'priority') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('PRIORITY value is invalid', v);
      cfg.priority = n;
    } else if (w === 'flag') {
      a.next();
      cfg.flags = parsePolicyFlags(a, cfg.flags);
    } else if (w === 'limit') {
      a.next();
      parseLimit(a, cfg.lft);
    } else if (w === 'tmpl') {
      if (cfg.tmpls.length >= 1024 / 64) die('Too many tmpls: buffer overflow\n', 1);
      const t: XfrmTmpl = {
        family: ctx.preferredFamily,
        daddr: new Uint8Array(16),
        saddr: new Uint8Array(16),
        spi: 0,
        proto: 0,
        mode: 0,
        reqid: 0,
        optional: 0,
        share: 0,
        aalgos: 0xffffffff,
        ealgos: 0xffffffff,
        calgos: 0xffffffff,
      };
      a.next();
      parseTmpl(a, ctx, t);
      cfg.tmpls.push(t);
    } else if (w === 'if_id') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('IF_ID value is invalid', v);
      ifId = n;
      ifIdSet = true;
    } else if (w === 'offload') {
      const v = a.next();
      if (v !== 'packet') invarg('Invalid offload mode', v);
      const d = a.next();
      if (d !== 'dev') invarg('Missing dev keyword', d);
      const dev = a.next();
      if (!ctx.ifIndex(dev)) invarg('Invalid device name', dev);
      offload = true;
    } else {
      if (selp) duparg('unknown', w);
      selp = true;
      parseSelector(a, ctx, cfg.sel);
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = cfg.sel.family;
    }
    a.advance();
  }
  if (!dirp) die('Not enough information: DIR is required.\n', 1);
  if (mark.m) cfg.mark = mark;
  if (ifIdSet) cfg.ifId = ifId;
  if (cfg.sel.family === AF_UNSPEC) cfg.sel.family = AF_INET;
  if (offload) throw new XfrmError('EOPNOTSUPP');
  return cfg;
}

/** xfrm_policy_get_or_delete(). */
function parsePolicyId(args: string[], ctx: IpContext) {
  const a = new Args(args);
  let dir = 0;
  let dirp = false;
  let selp = false;
  let indexp = false;
  let ptypep = false;
  let sctxp = false;
  let index = 0;
  let type = XFRM_POLICY_TYPE_MAIN;
  let ctxStr: string | undefined;
  let mark: XfrmMark = { v: 0, m: 0 };
  let ifId = 0;
  const sel = emptySelector(ctx.preferredFamily);
  while (a.argc > 0) {
    const w = a.cur;
    if (w === 'dir') {
      if (dirp) duparg('dir', w);
      dirp = true;
      dir = parseDir(a.next());
    } else if (w === 'ctx') {
      if (sctxp) duparg('ctx', w);
      sctxp = true;
      ctxStr = a.next();
    } else if (w === 'mark') mark = parseMark(a);
    else if (w === 'index') {
      if (indexp) duparg('index', w);
      indexp = true;
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('INDEX value is invalid', v);
      index = n;
    } else if (w === 'ptype') {
      if (ptypep) duparg('ptype', w);
      ptypep = true;
      type = parsePtype(a.next());
    } else if (w === 'if_id') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('IF_ID value is invalid', v);
      ifId = n;
    } else {
      if (selp) invarg('unknown', w);
      selp = true;
      parseSelector(a, ctx, sel);
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = sel.family;
    }
    a.advance();
  }
  if (!dirp) die('Not enough information: DIR is required.\n', 1);
  if (!selp && !indexp) die('Not enough information: either SELECTOR or INDEX is required.\n', 1);
  if (selp && indexp) duparg2('SELECTOR', 'INDEX');
  if (sel.family === AF_UNSPEC) sel.family = AF_INET;
  return {
    dir,
    type,
    index: indexp ? index : 0,
    // With `index 0` the kernel falls back to the (all-zero) selector.
    sel,
    mark: (mark.m & mark.v) !== 0 ? mark : undefined,
    ifId,
    ctx: ctxStr,
  };
}

function parsePolicyFilter(args: string[], ctx: IpContext): XfrmFilter {
  const f = emptyFilter();
  const a = new Args(args);
  let selp = false;
  if (a.argc > 0 || ctx.preferredFamily !== AF_UNSPEC) f.use = true;
  f.family = ctx.preferredFamily;
  while (a.argc > 0) {
    const w = a.cur;
    if (w === 'dir') {
      f.dir = parseDir(a.next());
      f.dirMask = true;
    } else if (w === 'index') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('INDEX value is invalid', v);
      f.index = n;
      f.indexMask = true;
    } else if (w === 'ptype') {
      f.ptype = parsePtype(a.next());
      f.ptypeMask = true;
    } else if (w === 'action') {
      f.action = parseAction(a.next());
      f.actionMask = true;
    } else if (w === 'priority') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('PRIORITY value is invalid', v);
      f.priority = n;
      f.priorityMask = true;
    } else if (w === 'flag') {
      a.next();
      f.policyFlags = parsePolicyFlags(a, f.policyFlags);
      f.policyFlagsMask = true;
    } else if (w === 'nosock') f.filterSocket = true;
    else {
      if (selp) invarg('unknown', w);
      selp = true;
      const sel = emptySelector(f.family);
      parseSelector(a, ctx, sel, f);
      f.sel = sel;
      f.family = sel.family;
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = sel.family;
    }
    a.advance();
  }
  return f;
}

/** xfrm_policy_filter_match(). */
function policyFilterMatch(f: XfrmFilter, p: XfrmPolicy): boolean {
  if (!f.use) return true;
  if (f.family !== AF_UNSPEC && f.family !== p.sel.family) return false;
  if (f.dirMask && (p.dir !== f.dir || p.socket)) return false;
  if (f.filterSocket && p.socket) return false;
  if (f.ptypeMask && p.type !== f.ptype) return false;
  const s = f.sel;
  if (s) {
    if (f.selSrcMask && !addrMatchBits(p.sel.saddr, s.saddr, f.selSrcMask)) return false;
    if (f.selDstMask && !addrMatchBits(p.sel.daddr, s.daddr, f.selDstMask)) return false;
    if (f.selDevMask && p.sel.ifindex !== s.ifindex) return false;
    if (f.upspecProtoMask && p.sel.proto !== s.proto) return false;
    if (f.upspecSportMask && p.sel.sport !== s.sport) return false;
    if (f.upspecDportMask && p.sel.dport !== s.dport) return false;
  }
  if (f.indexMask && p.index !== f.index) return false;
  if (f.actionMask && p.action !== f.action) return false;
  if (f.priorityMask && p.priority !== f.priority) return false;
  if (f.policyFlagsMask && (p.flags & f.policyFlags) === 0) return false;
  return true;
}

/** do_xfrm_policy(). */
export function doXfrmPolicy(args: string[], x: Xfrm, ctx: IpContext, po: PrintOptions): CmdResult {
  const ok = (stdout = ''): CmdResult => ({ stdout, stderr: '', status: 0 });
  const list = (rest: string[], deleteall: boolean): CmdResult => {
    const f = parsePolicyFilter(rest, ctx);
    const sel = x.spd.policies.filter((p) => policyFilterMatch(f, p));
    if (deleteall) {
      for (const p of sel) {
        if (p.socket) continue; // "can't delete socket policies"
        x.deletePolicy({ dir: p.dir, sel: p.sel, type: p.type, mark: p.mark, ifId: p.ifId, ...(p.ctx ? { ctx: p.ctx } : {}) });
      }
      return ok();
    }
    const o = { ...po, preferredFamily: ctx.preferredFamily };
    return ok(sel.map((p) => formatPolicy(p, o)).join(''));
  };
  if (args.length < 1) return list([], false);
  const [cmd, ...rest] = args as [string, ...string[]];
  if (matches(cmd, 'add')) {
    x.addPolicy(parsePolicyModify(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'update')) {
    x.updatePolicy(parsePolicyModify(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'delete')) {
    x.deletePolicy(parsePolicyId(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'deleteall') || matches(cmd, 'delall')) return list(rest, true);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return list(rest, false);
  if (matches(cmd, 'get')) {
    const p = x.getPolicy(parsePolicyId(rest, ctx));
    return ok(formatPolicy(p, { ...po, preferredFamily: ctx.preferredFamily }));
  }
  if (matches(cmd, 'flush')) {
    const a = new Args(rest);
    let type = XFRM_POLICY_TYPE_MAIN;
    let seen = false;
    while (a.argc > 0) {
      if (a.cur === 'ptype') {
        if (seen) duparg('ptype', a.cur);
        seen = true;
        type = parsePtype(a.next());
      } else invarg('unknown', a.cur);
      a.advance();
    }
    x.flushPolicies(type);
    return ok();
  }
  if (matches(cmd, 'count')) return ok(formatSpdInfo(x.spd.counts(), po.stats, po.oneline));
  if (matches(cmd, 'set')) {
    // Hash thresholds only tune the kernel's lookup structure; accepted and ignored.
    const a = new Args(rest);
    while (a.argc > 0) {
      const w = a.cur;
      if (w === 'hthresh4' || w === 'hthresh6') {
        const max = w === 'hthresh4' ? 32 : 128;
        for (const which of ['LBITS', 'RBITS']) {
          const v = a.next();
          const n = getU8(v, 0);
          if (n === null || n > max) invarg(`${w} ${which} value is invalid`, v);
        }
      } else invarg('unknown', w);
      a.advance();
    }
    return ok();
  }
  if (matches(cmd, 'setdefault')) {
    const a = new Args(rest);
    const want: Partial<Record<'in' | 'fwd' | 'out', DefaultAction>> = {};
    while (a.argc > 0) {
      const w = a.cur;
      if (w === 'in' || w === 'fwd' || w === 'out') {
        if (want[w]) duparg(w, w);
        const v = a.next();
        if (v === 'block') want[w] = 'block';
        else if (v === 'accept' || v === 'allow') want[w] = 'accept';
        else invarg(`${w} policy value is invalid`, v);
      } else invarg('unknown direction', w);
      a.advance();
    }
    x.setPolicyDefault(want);
    return ok();
  }
  if (matches(cmd, 'getdefault')) {
    const d = x.policyDefault;
    return ok(`Default policies:\n in:  ${d.in}\n fwd: ${d.fwd}\n out: ${d.out}\n`);
  }
  if (matches(cmd, 'help')) throw new IpExit(POLICY_USAGE, 255);
  return { stdout: '', stderr: `Command "${cmd}" is unknown, try "ip xfrm policy help".\n`, status: 255 };
}

const POLICY_USAGE =
  'Usage: ip xfrm policy { add | update } SELECTOR dir DIR [ ctx CTX ]\n' +
  '\t[ mark MARK [ mask MASK ] ] [ index INDEX ] [ ptype PTYPE ]\n' +
  '\t[ action ACTION ] [ priority PRIORITY ] [ flag FLAG-LIST ]\n' +
  '\t[ if_id IF_ID ] [ LIMIT-LIST ] [ TMPL-LIST ]\n' +
  'Usage: ip xfrm policy { delete | get } { SELECTOR | index INDEX } dir DIR\n' +
  '\t[ ctx CTX ] [ mark MARK [ mask MASK ] ] [ ptype PTYPE ]\n' +
  '\t[ if_id IF_ID ]\n' +
  'Usage: ip xfrm policy { deleteall | list } [ nosock ] [ SELECTOR ] [ dir DIR ]\n' +
  '\t[ index INDEX ] [ ptype PTYPE ] [ action ACTION ] [ priority PRIORITY ]\n' +
  '\t[ flag FLAG-LIST ]\n' +
  'Usage: ip xfrm policy flush [ ptype PTYPE ]\n' +
  'Usage: ip xfrm policy count\n' +
  'Usage: ip xfrm policy setdefault DIR ACTION [ DIR ACTION ] [ DIR ACTION ]\n' +
  'Usage: ip xfrm policy getdefault\n';

export type { XfrmTmpl };
