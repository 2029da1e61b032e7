/**
 * ESP output (RFC 4303 §3.3; Linux xfrm_output_one() → the mode's
 * encap_add → esp_output()). The packet is transformed in place: the trailer
 * is put at the tail, the ESP header (and UDP and outer IP headers) pushed
 * into the headroom, the transport header moved forward, as skb_push() and
 * memmove() do in the kernel.
 */
import { randomFillSync } from 'node:crypto';
import type { Packet } from '../../packet/packet.js';
import { writeU32 } from './algorithms.js';
import { espDrop } from './reasons.js';
import type { EspDrop } from './reasons.js';
import type { EspSa } from './sa.js';
import type { GcmJob } from './gcm-batch.js';
import {
  IPPROTO_BEETPH, IPPROTO_ESP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE, IPPROTO_UDP, INET_ECN_MASK, IPV6_MIN_MTU,
  ecnEncapsulate, extract4, extract6, ipv4SendCheck, ipv6InsertionPoint, isFragment4, newModeCb, put16,
  udp6Checksum, writeIpv4, writeIpv6,
} from './ip.js';

export interface EspOutputOptions {
  /** The explicit IV for this packet (vectors, tests); else `sa.ivSource`, else the default. */
  iv?: Uint8Array;
  /** Outer TTL / hop limit in tunnel mode (ip4_dst_hoplimit() of the route); default 64. */
  ttl?: number;
  /** Outer IPv4 identification in tunnel mode (ip_select_ident()); default 0. */
  ipId?: number;
  /** Exactly this many TFC padding bytes (RFC 4303 §2.7), overriding `sa.tfcpad`. */
  tfcLen?: number;
  /** The route's MTU (dst->child_mtu_cached): TFC padding stops at `sa.mtu(mtu)`; default no cap. */
  mtu?: number;
  /** Send the packet's bytes as a dummy packet: next header 59 (RFC 4303 §2.6). */
  dummy?: boolean;
  /**
   * Send the packet's bytes, whatever they are, as the payload with this
   * ESP next header under a fresh outer header from the SA's addresses, as
   * a dummy packet is sent: IP-TFS sends AGGFRAG payloads (IPPROTO_AGGFRAG,
   * 144, RFC 9347 §3) this way. With 144 the outer IPv4 header has DF set,
   * as iptfs_encap_add_ipv4() does; DSCP, ECN and flow label are 0.
   */
  nextHeader?: number;
}

export interface EspOutputOk {
  readonly ok: true;
  /** The sequence number sent and its ESN high half (0 without ESN). */
  readonly seq: number;
  readonly seqHi: number;
  /** Offset of the ESP header in `packet.buffer`. */
  readonly espOffset: number;
}

export type EspOutputResult = EspOutputOk | EspDrop;

/** Outer header length of a family. */
const hdrLenOf = (v: 4 | 6): number => (v === 4 ? 20 : 40);
/** IPV4_BEET_PHMAXLEN (include/net/xfrm.h): the pseudo header with its largest padding. */
const IPV4_BEET_PHMAXLEN = 8;
/** IPOPT_NOP (RFC 791). */
const IPOPT_NOP = 1;
/** IPPROTO_AGGFRAG (RFC 9347 §6; include/uapi/linux/in.h) and IP_DF (RFC 791). */
const IPPROTO_AGGFRAG = 144;
const IP_DF = 0x4000;

const cb = newModeCb();

/** include/uapi/linux/xfrm.h, as sa.ts's XFRM_STATE_FLAGS and XFRM_SA_XFLAGS: tested per packet, so plain constants. */
const XFRM_STATE_NOECN = 1;
const XFRM_STATE_NOPMTUDISC = 4;
const XFRM_SA_XFLAG_DONT_ENCAP_DSCP = 1;

/**
 * Encapsulates `pkt` (an IP packet starting at `pkt.head`) with `sa`.
 * On success the packet is the ESP packet, outer IP header first; on a drop
 * the packet is left as it was (except the IV bytes of a partly built packet
 * never leak: nothing is written before all checks pass).
 */
export function espOutput(sa: EspSa, pkt: Packet, opts: EspOutputOptions = {}): EspOutputResult {
  return output(sa, pkt, opts, null);
}

