/**
 * The ESP half of an xfrm state (struct xfrm_state): what ESP output and
 * input need to transform a packet. The SAD (src/xfrm) owns lookup,
 * lifetimes and `ip xfrm` syntax and wraps one EspSa per ESP state.
 */
import { createEspCrypto, EspConfigError, type EspCryptoBackendChoice } from './algorithms.js';
import type { AeadSpec, AuthSpec, EncSpec, EspCrypto } from './algorithms.js';
import { ReplayWindow } from './replay.js';

export type XfrmMode = 'transport' | 'tunnel' | 'beet';
export type IpVersion = 4 | 6;

/** `flag` words of `ip xfrm state` (XFRM_STATE_* in uapi/linux/xfrm.h). */
export type XfrmStateFlag = 'noecn' | 'decap-dscp' | 'nopmtudisc' | 'wildrecv' | 'icmp' | 'af-unspec' | 'align4' | 'esn';
export const XFRM_STATE_FLAGS: Record<XfrmStateFlag, number> = {
  noecn: 1,
  'decap-dscp': 2,
  nopmtudisc: 4,
  wildrecv: 8,
  icmp: 16,
  'af-unspec': 32,
  // Used by AH only (net/ipv4/ah4.c): accepted on ESP states, no effect.
  align4: 64,
  esn: 128,
};
/** `extra-flag` words (XFRM_SA_XFLAG_*). */
export type XfrmExtraFlag = 'dont-encap-dscp' | 'oseq-may-wrap';
export const XFRM_SA_XFLAGS: Record<XfrmExtraFlag, number> = { 'dont-encap-dscp': 1, 'oseq-may-wrap': 2 };

/** `encap espinudp SPORT DPORT OADDR` (RFC 3948; UDP_ENCAP_ESPINUDP). */
export interface EspEncapConfig {
  sport: number;
  dport: number;
  /** Original address for NAT-T transport-mode checksum fix-ups; informational. */
  oa?: string;
}

export interface EspSaConfig {
  spi: number;
  /** Outer source and destination (x->props.saddr, x->id.daddr); their family is the outer family. */
  saddr: string;
  daddr: string;
  mode: XfrmMode;
  reqid?: number;
  aead?: AeadSpec;
  enc?: EncSpec;
  auth?: AuthSpec;
  flags?: readonly XfrmStateFlag[];
  extraFlags?: readonly XfrmExtraFlag[];
  replayWindow?: number;
  replaySeq?: number;
  replaySeqHi?: number;
  replayOseq?: number;
  replayOseqHi?: number;
  /** tfcpad: pad the payload up to this length (Linux x->tfcpad, RFC 4303 §2.7). */
  tfcpad?: number;
  encap?: EspEncapConfig;
  /**
   * The selector's addresses (x->sel). BEET needs them: the inner addresses
   * restored on input. For tunnel mode `sel.family` fixes the inner family
   * (absent = any, chosen by the next header as with `flag af-unspec`).
   */
  sel?: { saddr: string; daddr: string };
  /**
   * nfx extension: also check the padding bytes are 1, 2, 3... (RFC 4303
   * §2.4 lets the receiver check them). Linux does not (esp_remove_trailer
   * only checks the pad length fits), and neither does nfx by default.
   */
  strictPadCheck?: boolean;
  /** Which crypto backend seals and opens (default: `NFX_CRYPTO`, else the OpenSSL FFI when it loads, else node:crypto). */
  cryptoBackend?: EspCryptoBackendChoice;
}

/** The key manager's view of the state (x->km.state). */
export type XfrmKmState = 'valid' | 'acquire' | 'expired' | 'dead';

/** Where explicit IVs come from; tests inject fixed IVs. */
export interface IvSource {
  /** Writes `len` IV bytes at `off`; `seqHi`:`seq` is the packet's sequence number. */
  (buf: Uint8Array, off: number, len: number, seq: number, seqHi: number): void;
}

/** An address in network byte order with its family. */
export interface IpAddr {
  version: IpVersion;
  bytes: Uint8Array;
  text: string;
}

