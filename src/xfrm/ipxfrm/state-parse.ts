/**
 * Parsing of `ip xfrm state add|update|allocspi` (iproute2 ip/xfrm_state.c:
 * xfrm_state_modify, xfrm_state_allocspi, xfrm_algo_parse and the flag
 * parsers), producing the request the "kernel" (Xfrm) receives.
 */
import {
  AF_INET,
  AF_UNSPEC,
  IPPROTO_AH,
  IPPROTO_COMP,
  IPPROTO_ESP,
  XFRM_MODE_BEET,
  XFRM_MODE_IN_TRIGGER,
  XFRM_MODE_IPTFS,
  XFRM_MODE_ROUTEOPTIMIZATION,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_SA_DIR_IN,
  XFRM_SA_DIR_OUT,
  XFRM_SA_XFLAG_DONT_ENCAP_DSCP,
  XFRM_SA_XFLAG_OSEQ_MAY_WRAP,
  XFRM_STATE_AF_UNSPEC,
  XFRM_STATE_ALIGN4,
  XFRM_STATE_DECAP_DSCP,
  XFRM_STATE_ESN,
  XFRM_STATE_ICMP,
  XFRM_STATE_NOECN,
  XFRM_STATE_NOPMTUDISC,
  XFRM_STATE_WILDRECV,
  XFRMA_REPLAY_ESN_MAX,
  type Family,
} from '../constants.js';
import { XfrmError } from '../errors.js';
import { emptySelector } from '../selector.js';
import { infiniteLifetime, type SaConfig, type XfrmMark } from '../state.js';
import { IptfsConfigError, parseIptfsAttrsPrefix } from '../esp/iptfs/options.js';
import type { AllocSpiRequest } from '../xfrm.js';
import { Args, die, duparg, getU32, getU8, invarg, missarg, parseFlagWords } from './args.js';
import {
  getAddr,
  getPrefix,
  isIpsecProto,
  isRoProto,
  newXfrmId,
  parseEncapType,
  parseLimit,
  parseMark,
  parseMode,
  parseReqid,
  parseSelector,
  parseXfrmId,
  xfrmProtoName,
  type IpContext,
} from './parse.js';

/** Stands in for key material in error messages (our rule: no secrets in errors). */
const HIDDEN_KEY = '<<Keys hidden>>';
const XFRM_ALGO_KEY_BUF_SIZE = 512;

/** xfrm_algo_parse(): "0x"-prefixed hex (odd length padded with a leading 0) or raw bytes. */
function parseKey(key: string): Uint8Array {
  if (key.length > 2 && key.startsWith('0x')) {
    let p = key.slice(2);
    const len = (p.length + 1) >> 1;
    if (len > XFRM_ALGO_KEY_BUF_SIZE) invarg('ALGO-KEYMAT value makes buffer overflow\n', HIDDEN_KEY);
    if (p.length % 2) p = '0' + p;
    const out = new Uint8Array(len);
    for (let j = 0; j < len; j++) {
      const v = getU8(p.slice(2 * j, 2 * j + 2), 16);
      if (v === null) invarg('ALGO-KEYMAT value is invalid', HIDDEN_KEY);
      out[j] = v;
    }
    return out;
  }
  const b = new Uint8Array(Buffer.from(key, 'utf8'));
  if (b.length > XFRM_ALGO_KEY_BUF_SIZE) invarg('ALGO-KEYMAT value makes buffer overflow\n', HIDDEN_KEY);
  return b;
}

/** xfrm_state_flag_parse(): names until one is not a flag, or one 0x.. byte. */
const STATE_FLAGS: Readonly<Record<string, number>> = {
  noecn: XFRM_STATE_NOECN,
  'decap-dscp': XFRM_STATE_DECAP_DSCP,
  nopmtudisc: XFRM_STATE_NOPMTUDISC,
  wildrecv: XFRM_STATE_WILDRECV,
  icmp: XFRM_STATE_ICMP,
  'af-unspec': XFRM_STATE_AF_UNSPEC,
  align4: XFRM_STATE_ALIGN4,
  esn: XFRM_STATE_ESN,
};
export function parseStateFlags(a: Args, flags: number): number {
  return parseFlagWords(a, flags, STATE_FLAGS, (t) => getU8(t, 16), 'FLAG value is invalid');
}

