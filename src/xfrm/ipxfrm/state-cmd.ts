/**
 * `ip xfrm state ...` (iproute2 ip/xfrm_state.c): add/update build an SA
 * request exactly as xfrm_state_modify() does, including its own checks and
 * messages, then hand it to the "kernel" (Xfrm.addState/updateState).
 */
import { AF_INET, AF_UNSPEC, IPPROTO_IPIP, IPPROTO_IPV6, type Family } from '../constants.js';
import { type XfrmMark, type XfrmSA } from '../state.js';
import type { Xfrm } from '../xfrm.js';
import { Args, IpExit, duparg, invarg, matches } from './args.js';
import {
  addrMatchBits,
  emptyFilter,
  newXfrmId,
  parseMark,
  parseMode,
  parseReqid,
  parseXfrmId,
  xfrmProtoByName,
  type IpContext,
  type XfrmFilter,
} from './parse.js';
import { formatSadInfo, formatState, type PrintOptions } from './print.js';
import { parseAllocSpi, parseStateFlags, parseStateModify } from './state-parse.js';

/** xfrm_state_get_or_delete(): ID [ mark MARK [ mask MASK ] ]. */
function parseStateId(args: string[], ctx: IpContext) {
  const a = new Args(args);
  let idp = false;
  let mark: XfrmMark = { v: 0, m: 0 };
  let id = newXfrmId(ctx.preferredFamily);
  while (a.argc > 0) {
    if (a.cur === 'mark') mark = parseMark(a);
    else {
      if (idp) invarg('unknown', a.cur);
      idp = true;
      id = newXfrmId(id.family);
      parseXfrmId(a, ctx, false, id);
    }
    a.advance();
  }
  const family = (id.family || AF_INET) as Family;
  return {
    family,
    daddr: id.daddr,
    saddr: id.saddr,
    spi: id.spi,
    proto: id.proto,
    // XFRMA_MARK only when mark & mask are both non-zero.
    mark: (mark.m & mark.v) !== 0 ? mark : undefined,
  };
}

function filterMatch(f: XfrmFilter, sa: XfrmSA): boolean {
  if (!f.use) return true;
  if (f.family !== AF_UNSPEC && f.family !== sa.family) return false;
  if (f.idSrcMask && !addrMatchBits(sa.saddr, f.saddr, f.idSrcMask)) return false;
  if (f.idDstMask && !addrMatchBits(sa.daddr, f.daddr, f.idDstMask)) return false;
  if (f.protoMask && sa.proto !== f.proto) return false;
  if (f.spiMask && sa.spi !== f.spi) return false;
  if (f.modeMask && sa.mode !== f.mode) return false;
  if (f.reqidMask && sa.reqid !== f.reqid) return false;
  if (f.flagsMask && (sa.flags & f.flags) === 0) return false;
  return true;
}

function parseStateFilter(args: string[], ctx: IpContext): { f: XfrmFilter; nokeys: boolean } {
  const f = emptyFilter();
  const a = new Args(args);
  let nokeys = false;
  let idp = false;
  if (a.argc > 0 || ctx.preferredFamily !== AF_UNSPEC) f.use = true;
  f.family = ctx.preferredFamily;
  while (a.argc > 0) {
    const t = a.cur;
    if (t === 'nokeys') nokeys = true;
    else if (t === 'mode') {
      f.mode = parseMode(a.next());
      f.modeMask = true;
    } else if (t === 'reqid') {
      f.reqid = parseReqid(a.next());
      f.reqidMask = true;
    } else if (t === 'flag') {
      a.next();
      f.flags = parseStateFlags(a, f.flags);
      f.flagsMask = true;
    } else {
      if (idp) invarg('unknown', t);
      idp = true;
      const id = newXfrmId(f.family);
      parseXfrmId(a, ctx, true, id);
      f.family = id.family;
      f.saddr = id.saddr;
      f.daddr = id.daddr;
      f.idSrcMask = id.srcMask;
      f.idDstMask = id.dstMask;
      if (id.protoGiven) {
        f.proto = id.proto;
        f.protoMask = true;
      }
      if (id.spiGiven) {
        f.spi = id.spi;
        f.spiMask = true;
      }
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = f.family;
    }
    a.advance();
  }
  return { f, nokeys };
}

