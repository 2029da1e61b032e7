/**
 * Security associations (struct xfrm_state) and how one is built from a user
 * request: verify_newsa_info() and xfrm_state_construct() of
 * net/xfrm/xfrm_user.c, __xfrm_init_state() of net/xfrm/xfrm_state.c,
 * esp_init_state() of net/ipv4/esp4.c and xfrm_init_replay() of
 * net/xfrm/xfrm_replay.c — same checks, same order, same extack texts.
 *
 * The SA holds algorithm names and keys; the ESP engine (src/xfrm/esp/)
 * consumes them. Replay state lives here as plain numbers so it serialises
 * and prints (`anti-replay context`); the ESP engine reads and advances it.
 */
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IPPROTO_AH,
  IPPROTO_COMP,
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_ROUTING,
  XFRM_INF,
  XFRM_MODE_BEET,
  XFRM_MODE_IPTFS,
  XFRM_MODE_ROUTEOPTIMIZATION,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_SA_DIR_IN,
  XFRM_SA_DIR_OUT,
  XFRM_SA_XFLAG_DONT_ENCAP_DSCP,
  XFRM_STATE_AF_UNSPEC,
  XFRM_STATE_DECAP_DSCP,
  XFRM_STATE_ESN,
  XFRM_STATE_ICMP,
  XFRM_STATE_NOPMTUDISC,
  XFRMA_REPLAY_ESN_MAX,
  type Family,
} from './constants.js';
import { findAlgorithm, keyLengthOk } from './algorithms.js';
import { XfrmError } from './errors.js';
import { cloneSelector, type XfrmSelector } from './selector.js';
import type { XfrmAddress } from './addr.js';
import { defaultIptfsOptions } from './esp/iptfs/options.js';
import type { IptfsAttrs, IptfsOptions } from './esp/iptfs/options.js';

export const UINT32_MAX = 0xffffffff;

/** struct xfrm_lifetime_cfg: limits are u64 (XFRM_INF = Infinity), times in seconds (0 = none). */
export interface XfrmLifetimeCfg {
  softByteLimit: number;
  hardByteLimit: number;
  softPacketLimit: number;
  hardPacketLimit: number;
  softAddExpiresSeconds: number;
  hardAddExpiresSeconds: number;
  softUseExpiresSeconds: number;
  hardUseExpiresSeconds: number;
}

/** struct xfrm_lifetime_cur: times in seconds since the epoch (0 = never). */
export interface XfrmLifetimeCur {
  bytes: number;
  packets: number;
  addTime: number;
  useTime: number;
}

export function infiniteLifetime(): XfrmLifetimeCfg {
  return {
    softByteLimit: XFRM_INF,
    hardByteLimit: XFRM_INF,
    softPacketLimit: XFRM_INF,
    hardPacketLimit: XFRM_INF,
    softAddExpiresSeconds: 0,
    hardAddExpiresSeconds: 0,
    softUseExpiresSeconds: 0,
    hardUseExpiresSeconds: 0,
  };
}

export interface XfrmMark {
  v: number;
  m: number;
}

/** struct xfrm_replay_state (legacy, window <= 32). */
export interface XfrmReplayLegacy {
  seq: number;
  oseq: number;
  bitmap: number;
}

/** struct xfrm_replay_state_esn: windows up to 4096 and/or 64-bit sequence numbers. */
export interface XfrmReplayEsn {
  replayWindow: number;
  bmpLen: number;
  seq: number;
  seqHi: number;
  oseq: number;
  oseqHi: number;
  /** bmp_len u32 words. */
  bmp: number[];
}

export interface XfrmAead {
  name: string;
  key: Uint8Array;
  icvBits: number;
}
export interface XfrmAuth {
  name: string;
  key: Uint8Array;
  truncBits: number;
}
export interface XfrmCipher {
  name: string;
  key: Uint8Array;
}

/** struct xfrm_encap_tmpl: ports in host order; oa = original address (NAT-OA). */
export interface XfrmEncap {
  type: number;
  sport: number;
  dport: number;
  oa: XfrmAddress;
}

/** km.state of struct xfrm_state. */
export type XfrmKmState = 'void' | 'acq' | 'valid' | 'error' | 'expired' | 'dead';