/** xfrm_state_extra_flag_parse(): the same shape, a 32-bit hex value. */
const EXTRA_FLAGS: Readonly<Record<string, number>> = {
  'dont-encap-dscp': XFRM_SA_XFLAG_DONT_ENCAP_DSCP,
  'oseq-may-wrap': XFRM_SA_XFLAG_OSEQ_MAY_WRAP,
};
function parseExtraFlags(a: Args, flags: number): number {
  return parseFlagWords(a, flags, EXTRA_FLAGS, (t) => getU32(t, 16), '"EXTRA-FLAG" is invalid');
}

function parseSaDir(v: string): number {
  if (v === 'in') return XFRM_SA_DIR_IN;
  if (v === 'out') return XFRM_SA_DIR_OUT;
  return invarg('DIR value is not "in" or "out"', v);
}

type AlgoType = 'enc' | 'auth' | 'comp' | 'aead' | 'auth-trunc';
const ALGO_TYPES: AlgoType[] = ['enc', 'auth', 'comp', 'aead', 'auth-trunc'];

/** xfrm_state_modify(): the request `ip xfrm state add|update` sends. */
export function parseStateModify(args: string[], ctx: IpContext): SaConfig {
  const a = new Args(args);
  const cfg: SaConfig = {
    family: ctx.preferredFamily as Family,
    daddr: new Uint8Array(16),
    saddr: new Uint8Array(16),
    spi: 0,
    proto: 0,
    mode: 0,
    reqid: 0,
    flags: 0,
    replayWindow: 0,
    sel: emptySelector(),
    lft: infiniteLifetime(),
  };
  let replayWindow = 0;
  let seq = 0;
  let oseq = 0;
  let seqHi = 0;
  let oseqHi = 0;
  let idp = false;
  let aeadop = false;
  let ealgop = false;
  let aalgop = false;
  let calgop = false;
  let coap = false;
  let sctxp = false;
  let extraFlags = 0;
  let mark: XfrmMark = { v: 0, m: 0 };
  const outputMark: XfrmMark = { v: 0, m: 0 };
  let ifIdSet = false;
  let ifId = 0;
  let tfcpad = 0;
  let dir = 0;
  let pcpuNum = 0xffffffff;
  let offload = false;

  while (a.argc > 0) {
    const t = a.cur;
    if (t === 'mode') cfg.mode = parseMode(a.next());
    else if (t === 'mark') mark = parseMark(a);
    else if (t === 'reqid') cfg.reqid = parseReqid(a.next());
    else if (t === 'seq') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('SEQ value is invalid', v);
      cfg.seq = n;
    } else if (t === 'replay-window' || t === 'replay-seq' || t === 'replay-seq-hi' || t === 'replay-oseq' || t === 'replay-oseq-hi') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg(`value after "${t}" is invalid`, v);
      if (t === 'replay-window') replayWindow = n;
      else if (t === 'replay-seq') seq = n;
      else if (t === 'replay-seq-hi') seqHi = n;
      else if (t === 'replay-oseq') oseq = n;
      else oseqHi = n;
    } else if (t === 'flag') {
      a.next();
      cfg.flags = parseStateFlags(a, cfg.flags);
    } else if (t === 'extra-flag') {
      a.next();
      extraFlags = parseExtraFlags(a, extraFlags);
    } else if (t === 'sel') {
      a.next();
      ctx.preferredFamily = AF_UNSPEC;
      parseSelector(a, ctx, cfg.sel);
      ctx.preferredFamily = cfg.sel.family;
    } else if (t === 'limit') {
      a.next();
      parseLimit(a, cfg.lft);
    } else if (t === 'encap') {
      const type = parseEncapType(a.next());
      const sp = a.next();
      const sport = getU32(sp, 0);
      if (sport === null || sport > 0xffff) invarg('SPORT value after "encap" is invalid', sp);
      const dp = a.next();
      const dport = getU32(dp, 0);
      if (dport === null || dport > 0xffff) invarg('DPORT value after "encap" is invalid', dp);
      const oa = getAddr(a.next(), AF_UNSPEC);
      cfg.encap = { type, sport, dport, oa: oa.addr };
    } else if (t === 'coa') {
      if (coap) duparg('coa', t);
      coap = true;
      const v = a.next();
      const p = getPrefix(v, ctx.preferredFamily);
      if (p.family === AF_UNSPEC) invarg('value after "coa" has an unrecognized address family', v);
      cfg.coaddr = p.addr;
    } else if (t === 'ctx') {
      if (sctxp) duparg('ctx', t);
      sctxp = true;
      cfg.ctx = a.next();
    } else if (t === 'offload') {
      let v = a.next();
      if (v === 'crypto' || v === 'packet') v = a.next();
      if (v !== 'dev') invarg('Missing dev keyword', v);
      const dev = a.next();
      if (!ctx.ifIndex(dev)) invarg('Invalid device name', dev);
      const d = a.next();
      if (d !== 'dir') invarg('Missing DIR keyword', d);
      dir = parseSaDir(a.next());
      offload = true;
    } else if (t === 'output-mark') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('value after "output-mark" is invalid', v);
      outputMark.v = n;
      if (a.argc > 1) {
        a.next();
        if (a.cur === 'mask') {
          const mv = a.next();
          const m = getU32(mv, 0);
          if (m === null) invarg('mask value is invalid\n', mv);
          outputMark.m = m;
        } else a.prev();
      }
    } else if (t === 'if_id') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('value after "if_id" is invalid', v);
      ifId = n;
      ifIdSet = true;
    } else if (t === 'tfcpad') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('value after "tfcpad" is invalid', v);
      tfcpad = n;
    } else if (t === 'dir') {
      dir = parseSaDir(a.next());
    } else if (t === 'iptfs-opts') {
      // IP-TFS options (iproute2's IP-TFS support): option words until one is not.
      try {
        const r = parseIptfsAttrsPrefix(a.argv.slice(a.i + 1));
        cfg.iptfs = { ...cfg.iptfs, ...r.attrs };
        a.i += r.consumed;
      } catch (e) {
        if (e instanceof IptfsConfigError) invarg('IPTFS-OPTS value is invalid', e.message.match(/"([^"]*)"/)?.[1] ?? t);
        throw e;
      }
    } else if (t === 'pcpu-num') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('value after "pcpu-num" is invalid', v);
      pcpuNum = n;
    } else if ((ALGO_TYPES as string[]).includes(t)) {
      const type = t as AlgoType;
      if (type === 'aead') {
        if (ealgop || aalgop || aeadop) duparg('ALGO-TYPE', t);
        aeadop = true;
      } else if (type === 'enc') {
        if (ealgop || aeadop) duparg('ALGO-TYPE', t);
        ealgop = true;
      } else if (type === 'auth' || type === 'auth-trunc') {
        if (aalgop || aeadop) duparg('ALGO-TYPE', t);
        aalgop = true;
      } else {
        if (calgop) duparg('ALGO-TYPE', t);
        calgop = true;
      }
      if (!a.nextOk()) missarg('ALGO-NAME');
      const name = a.next();
      let key = '';
      if (type !== 'comp') {
        if (!a.nextOk()) missarg('ALGO-KEYMAT');
        key = a.next();
      }
      let extra = 0;
      if (type === 'aead' || type === 'auth-trunc') {
        const what = type === 'aead' ? 'ALGO-ICV-LEN' : 'ALGO-TRUNC-LEN';
        if (!a.nextOk()) missarg(what);
        const v = a.next();
        const n = getU32(v, 0);
        if (n === null) invarg(`${what} value is invalid`, v);
        extra = n;
      }
      const k = parseKey(key);
      if (type === 'aead') cfg.aead = { name, key: k, icvBits: extra };
      else if (type === 'auth-trunc') cfg.authTrunc = { name, key: k, truncBits: extra };
      else if (type === 'auth') cfg.auth = { name, key: k };
      else if (type === 'enc') cfg.enc = { name, key: k };
      else cfg.comp = { name };
    } else {
      if (idp) invarg('unknown', t);
      idp = true;
      const id = newXfrmId(cfg.family);
      parseXfrmId(a, ctx, false, id);
      cfg.family = id.family as Family;
      cfg.saddr = id.saddr;
      cfg.daddr = id.daddr;
      cfg.proto = id.proto;
      cfg.spi = id.spi;
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = cfg.family;
    }
    a.advance();
  }

  if (cfg.flags & XFRM_STATE_ESN && replayWindow === 0 && dir !== XFRM_SA_DIR_OUT)
    die('Error: esn flag set without replay-window.\n', 255);
  if (replayWindow > XFRMA_REPLAY_ESN_MAX)
    die(`Error: replay-window (${replayWindow}) > XFRMA_REPLAY_ESN_MAX (${XFRMA_REPLAY_ESN_MAX}).\n`, 255);
  if (cfg.flags & XFRM_STATE_ESN || replayWindow > 32) {
    const bmpLen = Math.ceil(replayWindow / 32);
    cfg.replayEsn = { replayWindow, bmpLen, seq, seqHi, oseq, oseqHi, bmp: new Array<number>(bmpLen).fill(0) };
  } else {
    if (seq || oseq) cfg.replay = { seq, oseq, bitmap: 0 };
    cfg.replayWindow = replayWindow;
  }
  if (extraFlags) cfg.extraFlags = extraFlags;
  if (!idp) die('Not enough information: ID is required\n', 1);
  if (mark.m) cfg.mark = mark;
  if (ifIdSet) cfg.ifId = ifId;
  if (tfcpad) cfg.tfcpad = tfcpad;

  const pname = xfrmProtoName(cfg.proto);
  if (isIpsecProto(cfg.proto)) {
    const modeOk =
      cfg.mode === XFRM_MODE_TRANSPORT ||
      cfg.mode === XFRM_MODE_TUNNEL ||
      (cfg.mode === XFRM_MODE_BEET && cfg.proto === IPPROTO_ESP) ||
      (cfg.mode === XFRM_MODE_IPTFS && cfg.proto === IPPROTO_ESP);
    if (!modeOk) die(`MODE value is invalid with XFRM-PROTO value "${pname}"\n`, 1);
    if (cfg.proto === IPPROTO_ESP) {
      if (calgop) die(`ALGO-TYPE value "comp" is invalid with XFRM-PROTO value "${pname}"\n`, 1);
      if (!ealgop && !aeadop) die(`ALGO-TYPE value "enc" or "aead" is required with XFRM-PROTO value "${pname}"\n`, 1);
    } else if (cfg.proto === IPPROTO_AH) {
      if (ealgop || aeadop || calgop)
        die(`ALGO-TYPE values "enc", "aead", and "comp" are invalid with XFRM-PROTO value "${pname}"\n`, 1);
      if (!aalgop) die(`ALGO-TYPE value "auth" or "auth-trunc" is required with XFRM-PROTO value "${pname}"\n`, 1);
    } else if (cfg.proto === IPPROTO_COMP) {
      if (ealgop || aalgop || aeadop)
        die(`ALGO-TYPE values "enc", "auth", "auth-trunc", and "aead" are invalid with XFRM-PROTO value "${pname}"\n`, 1);
      if (!calgop) die(`ALGO-TYPE value "comp" is required with XFRM-PROTO value "${pname}"\n`, 1);
    }
  } else if (ealgop || aalgop || aeadop || calgop) {
    die(`ALGO is invalid with XFRM-PROTO value "${pname}"\n`, 1);
  }
  if (isRoProto(cfg.proto)) {
    if (cfg.mode === 0) die(`"mode" is required with XFRM-PROTO value "${pname}"\n`, 1);
    if (cfg.mode !== XFRM_MODE_ROUTEOPTIMIZATION && cfg.mode !== XFRM_MODE_IN_TRIGGER)
      die(`MODE value is invalid with XFRM-PROTO value "${pname}"\n`, 1);
    if (!coap) die(`"coa" is required with XFRM-PROTO value "${pname}"\n`, 1);
  } else if (coap) {
    die(`"coa" is invalid with XFRM-PROTO value "${pname}"\n`, 1);
  }
  // XFRMA_SET_MARK only when the value is non-zero; the kernel defaults the mask.
  if (outputMark.v) cfg.smark = { v: outputMark.v, m: outputMark.m || 0xffffffff };
  if (dir) cfg.dir = dir;
  if (pcpuNum !== 0xffffffff) cfg.pcpuNum = pcpuNum;
  if ((cfg.family as number) === AF_UNSPEC) cfg.family = AF_INET;
  if (offload) throw new XfrmError('EOPNOTSUPP');
  return cfg;
}