export interface CmdResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** do_xfrm_state(). */
export function doXfrmState(args: string[], x: Xfrm, ctx: IpContext, po: PrintOptions): CmdResult {
  const ok = (stdout = ''): CmdResult => ({ stdout, stderr: '', status: 0 });
  const list = (rest: string[], deleteall: boolean): CmdResult => {
    const { f, nokeys } = parseStateFilter(rest, ctx);
    const sel = x.sad.states.filter((sa) => filterMatch(f, sa));
    if (deleteall) {
      // xfrm_state_keep(): one DELSA per listed SA, sent as one batch; the
      // kernel processes them all, and one that cannot be found (a larval
      // SA without SPI) makes rtnl_send_check() fail the whole command.
      let missing = false;
      for (const sa of sel) {
        if (sa.proto === IPPROTO_IPIP || sa.proto === IPPROTO_IPV6) continue;
        const id = { family: sa.family, daddr: sa.daddr, spi: sa.spi, proto: sa.proto, saddr: sa.saddr, mark: sa.mark };
        if (x.findState(id)) x.deleteState(id);
        else missing = true;
      }
      if (missing) return { stdout: '', stderr: 'Failed to send delete-all request\n: No such process\n', status: 1 };
      return ok();
    }
    const o = { ...po, nokeys: po.nokeys || nokeys, preferredFamily: ctx.preferredFamily };
    return ok(sel.map((sa) => formatState(sa, o)).join(''));
  };
  if (args.length < 1) return list([], false);
  const [cmd, ...rest] = args as [string, ...string[]];
  if (matches(cmd, 'add')) {
    x.addState(parseStateModify(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'update')) {
    x.updateState(parseStateModify(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'allocspi')) {
    const sa = x.allocSpi(parseAllocSpi(rest, ctx));
    return ok(formatState(sa, { ...po, preferredFamily: ctx.preferredFamily }));
  }
  if (matches(cmd, 'delete')) {
    x.deleteState(parseStateId(rest, ctx));
    return ok();
  }
  if (matches(cmd, 'deleteall') || matches(cmd, 'delall')) return list(rest, true);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return list(rest, false);
  if (matches(cmd, 'get')) {
    const sa = x.getState(parseStateId(rest, ctx));
    return ok(formatState(sa, { ...po, preferredFamily: ctx.preferredFamily }));
  }
  if (matches(cmd, 'flush')) {
    const a = new Args(rest);
    let proto = 0;
    let seen = false;
    while (a.argc > 0) {
      if (a.cur === 'proto') {
        if (seen) duparg('proto', a.cur);
        seen = true;
        const v = a.next();
        const p = xfrmProtoByName(v);
        if (p < 0) invarg('XFRM-PROTO value is invalid', v);
        proto = p;
      } else invarg('unknown', a.cur);
      a.advance();
    }
    x.flushStates(proto);
    return ok();
  }
  if (matches(cmd, 'count')) return ok(formatSadInfo(x.sadInfo(), po.stats));
  if (matches(cmd, 'help')) throw new IpExit(STATE_USAGE, 255);
  return { stdout: '', stderr: `Command "${cmd}" is unknown, try "ip xfrm state help".\n`, status: 255 };
}

const STATE_USAGE =
  'Usage: ip xfrm state { add | update } ID [ ALGO-LIST ] [ mode MODE ]\n' +
  '        [ mark MARK [ mask MASK ] ] [ reqid REQID ] [ dir DIR ] [ seq SEQ ]\n' +
  '        [ replay-window SIZE ] [ replay-seq SEQ ] [ replay-oseq SEQ ]\n' +
  '        [ replay-seq-hi SEQ ] [ replay-oseq-hi SEQ ]\n' +
  '        [ flag FLAG-LIST ] [ sel SELECTOR ] [ LIMIT-LIST ] [ encap ENCAP ]\n' +
  '        [ coa ADDR[/PLEN] ] [ ctx CTX ] [ extra-flag EXTRA-FLAG-LIST ]\n' +
  '        [ output-mark OUTPUT-MARK [ mask MASK ] ]\n' +
  '        [ if_id IF_ID ] [ tfcpad LENGTH ] [ pcpu-num CPUNUM ]\n' +
  'Usage: ip xfrm state allocspi ID [ mode MODE ] [ mark MARK [ mask MASK ] ]\n' +
  '        [ reqid REQID ] [ dir DIR ] [ seq SEQ ] [ min SPI max SPI ] [ pcpu-num CPUNUM ]\n' +
  'Usage: ip xfrm state { delete | get } ID [ mark MARK [ mask MASK ] ]\n' +
  'Usage: ip xfrm state deleteall [ ID ] [ mode MODE ] [ reqid REQID ]\n' +
  '        [ flag FLAG-LIST ]\n' +
  'Usage: ip xfrm state list [ nokeys ] [ ID ] [ mode MODE ] [ reqid REQID ]\n' +
  '        [ flag FLAG-LIST ]\n' +
  'Usage: ip xfrm state flush [ proto XFRM-PROTO ]\n' +
  'Usage: ip xfrm state count\n';

