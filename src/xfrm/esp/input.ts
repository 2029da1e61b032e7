/**
 * ESP input (RFC 4303 §3.4; Linux xfrm_input() → esp_input() →
 * esp_input_done2() → the mode's input). The packet is decapsulated in
 * place: on success it holds the inner packet (tunnel) or the original
 * packet with its protocol restored (transport, BEET), IP header first.
 *
 * Order of checks, as xfrm_input(): state valid → encapsulation matches →
 * replay window (before the ICV) → lifetime → ICV and decryption → trailer →
 * window advance (only now) → mode decapsulation.
 */
import type { Packet } from '../../packet/packet.js';
import { OPEN_BAD_ICV, OPEN_OK, readU32 } from './algorithms.js';
import { espDrop } from './reasons.js';
import type { EspDrop } from './reasons.js';
import { REPLAY_REJECT } from './replay.js';
import type { EspSa, IpVersion } from './sa.js';
import type { GcmJob } from './gcm-batch.js';
import {
  INET_ECN_CE, INET_ECN_MASK, INET_ECN_NOT_ECT, IPPROTO_BEETPH, IPPROTO_ESP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE,
  IPPROTO_UDP, extract4, extract6, ipv4SendCheck, ipv6UpperLayer, newModeCb, put16, setTclass6, tclass6, u16,
  writeIpv4, writeIpv6,
} from './ip.js';

/** What arrived: ESP (raw or in UDP), an IKE message behind the non-ESP marker, a NAT keepalive, or something else. */
export type EspArrival = 'esp' | 'ike' | 'keepalive' | 'not-esp' | 'truncated';

export interface EspLocation {
  kind: EspArrival;
  version: IpVersion;
  /** Offset of the ESP header from `packet.head` (after the UDP header when encapsulated). */
  espOffset: number;
  /** Offset of the UDP header from `packet.head`, -1 for raw ESP. */
  udpOffset: number;
  /** Offset of the destination address from `packet.head` (the SA lookup key with the SPI). */
  daddrOffset: number;
  spi: number;
  seq: number;
}

/**
 * Finds the ESP header in an IP packet starting at `pkt.head`, classifying
 * UDP port-4500 payloads as xfrm4_udp_encap_rcv() does (RFC 3948 §2.2, §2.3):
 * a single 0xFF byte is a NAT keepalive, four zero bytes (the non-ESP marker)
 * start an IKE message, anything else is ESP. The caller decides whether the
 * UDP port is an encapsulation socket; this only looks at the bytes.
 */
export function espLocate(pkt: Packet): EspLocation {
  const b = pkt.buffer;
  const h = pkt.head;
  const end = pkt.tail;
  const loc: EspLocation = { kind: 'truncated', version: 4, espOffset: -1, udpOffset: -1, daddrOffset: -1, spi: 0, seq: 0 };
  if (end - h < 1) return loc;
  const ver = b[h]! >>> 4;
  let off: number;
  let proto: number;
  if (ver === 4) {
    if (end - h < 20) return loc;
    off = (b[h]! & 0x0f) * 4;
    proto = b[h + 9]!;
    loc.daddrOffset = 16;
    if (off < 20 || h + off > end) return loc;
  } else if (ver === 6) {
    loc.version = 6;
    if (end - h < 40) return loc;
    const ul = ipv6UpperLayer(b, h, end);
    if (!ul) return loc;
    off = ul.off;
    proto = ul.proto;
    loc.daddrOffset = 24;
  } else {
    loc.kind = 'not-esp';
    return loc;
  }
  if (proto === IPPROTO_UDP) {
    loc.udpOffset = off;
    off += 8;
    if (h + off > end) return loc;
    const plen = end - h - off;
    if (plen === 1 && b[h + off] === 0xff) {
      loc.kind = 'keepalive';
      return loc;
    }
    if (plen >= 4 && readU32(b, h + off) === 0) {
      loc.kind = 'ike';
      return loc;
    }
  } else if (proto !== IPPROTO_ESP) {
    loc.kind = 'not-esp';
    return loc;
  }
  // xfrm_parse_spi(): the SPI and sequence number must be there.
  if (h + off + 8 > end) return loc;
  loc.kind = 'esp';
  loc.espOffset = off;
  loc.spi = readU32(b, h + off);
  loc.seq = readU32(b, h + off + 4);
  return loc;
}

