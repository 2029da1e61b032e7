/**
 * ESP around AGGFRAG payloads: what xfrm_output()/xfrm_input() do for an
 * IP-TFS state. The crypto, sequence numbers and replay window are the SA's
 * (src/xfrm/esp); only the framing differs from tunnel mode:
 *  - next header IPPROTO_AGGFRAG (144);
 *  - iptfs_encap_add_ipv4()/_ipv6(): the outer header takes nothing from
 *    the inner packets (there are 0, a fraction of, 1 or N of them): DSCP
 *    and ECN 0 (RFC 9347 §3.1 asks for ECN cleared), IPv4 DF always set,
 *    IPv6 flow label 0.
 * espOutput()/espInput() pick the next header from the inner packet, so
 * this module seals and opens the payload itself with `sa.crypto`.
 */
import { randomFillSync } from 'node:crypto';
import type { Packet } from '../../../packet/packet.js';
import { OPEN_BAD_ICV, OPEN_OK, writeU32 } from '../algorithms.js';
import { espLocate } from '../input.js';
import { IPPROTO_ESP, IPPROTO_UDP, put16, udp6Checksum, writeIpv4, writeIpv6 } from '../ip.js';
import { espDrop } from '../reasons.js';
import type { EspDrop } from '../reasons.js';
import { REPLAY_REJECT } from '../replay.js';
import type { EspSa } from '../sa.js';
import { IPPROTO_AGGFRAG } from './header.js';

/** IP_DF. */
const IP_DF = 0x4000;

export interface IptfsEspOutputOptions {
  /** Outer TTL / hop limit (ip4_dst_hoplimit()); default 64. */
  ttl?: number;
  /** Outer IPv4 identification (ip_select_ident()); default 0. */
  ipId?: number;
  /** Explicit IV (tests); default as espOutput: the sequence number for 8-byte IVs, random otherwise. */
  iv?: Uint8Array;
}

export type IptfsEspOutputResult = { readonly ok: true; readonly seq: number; readonly seqHi: number } | EspDrop;

/**
 * Encrypts the AGGFRAG payload at `pkt.head` with `sa` in place; the packet
 * becomes the outer IP packet. The SA must be a tunnel-mode EspSa (its
 * addresses are the outer ones).
 */
export function iptfsEspOutput(sa: EspSa, pkt: Packet, opts: IptfsEspOutputOptions = {}): IptfsEspOutputResult {
  if (sa.km !== 'valid') return espDrop('XfrmOutStateInvalid', `state is ${sa.km}`);
  if (sa.lifetimeCheck && sa.lifetimeCheck()) return espDrop('XfrmOutStateExpired', 'hard lifetime reached');
  if (!sa.replay.nextOutput()) return espDrop('XfrmOutStateSeqError', 'sequence number space exhausted');
  const seq = sa.replay.oseq;
  const seqHi = sa.replay.oseqHi;
  const crypto = sa.crypto;
  const plen = pkt.length;
  // esp_output(): pad to the cipher block size rounded up to 4 (RFC 4303 §2.4).
  const blksize = (crypto.blockSize + 3) & ~3;
  const clen = Math.ceil((plen + 2) / blksize) * blksize;
  const padlen = clen - plen - 2;
  let t = pkt.put(padlen + 2 + crypto.icvLen);
  const outerLen = sa.family === 4 ? 20 : 40;
  const udp = sa.encap ? 8 : 0;
  const front = outerLen + udp + 8 + crypto.ivLen;
  pkt.push(front);
  const b = pkt.buffer;
  const H = pkt.head;
  for (let i = 1; i <= padlen; i++) b[t++] = i;
  b[t++] = padlen;
  b[t++] = IPPROTO_AGGFRAG;
  const esp = H + outerLen + udp;
  writeU32(b, esp, sa.spi);
  writeU32(b, esp + 4, seq);
  const ivLen = crypto.ivLen;
  if (ivLen > 0) {
    if (opts.iv) b.set(opts.iv, esp + 8);
    else if (sa.ivSource) sa.ivSource(b, esp + 8, ivLen, seq, seqHi);
    else if (ivLen === 8) {
      writeU32(b, esp + 8, seqHi);
      writeU32(b, esp + 12, seq);
    } else randomFillSync(b, esp + 8, ivLen);
  }
  crypto.seal(b, esp, clen, sa.esn ? seqHi : -1);
  sa.curBytes += plen;
  sa.curPackets++;
  const total = pkt.length;
  const l4 = udp ? IPPROTO_UDP : IPPROTO_ESP;
  const ttl = opts.ttl ?? 64;
  if (sa.family === 4) writeIpv4(b, H, 0, total, opts.ipId ?? 0, IP_DF, ttl, l4, sa.saddr.bytes, sa.daddr.bytes);
  else writeIpv6(b, H, 0, 0, total - 40, l4, ttl, sa.saddr.bytes, sa.daddr.bytes);
  if (udp) {
    const u = H + outerLen;
    put16(b, u, sa.encap!.sport);
    put16(b, u + 2, sa.encap!.dport);
    put16(b, u + 4, total - outerLen);
    put16(b, u + 6, 0);
    if (sa.family === 6) put16(b, u + 6, udp6Checksum(b, H, u, total - outerLen));
  }
  pkt.networkHeader = H;
  pkt.transportHeader = H + outerLen;
  pkt.protocol = sa.family === 4 ? 0x0800 : 0x86dd;
  pkt.l4proto = l4;
  return { ok: true, seq, seqHi };
}