export interface XfrmSA {
  // struct xfrm_id + props
  family: Family;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  /** Host order. */
  spi: number;
  proto: number;
  mode: number;
  reqid: number;
  flags: number;
  extraFlags: number;
  /** props.replay_window: the legacy window, min(user value, 32). */
  replayWindow: number;
  replay: XfrmReplayLegacy;
  /** Present when the SA uses the ESN replay structure (flag esn, or a window > 32). */
  replayEsn: XfrmReplayEsn | null;
  aead: XfrmAead | null;
  auth: XfrmAuth | null;
  enc: XfrmCipher | null;
  comp: { name: string } | null;
  encap: XfrmEncap | null;
  coaddr: XfrmAddress | null;
  sel: XfrmSelector;
  lft: XfrmLifetimeCfg;
  curlft: XfrmLifetimeCur;
  /** struct xfrm_stats: replay_window (out of window), replay, integrity_failed. */
  stats: { replayWindow: number; replay: number; integrityFailed: number };
  mark: XfrmMark;
  /** Output mark (XFRMA_SET_MARK / XFRMA_SET_MARK_MASK). */
  smark: XfrmMark;
  ifId: number;
  tfcpad: number;
  /** 0 (none), XFRM_SA_DIR_IN or XFRM_SA_DIR_OUT. */
  dir: number;
  /** UINT32_MAX when the SA is not per-CPU. */
  pcpuNum: number;
  ctx: string | null;
  /** km.seq: the acquire sequence this SA answers. */
  seq: number;
  kmState: XfrmKmState;
  /** km.dying: soft-expired, still usable. */
  dying: boolean;
  /** mode iptfs: the SA's IP-TFS configuration (struct xfrm_iptfs_config), defaults filled in. */
  iptfs?: IptfsOptions;
  /** Seconds; 0 = never used. */
  lastused: number;
  /** Set while the soft add-expire timer is pending (xflags XFRM_SOFT_EXPIRE). */
  softExpirePending: boolean;
}

/**
 * The user's request for a new SA: struct xfrm_usersa_info plus its netlink
 * attributes, as `ip xfrm state add` builds them. Library users may fill it
 * directly. Unset optional attributes are "not sent".
 */
export interface SaConfig {
  family: Family;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  spi: number;
  proto: number;
  mode: number;
  reqid: number;
  flags: number;
  /** xsinfo.replay_window (iproute2 leaves it 0 when it sends the ESN structure). */
  replayWindow: number;
  sel: XfrmSelector;
  lft: XfrmLifetimeCfg;
  seq?: number;
  extraFlags?: number;
  replay?: XfrmReplayLegacy;
  replayEsn?: XfrmReplayEsn;
  aead?: XfrmAead;
  authTrunc?: XfrmAuth;
  /** Plain `auth`: the kernel picks the truncation (icv_truncbits). */
  auth?: { name: string; key: Uint8Array };
  enc?: XfrmCipher;
  comp?: { name: string };
  encap?: XfrmEncap;
  coaddr?: XfrmAddress;
  mark?: XfrmMark;
  smark?: XfrmMark;
  ifId?: number;
  tfcpad?: number;
  dir?: number;
  pcpuNum?: number;
  ctx?: string;
  /** The XFRMA_IPTFS_* attributes sent (`iptfs-opts`): only the options given. */
  iptfs?: IptfsAttrs;
}

function fail(msg: string, errno: 'EINVAL' = 'EINVAL'): never {
  throw new XfrmError(errno, msg);
}