export interface EspInputOk {
  readonly ok: true;
  readonly kind: 'esp';
  /** The ESP next header: 4/41 for tunnel, the transport protocol otherwise. */
  readonly nextHeader: number;
  readonly seq: number;
  readonly seqHi: number;
  /** The decapsulated packet's IP version. */
  readonly innerVersion: IpVersion;
  /**
   * NAT-T: the peer's address or port differs from the SA's (esp_input_done2()
   * → km_new_mapping()); the SAD raises XFRM_MSG_MAPPING with these.
   */
  readonly mapping: { saddr: Uint8Array; sport: number } | null;
  /** NAT-T transport mode: the inner checksums cannot be trusted and are not checked (CHECKSUM_UNNECESSARY). */
  readonly checksumUnnecessary: boolean;
}

/** The packet is not ESP for an SA: IKE for the IKE socket, or a keepalive the socket consumes. */
export interface EspInputNotEsp {
  readonly ok: true;
  readonly kind: 'ike' | 'keepalive';
}

export type EspInputResult = EspInputOk | EspInputNotEsp | EspDrop;

const cb = newModeCb();

/** include/uapi/linux/xfrm.h, as sa.ts's XFRM_STATE_FLAGS: tested per packet, so plain constants. */
const XFRM_STATE_NOECN = 1;
const XFRM_STATE_DECAP_DSCP = 2;

/** Decapsulates `pkt` (an IP packet at `pkt.head`) with `sa`, which the caller found by (daddr, SPI, proto). */
export function espInput(sa: EspSa, pkt: Packet): EspInputResult {
  const st = prepare(sa, pkt);
  if (!isPending(st)) return st;
  return finish(sa, pkt, st, sa.crypto.open(pkt.buffer, st.esp, st.clen, sa.esn ? st.hi : -1), false);
}

/**
 * Decapsulates many packets of one SA; the same results as espInput on each
 * in turn, the batch opened at once where the SA's transform has a batch
 * engine (EspCrypto.batch()). As in Linux's asynchronous crypto path, every packet passes the
 * replay window before the batch is decrypted and again (xfrm_replay_recheck)
 * before the window advances, so a duplicate inside one batch is still a replay.
 */
export function espInputBatch(sa: EspSa, pkts: readonly Packet[]): EspInputResult[] {
  const engine = sa.crypto.batch();
  if (!engine) return pkts.map((p) => espInput(sa, p));
  const states = pkts.map((p) => prepare(sa, p));
  const jobs: GcmJob[] = [];
  const index: number[] = [];
  states.forEach((st, i) => {
    if (isPending(st) && st.clen <= engine.maxLen) {
      jobs.push({ buf: pkts[i]!.buffer, esp: st.esp, clen: st.clen, seqHi: sa.esn ? st.hi : -1 });
      index.push(i);
    }
  });
  const ok = engine.open(jobs);
  const results = states as (EspInputResult | Pending)[];
  let k = 0;
  results.forEach((st, i) => {
    if (!isPending(st)) return;
    if (index[k] === i) {
      results[i] = finish(sa, pkts[i]!, st, ok[k++] ? OPEN_OK : OPEN_BAD_ICV, true);
    } else {
      const r = sa.crypto.open(pkts[i]!.buffer, st.esp, st.clen, sa.esn ? st.hi : -1);
      results[i] = finish(sa, pkts[i]!, st, r, true);
    }
  });
  return results as EspInputResult[];
}