export interface IptfsEspInputOk {
  readonly ok: true;
  /** The decrypted AGGFRAG payload (a view into the packet's buffer). */
  readonly payload: Uint8Array;
  /** The 64-bit ESP sequence number (seqHi * 2^32 + seq), what the reorder window orders by. */
  readonly seq: number;
  /** The outer DS field (TOS / traffic class). */
  readonly outerTos: number;
}
export type IptfsEspInputResult = IptfsEspInputOk | EspDrop;

/**
 * xfrm_input() up to the mode's input for an IP-TFS state: SPI, replay
 * window before the ICV, ICV and decryption, trailer, window advance. A
 * next header other than AGGFRAG is XfrmInStateModeError.
 */
export function iptfsEspInput(sa: EspSa, pkt: Packet): IptfsEspInputResult {
  const loc = espLocate(pkt);
  if (loc.kind !== 'esp') return espDrop('XfrmInHdrError', 'not an ESP packet');
  if (loc.spi !== sa.spi) return espDrop('XfrmInNoStates', 'no state for this SPI');
  if (sa.km !== 'valid') return espDrop('XfrmInStateInvalid', `state is ${sa.km}`);
  if ((sa.encap !== null) !== (loc.udpOffset >= 0)) return espDrop('XfrmInStateMismatch', 'encapsulation differs from the SA');
  const hi = sa.replay.check(loc.seq);
  if (hi === REPLAY_REJECT) return espDrop('XfrmInStateSeqError', 'replayed or left of the replay window');
  if (sa.lifetimeCheck && sa.lifetimeCheck()) return espDrop('XfrmInStateExpired', 'hard lifetime reached');
  const crypto = sa.crypto;
  const b = pkt.buffer;
  const esp = pkt.head + loc.espOffset;
  const clen = pkt.tail - esp - 8 - crypto.ivLen - crypto.icvLen;
  if (clen < 2) return espDrop('XfrmInStateProtoError', 'ESP packet too short');
  const r = crypto.open(b, esp, clen, sa.esn ? hi : -1);
  if (r !== OPEN_OK) {
    if (r === OPEN_BAD_ICV) sa.integrityFailed++;
    return espDrop('XfrmInStateProtoError', r === OPEN_BAD_ICV ? 'ICV mismatch' : 'ciphertext is not a whole number of blocks');
  }
  const p = esp + 8 + crypto.ivLen;
  const padlen = b[p + clen - 2]!;
  const nexthdr = b[p + clen - 1]!;
  if (padlen + 2 >= clen) return espDrop('XfrmInStateProtoError', 'pad length exceeds the payload');
  if (nexthdr !== IPPROTO_AGGFRAG) return espDrop('XfrmInStateModeError', `IP-TFS payload with next header ${nexthdr}`);
  sa.replay.advance(loc.seq, hi);
  const plen = clen - padlen - 2;
  sa.curBytes += plen;
  sa.curPackets++;
  const H = pkt.head;
  const outerTos = loc.version === 4 ? b[H + 1]! : ((b[H]! & 0x0f) << 4) | (b[H + 1]! >>> 4);
  return { ok: true, payload: b.subarray(p, p + plen), seq: (sa.esn ? hi : 0) * 2 ** 32 + loc.seq, outerTos };
}