/** verify_replay() of xfrm_user.c. */
function verifyReplay(p: SaConfig, saDir: number): void {
  const rs = p.replayEsn;
  if (!rs) {
    if (p.flags & XFRM_STATE_ESN) fail('Missing required attribute for ESN');
    return;
  }
  if (rs.bmpLen > XFRMA_REPLAY_ESN_MAX / 4 / 8) fail('ESN bitmap length must be <= 128');
  if (p.proto !== IPPROTO_ESP && p.proto !== IPPROTO_AH) fail('ESN only supported for ESP and AH');
  if (p.replayWindow !== 0) fail('ESN not compatible with legacy replay_window');
  const esn = (p.flags & XFRM_STATE_ESN) !== 0;
  if (saDir === XFRM_SA_DIR_OUT) {
    if (rs.replayWindow) fail('Replay window should be 0 for output SA');
    if (rs.seq || rs.seqHi) fail('Replay seq and seq_hi should be 0 for output SA');
    if (!esn) {
      if (rs.oseqHi) fail('Replay oseq_hi should be 0 in non-ESN mode for output SA');
      if (rs.oseq === UINT32_MAX)
        fail('Replay oseq should be less than 0xFFFFFFFF in non-ESN mode for output SA');
    } else if (rs.oseq === UINT32_MAX && rs.oseqHi === UINT32_MAX) {
      fail('Replay oseq and oseq_hi should be less than 0xFFFFFFFF for output SA');
    }
    if (rs.bmpLen) fail('Replay bmp_len should 0 for output SA');
  }
  if (saDir === XFRM_SA_DIR_IN) {
    if (rs.oseq || rs.oseqHi) fail('Replay oseq and oseq_hi should be 0 for input SA');
    if (!esn) {
      if (rs.seqHi) fail('Replay seq_hi should be 0 in non-ESN mode for input SA');
      if (rs.seq === UINT32_MAX) fail('Replay seq should be less than 0xFFFFFFFF in non-ESN mode for input SA');
    } else if (rs.seq === UINT32_MAX && rs.seqHi === UINT32_MAX) {
      fail('Replay seq and seq_hi should be less than 0xFFFFFFFF for input SA');
    }
  }
}

/** verify_newsa_info() of net/xfrm/xfrm_user.c (Linux 6.x, with SA direction). */
export function verifyNewSa(p: SaConfig): void {
  const saDir = p.dir ?? 0;
  if (p.family !== AF_INET && p.family !== AF_INET6) fail('Invalid address family');
  switch (p.sel.family) {
    case AF_UNSPEC:
      break;
    case AF_INET:
      if (p.sel.prefixlenD > 32 || p.sel.prefixlenS > 32)
        fail('Invalid prefix length in selector (must be <= 32 for IPv4)');
      break;
    case AF_INET6:
      if (p.sel.prefixlenD > 128 || p.sel.prefixlenS > 128)
        fail('Invalid prefix length in selector (must be <= 128 for IPv6)');
      break;
    default:
      fail('Invalid address family in selector');
  }
  const hasAuth = p.auth !== undefined || p.authTrunc !== undefined;
  switch (p.proto) {
    case IPPROTO_AH:
      if (!hasAuth) fail('Missing required attribute for AH: AUTH_TRUNC or AUTH');
      if (p.aead || p.enc || p.comp || p.tfcpad !== undefined)
        fail('Invalid attributes for AH: AEAD, CRYPT, COMP, TFCPAD');
      break;
    case IPPROTO_ESP:
      if (p.comp) fail('Invalid attribute for ESP: COMP');
      if (!hasAuth && !p.enc && !p.aead)
        fail('Missing required attribute for ESP: at least one of AUTH, AUTH_TRUNC, CRYPT, AEAD');
      if ((hasAuth || p.enc) && p.aead)
        fail("Invalid attribute combination for ESP: AEAD can't be used with AUTH, AUTH_TRUNC, CRYPT");
      if (p.tfcpad !== undefined && p.mode !== XFRM_MODE_TUNNEL) fail('TFC padding can only be used in tunnel mode');
      if (p.iptfs && Object.keys(p.iptfs).length > 0 && p.mode !== XFRM_MODE_IPTFS)
        fail('IP-TFS options can only be used in IP-TFS mode');
      break;
    case IPPROTO_COMP:
      if (!p.comp) fail('Missing required attribute for COMP: COMP');
      if (p.aead || hasAuth || p.enc || p.tfcpad !== undefined)
        fail('Invalid attributes for COMP: AEAD, AUTH, AUTH_TRUNC, CRYPT, TFCPAD');
      if (p.spi >= 0x10000) fail('SPI is too large for COMP (must be < 0x10000)');
      break;
    case IPPROTO_DSTOPTS:
    case IPPROTO_ROUTING:
      if (p.comp || hasAuth || p.aead || p.enc || p.encap || p.ctx !== undefined || p.tfcpad !== undefined)
        fail('Invalid attributes for DSTOPTS/ROUTING');
      if (!p.coaddr) fail('Missing required COADDR attribute for DSTOPTS/ROUTING');
      break;
    default:
      fail('Unsupported protocol');
  }
  verifyReplay(p, saDir);
  switch (p.mode) {
    case XFRM_MODE_TRANSPORT:
    case XFRM_MODE_TUNNEL:
    case XFRM_MODE_ROUTEOPTIMIZATION:
    case XFRM_MODE_BEET:
      break;
    case XFRM_MODE_IPTFS:
      if (p.proto !== IPPROTO_ESP) fail('IP-TFS mode only supported with ESP');
      if (saDir === 0) fail('IP-TFS mode requires in or out direction attribute');
      break;
    default:
      fail('Unsupported mode');
  }
  if (saDir === XFRM_SA_DIR_OUT) {
    if (p.flags & XFRM_STATE_DECAP_DSCP) fail('Flag NDECAP_DSCP should not be set for output SA');
    if (p.flags & XFRM_STATE_ICMP) fail('Flag ICMP should not be set for output SA');
    if (p.replayWindow) fail('Replay window should be 0 for output SA');
    // The receive-side IP-TFS options belong to an input SA.
    if (p.iptfs?.dropTimeUs !== undefined) fail('IP-TFS drop time should not be set for output SA');
    if (p.iptfs?.reorderWindow !== undefined) fail('IP-TFS reorder window should not be set for output SA');
    if (p.replay && (p.replay.seq || p.replay.bitmap)) fail('Replay seq and bitmap should be 0 for output SA');
  }
  if (saDir === XFRM_SA_DIR_IN) {
    if (p.flags & XFRM_STATE_NOPMTUDISC) fail('Flag NOPMTUDISC should not be set for input SA');
    if ((p.extraFlags ?? 0) & XFRM_SA_XFLAG_DONT_ENCAP_DSCP)
      fail('Flag DONT_ENCAP_DSCP should not be set for input SA');
    // The send-side IP-TFS options belong to an output SA.
    if (p.iptfs?.dontFrag) fail("IP-TFS don't fragment should not be set for input SA");
    if (p.iptfs?.initDelayUs !== undefined) fail('IP-TFS initial delay should not be set for input SA');
    if (p.iptfs?.maxQueueSize !== undefined) fail('IP-TFS max queue size should not be set for input SA');
    if (p.iptfs?.pktSize !== undefined) fail('IP-TFS packet size should not be set for input SA');
    // nfx's own extensions (docs/iptfs.md), checked the same way.
    if (p.iptfs?.nfxRate !== undefined || p.iptfs?.nfxCc) fail('nfx: IP-TFS nfx-rate and nfx-cc belong to an output SA');
  }
  if (p.iptfs?.nfxCc && p.iptfs.nfxRate === undefined) fail('nfx: IP-TFS nfx-cc needs nfx-rate (the highest rate)');
}