/** Work `output` leaves for the batch: the sealing, and UDP checksums over IPv6 that cover the ciphertext. */
interface Deferred {
  maxLen: number;
  jobs: GcmJob[];
  udp6: { buf: Uint8Array; ip: number; udp: number; len: number }[];
}

/**
 * Encapsulates many packets with one SA. Same results as calling espOutput
 * on each in turn; where the SA's transform has a batch engine (EspCrypto.batch())
 * the whole batch is sealed at once, otherwise one packet at a time.
 */
export function espOutputBatch(sa: EspSa, pkts: readonly Packet[], opts: EspOutputOptions = {}): EspOutputResult[] {
  const engine = sa.crypto.batch();
  if (!engine || opts.iv) return pkts.map((p) => espOutput(sa, p, opts));
  const d: Deferred = { maxLen: engine.maxLen, jobs: [], udp6: [] };
  const results = pkts.map((p) => output(sa, p, opts, d));
  engine.seal(d.jobs);
  for (const u of d.udp6) put16(u.buf, u.udp + 6, udp6Checksum(u.buf, u.ip, u.udp, u.len));
  return results;
}

function output(sa: EspSa, pkt: Packet, opts: EspOutputOptions, deferred: Deferred | null): EspOutputResult {
  const b0 = pkt.buffer;
  const h0 = pkt.head;
  const len = pkt.length;
  // A dummy packet (RFC 4303 §2.6) carries arbitrary bytes under a fresh
  // outer header from the SA's addresses, whatever the mode.
  const opaque = opts.dummy || opts.nextHeader !== undefined;
  const mode = opaque ? 'tunnel' : sa.mode;
  let ver = 0;
  // What the mode removes in front of the payload, and the ESP next header.
  let oldHdr = 0;
  let nexthdr = IPPROTO_NONE;
  let nhOff = 6;
  if (opaque) {
    if (opts.nextHeader !== undefined) {
      if (!Number.isInteger(opts.nextHeader) || opts.nextHeader < 0 || opts.nextHeader > 255) throw new RangeError('nextHeader must be 0..255');
      nexthdr = opts.nextHeader;
    }
    cb.tos = 0;
    cb.fragOff = nexthdr === IPPROTO_AGGFRAG ? IP_DF : 0;
    cb.flowLabel = 0;
  } else {
    if (len < 1) return espDrop('XfrmOutStateModeError', 'empty packet');
    ver = b0[h0]! >>> 4;
    if (ver !== 4 && ver !== 6) return espDrop('XfrmOutStateModeError', `not an IP packet (version ${ver})`);
    if ((ver === 4 && len < 20) || (ver === 6 && len < 40)) return espDrop('XfrmOutStateModeError', 'truncated IP header');
    if (ver === 4) extract4(b0, h0, cb);
    else extract6(b0, h0, cb);
    if (ver === 4 && (cb.optlen < 0 || 20 + cb.optlen > len)) return espDrop('XfrmOutStateModeError', 'bad IPv4 header length');
    if (mode === 'transport') {
      if (ver !== sa.family) return espDrop('XfrmOutStateModeError', `IPv${ver} packet on an IPv${sa.family} transport-mode SA`);
      if (ver === 4) {
        oldHdr = (b0[h0]! & 0x0f) * 4;
        if (oldHdr < 20 || oldHdr > len) return espDrop('XfrmOutStateModeError', 'bad IPv4 header length');
        nexthdr = cb.protocol;
      } else {
        const ip = ipv6InsertionPoint(b0, h0, h0 + len);
        if (!ip) return espDrop('XfrmOutStateModeError', 'truncated IPv6 extension headers');
        oldHdr = ip.hdrLen;
        nhOff = ip.nhOff;
        nexthdr = b0[h0 + nhOff]!;
      }
    } else {
      if (sa.innerFamily && sa.innerFamily !== ver) return espDrop('XfrmOutStateModeError', `IPv${ver} packet on an SA for IPv${sa.innerFamily}`);
      if (mode === 'tunnel') {
        oldHdr = 0;
        nexthdr = ver === 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
      } else {
        // BEET (RFC 7402 §5): the inner header is dropped and rebuilt from the selector on input.
        if (ver === 4 && isFragment4(cb.fragOff)) return espDrop('XfrmOutStateModeError', "BEET mode doesn't support inner IPv4 fragments");
        oldHdr = cb.ihl;
        nexthdr = cb.protocol;
        if (cb.optlen) {
          // xfrm4_beet_encap_add(): IPv4 options travel behind a BEET pseudo
          // header (4 bytes + NOP padding to 8-byte alignment) that takes the
          // place of the tail of the fixed header; next header IPPROTO_BEETPH.
          oldHdr = 20 - (IPV4_BEET_PHMAXLEN - (cb.optlen & 4));
          nexthdr = IPPROTO_BEETPH;
        }
      }
    }
  }

  // xfrm_output_one(): state valid, not expired, a sequence number left.
  if (sa.km !== 'valid') return espDrop('XfrmOutStateInvalid', `state is ${sa.km}`);
  if (sa.lifetimeCheck && sa.lifetimeCheck()) return espDrop('XfrmOutStateExpired', 'hard lifetime reached');
  if (!sa.replay.nextOutput()) return espDrop('XfrmOutStateSeqError', 'sequence number space exhausted');
  const seq = sa.replay.oseq;
  const seqHi = sa.replay.oseqHi;

  const crypto = sa.crypto;
  const plen = len - oldHdr;
  // esp_output(): TFC padding up to tfcpad (capped by the MTU), then padding to the block size rounded to 4.
  let tfclen = 0;
  if (opts.tfcLen !== undefined) tfclen = opts.tfcLen;
  else if (sa.tfcpad) {
    const padto = Math.min(sa.tfcpad, opts.mtu === undefined ? Infinity : sa.mtu(opts.mtu));
    if (plen < padto) tfclen = padto - plen;
  }
  const blksize = (crypto.blockSize + 3) & ~3;
  const clen = Math.ceil((plen + 2 + tfclen) / blksize) * blksize;
  const padlen = clen - plen - tfclen - 2;
  const tailLen = tfclen + padlen + 2 + crypto.icvLen;

  // Transport mode checked ver === sa.family above, so the outer family is always the SA's.
  const outerVer = sa.family;
  const newHdr = mode === 'transport' ? oldHdr : hdrLenOf(outerVer);
  const udp = sa.encap ? 8 : 0;
  const front = newHdr + udp + 8 + crypto.ivLen;

  sa.curBytes += plen;
  sa.curPackets++;

  pkt.put(tailLen);
  const delta = front - oldHdr;
  if (delta >= 0) pkt.push(delta);
  else pkt.pull(-delta);
  const b = pkt.buffer;
  const H = pkt.head;
  const payload = H + front;
  const esp = H + newHdr + udp;

  // Trailer (RFC 4303 §2.4): TFC zeros, padding 1, 2, 3..., pad length, next header.
  let t = payload + plen;
  if (tfclen > 0) b.fill(0, t, t + tfclen);
  t += tfclen;
  for (let i = 1; i <= padlen; i++) b[t++] = i;
  b[t++] = padlen;
  b[t++] = nexthdr;

  // Headers in front. Transport keeps the original header (moved forward);
  // tunnel and BEET write a new one from the saved fields.
  if (mode === 'transport') {
    b.copyWithin(H, H + delta, H + delta + oldHdr);
  } else if (nexthdr === IPPROTO_BEETPH && mode === 'beet') {
    const padlen = 4 - (cb.optlen & 4);
    b[payload] = cb.protocol;
    b[payload + 1] = cb.optlen >>> 3;
    b[payload + 2] = padlen;
    b[payload + 3] = 0;
    b.fill(IPOPT_NOP, payload + 4, payload + 4 + padlen);
  }
  writeU32(b, esp, sa.spi);
  writeU32(b, esp + 4, seq);
  writeIv(sa, b, esp + 8, crypto.ivLen, seq, seqHi, opts.iv);
  if (deferred && clen <= deferred.maxLen) deferred.jobs.push({ buf: b, esp, clen, seqHi: sa.esn ? seqHi : -1 });
  else crypto.seal(b, esp, clen, sa.esn ? seqHi : -1);

  const total = pkt.length;
  const l4 = udp ? IPPROTO_UDP : IPPROTO_ESP;
  if (mode === 'transport') {
    if (ver === 4) {
      b[H + 9] = l4;
      put16(b, H + 2, total);
      ipv4SendCheck(b, H);
    } else {
      b[H + nhOff] = l4;
      put16(b, H + 4, total - 40);
    }
  } else if (mode === 'tunnel') {
    writeTunnelHeader(sa, b, H, total, ver, plen, l4, opts);
  } else if (outerVer === 4) {
    // xfrm4_beet_make_header(): the saved fields, the SA's outer addresses.
    writeIpv4(b, H, cb.tos, total, cb.id, cb.fragOff, cb.ttl, l4, sa.saddr.bytes, sa.daddr.bytes);
  } else {
    writeIpv6(b, H, cb.tos, cb.flowLabel, total - 40, l4, cb.ttl, sa.saddr.bytes, sa.daddr.bytes);
  }

  if (udp) {
    // RFC 3948 §2.1 (esp_output_udp_encap): checksum 0 over IPv4; IPv6 needs a real one (esp6 esp_output_encap_csum()).
    const u = H + newHdr;
    put16(b, u, sa.encap!.sport);
    put16(b, u + 2, sa.encap!.dport);
    put16(b, u + 4, total - newHdr);
    put16(b, u + 6, 0);
    if (outerVer === 6) {
      if (deferred) deferred.udp6.push({ buf: b, ip: H, udp: u, len: total - newHdr });
      else put16(b, u + 6, udp6Checksum(b, H, u, total - newHdr));
    }
  }

  pkt.networkHeader = H;
  pkt.transportHeader = H + newHdr;
  pkt.innerNetworkHeader = mode === 'tunnel' ? payload : -1;
  pkt.protocol = outerVer === 4 ? 0x0800 : 0x86dd;
  pkt.l4proto = l4;
  return { ok: true, seq, seqHi, espOffset: esp };
}