export function parseIp(text: string): IpAddr {
  const v4 = parseIpv4(text);
  if (v4) return { version: 4, bytes: v4, text };
  const v6 = parseIpv6(text);
  if (v6) return { version: 6, bytes: v6, text };
  throw new EspConfigError(`invalid address "${text}"`);
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | null {
  if (!s.includes(':')) return null;
  let tail4: Uint8Array | null = null;
  let str = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = parseIpv4(s.slice(lastColon + 1));
    if (!tail4) return null;
    str = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = str.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

export class EspSa {
  readonly spi: number;
  readonly mode: XfrmMode;
  readonly reqid: number;
  /** Outer family (x->props.family). */
  readonly family: IpVersion;
  readonly saddr: IpAddr;
  readonly daddr: IpAddr;
  /** Inner family fixed by the selector, or 0 when any (tunnel/BEET choose by next header). */
  readonly innerFamily: 0 | IpVersion;
  readonly sel: { saddr: IpAddr; daddr: IpAddr } | null;
  readonly crypto: EspCrypto;
  readonly flags: number;
  readonly extraFlags: number;
  readonly esn: boolean;
  readonly replay: ReplayWindow;
  readonly encap: EspEncapConfig | null;
  readonly strictPadCheck: boolean;
  tfcpad: number;
  km: XfrmKmState = 'valid';
  /** x->stats.integrity_failed. (replay and replay_window live in `replay`.) */
  integrityFailed = 0;
  /** x->curlft: bytes and packets processed. */
  curBytes = 0;
  curPackets = 0;
  /**
   * Set by the SAD: returns true when a hard lifetime is reached with this
   * packet (xfrm_state_check_expire()); counted as XfrmIn/OutStateExpired.
   */
  lifetimeCheck: (() => boolean) | null = null;
  /** Explicit IV generator; null = the default (seqiv-style for 8-byte IVs, random for CBC). */
  ivSource: IvSource | null = null;

  constructor(cfg: EspSaConfig) {
    if (!Number.isInteger(cfg.spi) || cfg.spi < 0 || cfg.spi > 0xffffffff) throw new EspConfigError('SPI must be a 32-bit number');
    // RFC 4303 §2.1: SPIs 1..255 are reserved by IANA and 0 is local-only; Linux accepts them, so nfx does too.
    this.spi = cfg.spi >>> 0;
    this.mode = cfg.mode;
    this.reqid = cfg.reqid ?? 0;
    this.saddr = parseIp(cfg.saddr);
    this.daddr = parseIp(cfg.daddr);
    if (this.saddr.version !== this.daddr.version) throw new EspConfigError('source and destination address families differ');
    this.family = this.saddr.version;
    this.crypto = createEspCrypto(cfg);
    let flags = 0;
    for (const f of cfg.flags ?? []) {
      const bit = XFRM_STATE_FLAGS[f];
      if (bit === undefined) throw new EspConfigError(`unknown flag "${f}"`);
      flags |= bit;
    }
    let xflags = 0;
    for (const f of cfg.extraFlags ?? []) {
      const bit = XFRM_SA_XFLAGS[f];
      if (bit === undefined) throw new EspConfigError(`unknown extra-flag "${f}"`);
      xflags |= bit;
    }
    this.flags = flags;
    this.extraFlags = xflags;
    this.esn = (flags & XFRM_STATE_FLAGS.esn) !== 0;
    this.replay = new ReplayWindow({
      window: cfg.replayWindow ?? 0,
      esn: this.esn,
      oseqMayWrap: (xflags & XFRM_SA_XFLAGS['oseq-may-wrap']) !== 0,
      seq: cfg.replaySeq ?? 0,
      seqHi: cfg.replaySeqHi ?? 0,
      oseq: cfg.replayOseq ?? 0,
      oseqHi: cfg.replayOseqHi ?? 0,
    });
    this.encap = cfg.encap ?? null;
    if (this.encap && (!isPort(this.encap.sport) || !isPort(this.encap.dport))) throw new EspConfigError('encap ports must be 0..65535');
    this.sel = cfg.sel ? { saddr: parseIp(cfg.sel.saddr), daddr: parseIp(cfg.sel.daddr) } : null;
    if (this.sel && this.sel.saddr.version !== this.sel.daddr.version) throw new EspConfigError('selector address families differ');
    this.innerFamily = this.mode === 'transport' ? this.family : this.sel && !(flags & XFRM_STATE_FLAGS['af-unspec']) ? this.sel.saddr.version : 0;
    if (this.mode === 'beet' && !this.sel) throw new EspConfigError('BEET mode needs a selector (the inner addresses)');
    if (this.mode === 'transport' && this.sel && this.sel.saddr.version !== this.family) {
      // __xfrm_init_state() refuses the same combination with this message.
      throw new EspConfigError('Only tunnel modes can accommodate a change of family');
    }
    this.tfcpad = cfg.tfcpad ?? 0;
    this.strictPadCheck = cfg.strictPadCheck ?? false;
  }

  hasFlag(f: XfrmStateFlag): boolean {
    return (this.flags & XFRM_STATE_FLAGS[f]) !== 0;
  }

  /**
   * x->props.header_len (esp_init_state(), esp6_init_state()): the bytes ESP
   * output puts in front of the payload: ESP header and IV, the outer header
   * in tunnel mode, room for the BEET pseudo header, the UDP header.
   */
  get headerLen(): number {
    let n = 8 + this.crypto.ivLen;
    if (this.mode === 'tunnel') n += this.family === 4 ? 20 : 40;
    else if (this.mode === 'beet' && this.sel && this.sel.saddr.version !== 6) n += this.family === 4 ? 8 : 8 + 20;
    if (this.encap) n += 8;
    return n;
  }

  /** x->props.trailer_len: the most ESP output appends (padding, pad length, next header, ICV). */
  get trailerLen(): number {
    return ((this.crypto.blockSize + 3) & ~3) + 1 + this.crypto.icvLen;
  }

  /**
   * xfrm_state_mtu(): the largest packet this SA can take so that its ESP
   * packet fits in `mtu` — for PMTU, and the cap on TFC padding.
   */
  mtu(mtu: number): number {
    const blksize = (this.crypto.blockSize + 3) & ~3;
    const netAdj = this.mode === 'tunnel' ? 0 : this.family === 4 ? 20 : 40;
    return ((mtu - this.headerLen - this.crypto.icvLen - netAdj) & ~(blksize - 1)) + netAdj - 2;
  }

  hasExtraFlag(f: XfrmExtraFlag): boolean {
    return (this.extraFlags & XFRM_SA_XFLAGS[f]) !== 0;
  }
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

export function createEspSa(cfg: EspSaConfig): EspSa {
  return new EspSa(cfg);
}