/** A packet that passed the checks before the ICV. */
interface Pending {
  readonly pending: true;
  readonly loc: EspLocation;
  readonly hi: number;
  readonly esp: number;
  readonly clen: number;
}

function isPending(x: EspInputResult | Pending): x is Pending {
  return (x as Pending).pending === true;
}

/** xfrm_input() up to the crypto: state, encapsulation, replay window, lifetime, lengths. */
function prepare(sa: EspSa, pkt: Packet): EspInputResult | Pending {
  const loc = espLocate(pkt);
  if (loc.kind === 'ike' || loc.kind === 'keepalive') return loc.kind === 'ike' ? IKE : KEEPALIVE;
  if (loc.kind !== 'esp') return espDrop('XfrmInHdrError', loc.kind === 'truncated' ? 'truncated before the ESP header' : 'not an ESP packet');
  if (loc.spi !== sa.spi) return espDrop('XfrmInNoStates', 'no state for this SPI');
  if (sa.km !== 'valid') {
    return sa.km === 'acquire' ? espDrop('XfrmAcquireError', 'state is still being negotiated') : espDrop('XfrmInStateInvalid', `state is ${sa.km}`);
  }
  if ((sa.encap !== null) !== (loc.udpOffset >= 0)) return espDrop('XfrmInStateMismatch', sa.encap ? 'raw ESP on a UDP-encapsulated SA' : 'UDP-encapsulated ESP on a raw ESP SA');

  // RFC 4303 §3.4.3: the window before the ICV...
  const hi = sa.replay.check(loc.seq);
  if (hi === REPLAY_REJECT) return espDrop('XfrmInStateSeqError', 'replayed or left of the replay window');
  if (sa.lifetimeCheck && sa.lifetimeCheck()) return espDrop('XfrmInStateExpired', 'hard lifetime reached');

  const crypto = sa.crypto;
  const esp = pkt.head + loc.espOffset;
  const espLen = pkt.tail - esp;
  const clen = espLen - 8 - crypto.ivLen - crypto.icvLen;
  // esp_input(): elen = len - header - IV must be positive; the AEAD needs room for its ICV.
  if (espLen - 8 - crypto.ivLen <= 0 || clen < 0) return espDrop('XfrmInStateProtoError', 'ESP packet too short');
  return { pending: true, loc, hi, esp, clen };
}

/** esp_input_done2() and the rest of xfrm_input(): ICV verdict, trailer, window advance, mode input. */
function finish(sa: EspSa, pkt: Packet, st: Pending, r: number, recheck: boolean): EspInputResult {
  const { loc, hi, esp, clen } = st;
  const b = pkt.buffer;
  const H = pkt.head;
  const seq = loc.seq;
  if (r !== OPEN_OK) {
    if (r === OPEN_BAD_ICV) {
      sa.integrityFailed++;
      return espDrop('XfrmInStateProtoError', 'ICV mismatch');
    }
    return espDrop('XfrmInStateProtoError', 'ciphertext is not a whole number of blocks');
  }
  const p = esp + 8 + sa.crypto.ivLen;
  // esp_remove_trailer(): only the pad length is checked against the data length.
  const padlen = b[p + clen - 2]!;
  const nexthdr = b[p + clen - 1]!;
  if (padlen + 2 >= clen) return espDrop('XfrmInStateProtoError', 'pad length exceeds the payload');
  const plen = clen - padlen - 2;
  if (sa.strictPadCheck) {
    for (let i = 0; i < padlen; i++) if (b[p + plen + i] !== i + 1) return espDrop('XfrmInStateProtoError', 'padding bytes are not 1, 2, 3...');
  }
  // esp_input_done2(): "RFC4303: Drop dummy packets without any error" — as
  // -EINVAL, so Linux counts them as XfrmInStateProtoError and does not
  // advance the window.
  if (nexthdr === IPPROTO_NONE) return espDrop('XfrmInStateProtoError', 'dummy packet (next header 59)');

  // ...and advanced only after it verified (re-checked first when batched, as xfrm_replay_recheck()).
  if (recheck && sa.replay.check(seq) !== hi) return espDrop('XfrmInStateSeqError', 'replayed within the batch');
  sa.replay.advance(seq, hi);
  sa.curBytes += plen;
  sa.curPackets++;

  let mapping: EspInputOk['mapping'] = null;
  if (sa.encap) {
    const ver = loc.version;
    const sOff = H + (ver === 4 ? 12 : 8);
    const alen = ver === 4 ? 4 : 16;
    const sport = u16(b, H + loc.udpOffset);
    let same = sport === sa.encap.sport && sa.saddr.version === ver;
    for (let i = 0; same && i < alen; i++) same = b[sOff + i] === sa.saddr.bytes[i];
    if (!same) mapping = { saddr: b.slice(sOff, sOff + alen), sport };
  }

  const modeErr = decapsulate(sa, pkt, loc, p, plen, nexthdr);
  if (modeErr) return modeErr;

  const sp = pkt.meta.secpath ?? (pkt.meta.secpath = []);
  sp.push({ spi: sa.spi, reqid: sa.reqid, saddr: sa.saddr.text, daddr: sa.daddr.text, family: sa.family === 4 ? 2 : 10, mode: sa.mode });
  return {
    ok: true,
    kind: 'esp',
    nextHeader: nexthdr,
    seq,
    seqHi: sa.esn ? hi : 0,
    innerVersion: (pkt.buffer[pkt.head]! >>> 4) as IpVersion,
    mapping,
    checksumUnnecessary: sa.encap !== null && sa.mode === 'transport',
  };
}