/**
 * xfrm4_tunnel_encap_add() / xfrm6_tunnel_encap_add(): the outer DSCP is the
 * inner one unless `dont-encap-dscp`; ECN per INET_ECN_encapsulate() unless
 * `noecn`; DF copied from the inner IPv4 header (IPv6 inside counts as DF,
 * except packets of at most IPV6_MIN_MTU) unless `nopmtudisc`; the IPv6 flow
 * label copied from an inner IPv6 header.
 */
function writeTunnelHeader(sa: EspSa, b: Uint8Array, H: number, total: number, innerVer: number, innerLen: number, l4: number, opts: EspOutputOptions): void {
  let ds = sa.extraFlags & XFRM_SA_XFLAG_DONT_ENCAP_DSCP ? 0 : cb.tos;
  ds = ecnEncapsulate(ds, cb.tos);
  if (sa.flags & XFRM_STATE_NOECN) ds &= ~INET_ECN_MASK;
  const ttl = opts.ttl ?? 64;
  if (sa.family === 4) {
    const smallV6 = innerVer === 6 && innerLen <= IPV6_MIN_MTU;
    const df = sa.flags & XFRM_STATE_NOPMTUDISC || smallV6 ? 0 : cb.fragOff & 0x4000;
    writeIpv4(b, H, ds, total, opts.ipId ?? 0, df, ttl, l4, sa.saddr.bytes, sa.daddr.bytes);
  } else {
    writeIpv6(b, H, ds, cb.flowLabel, total - 40, l4, ttl, sa.saddr.bytes, sa.daddr.bytes);
  }
}

/**
 * The explicit IV. Linux generates it itself: seqiv for the 8-byte IVs of
 * GCM/CCM/ChaCha20/CTR (the 64-bit sequence number, XORed with a per-key
 * random salt since Linux 4.2) and echainiv for CBC (unpredictable). nfx
 * sends the plain sequence number, which is unique per key as RFC 4106 §3
 * and RFC 7634 §2 require, and a random IV for CBC (RFC 3602 §3).
 */
function writeIv(sa: EspSa, b: Uint8Array, off: number, len: number, seq: number, seqHi: number, iv: Uint8Array | undefined): void {
  if (len === 0) return;
  if (iv) {
    if (iv.length !== len) throw new RangeError(`IV must be ${len} bytes`);
    b.set(iv, off);
  } else if (sa.ivSource) {
    sa.ivSource(b, off, len, seq, seqHi);
  } else if (len === 8) {
    writeU32(b, off, seqHi);
    writeU32(b, off + 4, seq);
  } else {
    randomFillSync(b, off, len);
  }
}