export interface ConstructOptions {
  /** num_possible_cpus(): pcpu-num must be below it. */
  possibleCpus: number;
  now: number; // seconds
}

/**
 * xfrm_state_construct() + __xfrm_init_state() + esp_init_state()/ah_init_state()
 * + xfrm_init_replay(): builds the SA or throws the kernel's error.
 */
export function constructSa(p: SaConfig, o: ConstructOptions): XfrmSA {
  let aead: XfrmAead | null = null;
  let auth: XfrmAuth | null = null;
  let enc: XfrmCipher | null = null;
  let comp: { name: string } | null = null;
  if (p.aead) {
    // attach_aead: xfrm_aead_get_byname(name, icv_len) — the ICV length is part of the lookup.
    const d = findAlgorithm('aead', p.aead.name, p.aead.icvBits);
    if (!d) throw new XfrmError('ENOSYS', 'Requested AEAD algorithm not found');
    aead = { name: d.name, key: p.aead.key.slice(), icvBits: p.aead.icvBits };
  }
  if (p.authTrunc) {
    const d = findAlgorithm('auth', p.authTrunc.name);
    if (!d) throw new XfrmError('ENOSYS', 'Requested AUTH_TRUNC algorithm not found');
    if (p.authTrunc.truncBits > d.icvFullBits) fail('Invalid length requested for truncated ICV');
    auth = { name: d.name, key: p.authTrunc.key.slice(), truncBits: p.authTrunc.truncBits || d.icvTruncBits };
  } else if (p.auth) {
    // attach_auth: plain `auth` always gets the algorithm's default truncation
    // (96 bits for hmac(sha256), RFC 2404/4868 history), not the full digest.
    const d = findAlgorithm('auth', p.auth.name);
    if (!d) throw new XfrmError('ENOSYS', 'Requested AUTH algorithm not found');
    auth = { name: d.name, key: p.auth.key.slice(), truncBits: d.icvTruncBits };
  }
  if (p.enc) {
    const d = findAlgorithm('enc', p.enc.name);
    if (!d) throw new XfrmError('ENOSYS', 'Requested CRYPT algorithm not found');
    enc = { name: d.name, key: p.enc.key.slice() };
  }
  if (p.comp) {
    const d = findAlgorithm('comp', p.comp.name);
    if (!d) throw new XfrmError('ENOSYS', 'Requested COMP algorithm not found');
    comp = { name: d.name };
  }
  const pcpuNum = p.pcpuNum ?? UINT32_MAX;
  if (pcpuNum !== UINT32_MAX && pcpuNum >= o.possibleCpus) throw new XfrmError('ERANGE', 'pCPU number too big');

  // copy_from_user_state: the selector takes the SA's family unless af-unspec.
  const sel = cloneSelector(p.sel);
  if (sel.family === AF_UNSPEC && !(p.flags & XFRM_STATE_AF_UNSPEC)) sel.family = p.family;

  // __xfrm_init_state: inner mode must exist for the selector family, and only
  // tunnel-like modes may change family.
  if (sel.family !== AF_UNSPEC) {
    const tunnelLike = p.mode === XFRM_MODE_TUNNEL || p.mode === XFRM_MODE_BEET || p.mode === XFRM_MODE_IPTFS;
    if (p.mode === XFRM_MODE_ROUTEOPTIMIZATION && sel.family !== AF_INET6)
      throw new XfrmError('EPROTONOSUPPORT', 'Requested mode not found');
    if (!tunnelLike && p.family !== sel.family)
      throw new XfrmError('EPROTONOSUPPORT', 'Only tunnel modes can accommodate a change of family');
  }
  if ((p.proto === IPPROTO_ROUTING || p.proto === IPPROTO_DSTOPTS) && p.family !== AF_INET6)
    throw new XfrmError('EPROTONOSUPPORT', 'Requested type not found');

  // type->init_state
  if (p.proto === IPPROTO_ESP) {
    if (aead) {
      // esp_init_aead: setkey/setauthsize failures all carry this message.
      const d = findAlgorithm('aead', aead.name, aead.icvBits)!;
      if (!keyLengthOk(d, aead.key.length))
        fail('Kernel was unable to initialize cryptographic operations');
    } else if (enc) {
      // esp_init_authenc: a key the cipher or MAC rejects fails in
      // crypto_aead_setkey() with no extack message.
      const ed = findAlgorithm('enc', enc.name)!;
      if (!keyLengthOk(ed, enc.key.length)) throw new XfrmError('EINVAL');
      if (auth) {
        const ad = findAlgorithm('auth', auth.name)!;
        if (!keyLengthOk(ad, auth.key.length)) throw new XfrmError('EINVAL');
      }
    } else {
      fail('ESP: AEAD or CRYPT must be provided');
    }
  } else if (p.proto === IPPROTO_AH) {
    if (!auth) fail('AH requires a state with an AUTH algorithm');
    if (p.encap) fail('AH is not compatible with encapsulation');
  } else if (p.proto === IPPROTO_COMP) {
    if (p.encap) fail('IPComp is not compatible with encapsulation');
  }

  // xfrm_init_replay
  const rs = p.replayEsn;
  if (rs) {
    if (rs.replayWindow > rs.bmpLen * 32) fail('ESN replay window is too large for the chosen bitmap size');
    if (p.flags & XFRM_STATE_ESN && rs.replayWindow === 0 && (!p.dir || p.dir === XFRM_SA_DIR_IN))
      fail('ESN replay window must be > 0');
  }

  // iptfs_user_init(), after esp_init_state() set x->props.header_len.
  let iptfs: IptfsOptions | undefined;
  if (p.mode === XFRM_MODE_IPTFS) {
    iptfs = { ...defaultIptfsOptions(), ...p.iptfs };
    if (iptfs.pktSize !== 0 && iptfs.pktSize <= iptfsHeaderLen(p))
      fail('Packet size must be 0 or greater than IPTFS/ESP header length');
  }

  const sa: XfrmSA = {
    family: p.family,
    daddr: p.daddr.slice(),
    saddr: p.saddr.slice(),
    spi: p.spi >>> 0,
    proto: p.proto,
    mode: p.mode,
    reqid: p.reqid >>> 0,
    flags: p.flags,
    extraFlags: p.extraFlags ?? 0,
    replayWindow: Math.min(p.replayWindow, 32),
    replay: p.replay ? { ...p.replay } : { seq: 0, oseq: 0, bitmap: 0 },
    replayEsn: rs
      ? { ...rs, bmp: rs.bmp.length === rs.bmpLen ? rs.bmp.slice() : new Array<number>(rs.bmpLen).fill(0) }
      : null,
    aead,
    auth,
    enc,
    comp,
    encap: p.encap ? { ...p.encap, oa: p.encap.oa.slice() } : null,
    coaddr: p.coaddr ? p.coaddr.slice() : null,
    sel,
    lft: { ...p.lft },
    curlft: { bytes: 0, packets: 0, addTime: o.now, useTime: 0 },
    stats: { replayWindow: 0, replay: 0, integrityFailed: 0 },
    mark: p.mark ? { ...p.mark } : { v: 0, m: 0 },
    smark: p.smark ? { ...p.smark } : { v: 0, m: 0 },
    ifId: p.ifId ?? 0,
    tfcpad: p.tfcpad ?? 0,
    dir: p.dir ?? 0,
    pcpuNum,
    // No security module: the context is accepted and not kept (security_xfrm_state_alloc).
    ctx: null,
    seq: p.seq ?? 0,
    kmState: 'valid',
    dying: false,
    lastused: 0,
    softExpirePending: false,
  };
  if (iptfs) sa.iptfs = iptfs;
  return sa;
}