const IKE: EspInputNotEsp = Object.freeze({ ok: true as const, kind: 'ike' as const });
const KEEPALIVE: EspInputNotEsp = Object.freeze({ ok: true as const, kind: 'keepalive' as const });

/** The mode's input: restore the packet around the decrypted payload at [p, p + plen). */
function decapsulate(sa: EspSa, pkt: Packet, loc: EspLocation, p: number, plen: number, nexthdr: number): EspDrop | null {
  // p, plen and nexthdr move past a BEET pseudo header below.
  const b = pkt.buffer;
  const H = pkt.head;
  const outerVer = loc.version;
  if (sa.mode === 'transport') {
    // xfrm4_transport_input()/xfrm4_transport_finish(): the header moves up
    // to the payload (over the UDP header too), takes the next header.
    const hdr = loc.udpOffset >= 0 ? loc.udpOffset : loc.espOffset;
    const nh = p - hdr;
    let nhOff = 9;
    if (outerVer === 6) {
      const ul = ipv6UpperLayer(b, H, H + hdr + 1);
      nhOff = ul ? ul.nhOff : 6;
    }
    b.copyWithin(nh, H, H + hdr);
    pkt.head = nh;
    pkt.tail = p + plen;
    b[nh + nhOff] = nexthdr;
    if (outerVer === 4) {
      put16(b, nh + 2, hdr + plen);
      ipv4SendCheck(b, nh);
    } else {
      put16(b, nh + 4, hdr + plen - 40);
    }
    setHeaders(pkt, outerVer, nh + hdr, nexthdr);
    return null;
  }

  if (outerVer === 4) extract4(b, H, cb);
  else extract6(b, H, cb);

  if (sa.mode === 'tunnel') {
    const innerVer = nexthdr === IPPROTO_IPIP ? 4 : nexthdr === IPPROTO_IPV6 ? 6 : 0;
    // xfrm4_remove_tunnel_encap(): the next header must be the selector's family.
    if (!innerVer || (sa.innerFamily && sa.innerFamily !== innerVer)) return espDrop('XfrmInStateModeError', `tunnel payload with next header ${nexthdr}`);
    if (plen < (innerVer === 4 ? 20 : 40) || b[p]! >>> 4 !== innerVer) return espDrop('XfrmInStateModeError', 'tunnel payload is not an IP packet');
    pkt.head = p;
    pkt.tail = p + plen;
    // TFC padding (RFC 4303 §2.7) hides behind the inner length; ip_rcv() trims to it.
    const innerLen = innerVer === 4 ? u16(b, p + 2) : 40 + u16(b, p + 4);
    if (innerLen < plen) pkt.tail = p + innerLen;
    decapDsEcn(sa, b, p, innerVer, cb.tos);
    setHeaders(pkt, innerVer, -1, -1);
    pkt.innerNetworkHeader = -1;
    return null;
  }

  // BEET (xfrm{4,6}_remove_beet_encap()): rebuild the inner header from the outer fields and the selector.
  const sel = sa.sel!;
  const innerVer = sel.saddr.version;
  let optlen = 0;
  if (innerVer === 4 && nexthdr === IPPROTO_BEETPH) {
    // The pseudo header carrying IPv4 options: skip it, the options stay
    // in place and the rebuilt header grows over them.
    if (plen < 4) return espDrop('XfrmInStateModeError', 'truncated BEET pseudo header');
    const phlen = 4 + b[p + 2]!;
    optlen = b[p + 1]! * 8 + (8 - phlen);
    if (optlen < 0 || optlen & 3 || optlen > 250 || phlen + optlen > plen) return espDrop('XfrmInStateModeError', 'bad BEET pseudo header');
    nexthdr = b[p]!;
    p += phlen;
    plen -= phlen;
  }
  const ihl = innerVer === 4 ? 20 : 40;
  const nh = p - ihl;
  if (nh < 0) return espDrop('XfrmInStateModeError', 'no room for the BEET inner header');
  if (innerVer === 4) {
    writeIpv4(b, nh, cb.tos, ihl + plen, cb.id, cb.fragOff, cb.ttl, nexthdr, sel.saddr.bytes, sel.daddr.bytes);
    if (optlen) {
      b[nh] = 0x45 + optlen / 4;
      ipv4SendCheck(b, nh);
    }
  } else {
    writeIpv6(b, nh, cb.tos, cb.flowLabel, plen, nexthdr, cb.ttl, sel.saddr.bytes, sel.daddr.bytes);
  }
  pkt.head = nh;
  pkt.tail = p + plen;
  setHeaders(pkt, innerVer, p + optlen, nexthdr);
  return null;
}

