/**
 * IPv6 (RFC 8200) and its extension headers: hop-by-hop and destination
 * options (§4.3, §4.6), routing (§4.4, incl. segment routing type 4, RFC 8754)
 * and fragment (§4.5). Field names as scapy's IPv6 layers.
 */
import { concat, ip6, packBits, type Addr, type PseudoHeader } from './fields.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

export interface Ipv6Repr {
  version: number;
  /** Traffic class. */
  tc: number;
  /** Flow label. */
  fl: number;
  /** Payload length; null = everything after the fixed header. */
  plen: number | null;
  nh: number;
  hlim: number;
  src: Addr;
  dst: Addr;
}

/** scapy's IPv6() defaults; addresses must be given. */
export const IPV6_DEFAULTS: Omit<Ipv6Repr, 'src' | 'dst'> = { version: 6, tc: 0, fl: 0, plen: null, nh: IPPROTO_NONE, hlim: 64 };

export function emitIpv6(r: Ipv6Repr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = new Uint8Array(40);
  h.set(packBits([[4, r.version], [8, r.tc], [20, r.fl], [16, r.plen ?? payload.length], [8, r.nh], [8, r.hlim]]));
  h.set(ip6(r.src), 8);
  h.set(ip6(r.dst), 24);
  return concat([h, payload]);
}

/**
 * A TLV option of a hop-by-hop or destination options header (RFC 8200
 * §4.2). `align` is the option's alignment requirement xn+y (§4.2: "written
 * as xn+y"), used when padding is inserted automatically.
 */
export interface Ipv6OptionRepr {
  otype: number;
  /** Pad1 is a single octet, with no length or data. */
  single?: boolean;
  /** null = data length. */
  optlen?: number | null;
  data?: Uint8Array;
  align?: readonly [x: number, y: number];
}

export function pad1(): Ipv6OptionRepr {
  return { otype: 0, single: true };
}
export function padN(n: number): Ipv6OptionRepr {
  return { otype: 1, data: new Uint8Array(n) };
}

function emitOption(o: Ipv6OptionRepr): Uint8Array {
  if (o.single) return Uint8Array.of(o.otype);
  const data = o.data ?? new Uint8Array(0);
  return concat([Uint8Array.of(o.otype, (o.optlen ?? data.length) & 0xff), data]);
}

function padding(n: number): Uint8Array {
  return n === 0 ? new Uint8Array(0) : emitOption(n === 1 ? pad1() : padN(n - 2));
}

/**
 * Options area of a hop-by-hop/destination header. With `autopad`, Pad1/PadN
 * are inserted before each option to meet its alignment and after the last to
 * end on an 8-octet boundary (RFC 8200 §4.2); positions count from the header
 * start, where options begin at offset 2.
 */
export function emitIpv6Options(opts: ReadonlyArray<Ipv6OptionRepr>, autopad: boolean): Uint8Array {
  if (!autopad) return concat(opts.map(emitOption));
  const parts: Uint8Array[] = [];
  let pos = 2;
  for (const o of opts) {
    if (o.align) {
      const [x, y] = o.align;
      const d = x * Math.floor((pos - y + x - 1) / x) + y - pos;
      parts.push(padding(d));
      pos += d;
    }
    const b = emitOption(o);
    parts.push(b);
    pos += b.length;
  }
  parts.push(padding((8 - (pos % 8)) % 8));
  return concat(parts);
}

/** Hop-by-hop (nh 0) or destination options (nh 60) header. */
export interface Ipv6OptionsHeaderRepr {
  nh: number;
  /** Length in 8-octet units, not counting the first; null = computed. */
  len: number | null;
  autopad: boolean;
  options: ReadonlyArray<Ipv6OptionRepr>;
}

export function emitIpv6OptionsHeader(r: Ipv6OptionsHeaderRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const opts = emitIpv6Options(r.options, r.autopad);
  const len = r.len ?? Math.floor((opts.length + 2 + 7) / 8) - 1;
  return concat([Uint8Array.of(r.nh, len & 0xff), opts, payload]);
}

/** Routing header (RFC 8200 §4.4); type 0 layout (RFC 2460) with a list of addresses. */
export interface Ipv6RoutingRepr {
  nh: number;
  /** null = 2 per address. */
  len: number | null;
  type: number;
  /** null = number of addresses. */
  segleft: number | null;
  reserved: number;
  addresses: ReadonlyArray<Addr>;
}

export function emitIpv6Routing(r: Ipv6RoutingRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = packBits([[8, r.nh], [8, r.len ?? 2 * r.addresses.length], [8, r.type], [8, r.segleft ?? r.addresses.length], [32, r.reserved]]);
  return concat([head, ...r.addresses.map(ip6), payload]);
}

/** Segment routing header (RFC 8754 §2), routing type 4. */
export interface Ipv6SegmentRoutingRepr {
  nh: number;
  /** null = computed after padding the TLVs to 8 octets. */
  len: number | null;
  type: number;
  /** null = addresses − 1. */
  segleft: number | null;
  /** null = addresses − 1. */
  lastentry: number | null;
  unused1: number;
  protected: number;
  oam: number;
  alert: number;
  hmac: number;
  unused2: number;
  tag: number;
  /** Segment list, Segment List[0] (the last segment) first. */
  addresses: ReadonlyArray<Addr>;
  /** Encoded TLVs. */
  tlvs: Uint8Array;
}

export function emitIpv6SegmentRouting(r: Ipv6SegmentRoutingRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const n = r.addresses.length;
  const flags = packBits([[1, r.unused1], [1, r.protected], [1, r.oam], [1, r.alert], [1, r.hmac], [3, r.unused2]]);
  const head = packBits([[8, r.nh], [8, 0], [8, r.type], [8, r.segleft ?? Math.max(n - 1, 0)], [8, r.lastentry ?? Math.max(n - 1, 0)]]);
  let body = concat([head, flags, packBits([[16, r.tag]]), ...r.addresses.map(ip6), r.tlvs]);
  let len = r.len;
  if (len === null) {
    // RFC 8754 §2.1.1: Pad1 (type 0) or PadN (type 4) TLVs fill up to 8 octets.
    const pad = (8 - (body.length % 8)) % 8;
    // A Pad1 TLV is written as scapy writes it: type 0, length 1, one zero octet.
    if (pad === 1) body = concat([body, Uint8Array.of(0, 1, 0)]);
    else if (pad >= 2) body = concat([body, Uint8Array.of(4, pad - 2), new Uint8Array(pad - 2)]);
    len = Math.floor((body.length - 8) / 8);
  }
  body[1] = len & 0xff;
  return concat([body, payload]);
}

/** Fragment header (RFC 8200 §4.5). */
export interface Ipv6FragmentRepr {
  nh: number;
  res1: number;
  /** Offset in 8-octet units. */
  offset: number;
  res2: number;
  /** More-fragments flag. */
  m: number;
  id: number;
}

export function emitIpv6Fragment(r: Ipv6FragmentRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat([packBits([[8, r.nh], [8, r.res1], [13, r.offset], [2, r.res2], [1, r.m], [32, r.id]]), payload]);
}

/**
 * Pseudo-header for an upper layer under IPv6 (RFC 8200 §8.1). `dst` is the
 * final destination: the last routing-header address when one is in use.
 */
export function ipv6Pseudo(src: Addr, dst: Addr): PseudoHeader {
  return { src: ip6(src), dst: ip6(dst) };
}