/** crypto_aead_ivsize() of the ESP transforms (esp_init_aead / esp_init_authenc). */
function espIvLen(p: SaConfig): number {
  if (p.aead) return 8; // rfc4106, rfc4309, rfc4543, rfc7539esp: 8-byte explicit IV
  const e = p.enc ? findAlgorithm('enc', p.enc.name)?.name : undefined;
  if (e === 'cbc(aes)') return 16;
  if (e === 'ecb(cipher_null)' || e === undefined) return 0;
  return 8; // cbc(des3_ede), rfc3686(ctr(aes))
}

/**
 * x->props.header_len of an IP-TFS state: esp_init_state()'s ESP header + IV,
 * the outer IP header (tunnel-like modes), the UDP header of `encap`, and
 * __iptfs_init_state()'s 4-byte basic header.
 */
export function iptfsHeaderLen(p: SaConfig): number {
  return (p.family === AF_INET6 ? 40 : 20) + (p.encap ? 8 : 0) + 8 + espIvLen(p) + 4;
}

/** The replay window the data path should enforce (0 = no replay protection). */
export function replayWindowSize(sa: XfrmSA): number {
  return sa.replayEsn ? sa.replayEsn.replayWindow : sa.replayWindow;
}

/** A larval SA for an acquire (xfrm_init_tempstate). */
export function larvalSa(init: {
  family: Family;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  spi: number;
  proto: number;
  mode: number;
  reqid: number;
  sel: XfrmSelector;
  mark: XfrmMark;
  ifId: number;
  now: number;
  acqExpires: number;
}): XfrmSA {
  const lft = infiniteLifetime();
  lft.hardAddExpiresSeconds = init.acqExpires;
  return {
    family: init.family,
    daddr: init.daddr.slice(),
    saddr: init.saddr.slice(),
    spi: init.spi,
    proto: init.proto,
    mode: init.mode,
    reqid: init.reqid,
    flags: 0,
    extraFlags: 0,
    replayWindow: 0,
    replay: { seq: 0, oseq: 0, bitmap: 0 },
    replayEsn: null,
    aead: null,
    auth: null,
    enc: null,
    comp: null,
    encap: null,
    coaddr: null,
    sel: cloneSelector(init.sel),
    lft,
    curlft: { bytes: 0, packets: 0, addTime: init.now, useTime: 0 },
    stats: { replayWindow: 0, replay: 0, integrityFailed: 0 },
    mark: { ...init.mark },
    smark: { v: 0, m: 0 },
    ifId: init.ifId,
    tfcpad: 0,
    dir: XFRM_SA_DIR_OUT,
    pcpuNum: UINT32_MAX,
    ctx: null,
    seq: 0,
    kmState: 'acq',
    dying: false,
    lastused: 0,
    softExpirePending: false,
  };
}