/**
 * Tunnel decapsulation of DSCP and ECN as Linux does it: `decap-dscp`
 * copies the outer DSCP in (ipv4_copy_dscp()); unless `noecn`, an outer CE
 * is set on an ECN-capable inner packet (ipip_ecn_decapsulate() →
 * IP_ECN_set_ce()). Unlike RFC 6040 §4.2, xfrm does not drop a CE-marked
 * outer over a Not-ECT inner; it passes the inner packet unmarked.
 */
function decapDsEcn(sa: EspSa, b: Uint8Array, p: number, innerVer: number, outerTos: number): void {
  let tos = innerVer === 4 ? b[p + 1]! : tclass6(b, p);
  const before = tos;
  if (sa.flags & XFRM_STATE_DECAP_DSCP) tos = (outerTos & ~INET_ECN_MASK & 0xff) | (tos & INET_ECN_MASK);
  if (!(sa.flags & XFRM_STATE_NOECN) && (outerTos & INET_ECN_MASK) === INET_ECN_CE && (tos & INET_ECN_MASK) !== INET_ECN_NOT_ECT) tos |= INET_ECN_CE;
  if (tos === before) return;
  if (innerVer === 4) {
    b[p + 1] = tos;
    ipv4SendCheck(b, p);
  } else {
    setTclass6(b, p, tos);
  }
}

function setHeaders(pkt: Packet, ver: number, transport: number, l4: number): void {
  pkt.networkHeader = pkt.head;
  pkt.transportHeader = transport;
  pkt.protocol = ver === 4 ? 0x0800 : 0x86dd;
  pkt.l4proto = l4;
}