/** xfrm_state_allocspi(): ID [ mode MODE ] [ mark ... ] [ reqid REQID ] [ dir DIR ] [ seq SEQ ] [ min SPI max SPI ]. */
export function parseAllocSpi(args: string[], ctx: IpContext): AllocSpiRequest {
  const a = new Args(args);
  let idp = false;
  let minp = false;
  let maxp = false;
  let min = 0;
  let max = 0;
  let mode = 0;
  let reqid = 0;
  let seq = 0;
  let dir = 0;
  let pcpuNum = 0xffffffff;
  let mark: XfrmMark = { v: 0, m: 0 };
  let id = newXfrmId(ctx.preferredFamily);
  while (a.argc > 0) {
    const t = a.cur;
    if (t === 'mode') mode = parseMode(a.next());
    else if (t === 'mark') mark = parseMark(a);
    else if (t === 'reqid') reqid = parseReqid(a.next());
    else if (t === 'seq') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('SEQ value is invalid', v);
      seq = n;
    } else if (t === 'min' || t === 'max') {
      if (t === 'min' ? minp : maxp) duparg(t, t);
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg(`value after "${t}" is invalid`, v);
      if (t === 'min') {
        minp = true;
        min = n;
      } else {
        maxp = true;
        max = n;
      }
    } else if (t === 'dir') dir = parseSaDir(a.next());
    else if (t === 'pcpu-num') {
      const v = a.next();
      const n = getU32(v, 0);
      if (n === null) invarg('value after "pcpu-num" is invalid', v);
      pcpuNum = n;
    } else {
      if (idp) invarg('unknown', t);
      idp = true;
      id = newXfrmId(id.family);
      parseXfrmId(a, ctx, false, id);
      if (id.spi) die('"spi" is invalid\n', 1);
      if (ctx.preferredFamily === AF_UNSPEC) ctx.preferredFamily = id.family;
    }
    a.advance();
  }
  if (!idp) die('Not enough information: ID is required\n', 1);
  if (minp) {
    if (!maxp) die('"max" is missing\n', 1);
    if (min > max) die('value after "min" is larger than value after "max"\n', 1);
  } else {
    if (maxp) die('"min" is missing\n', 1);
    // iproute2's defaults, after PF_KEY's pfkey_getspi(); IPComp SPIs are 16 bits.
    min = 0x100;
    max = id.proto === IPPROTO_COMP ? 0xffff : 0x0fffffff;
  }
  const req: AllocSpiRequest = {
    family: (id.family || AF_INET) as Family,
    daddr: id.daddr,
    saddr: id.saddr,
    proto: id.proto,
    mode,
    reqid,
    seq,
    min,
    max,
  };
  if (mark.m & mark.v) req.mark = mark;
  if (dir) req.dir = dir;
  if (pcpuNum !== 0xffffffff) req.pcpuNum = pcpuNum;
  return req;
}

