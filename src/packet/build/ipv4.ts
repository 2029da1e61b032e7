/** IPv4 (RFC 791) with options and fragments; field names as scapy's IP layer. */
import { internetChecksum } from '../checksum.js';
import { concat, ip4, packBits, type Addr, type PseudoHeader } from './fields.js';

/** RFC 791 §3.1 flags as scapy numbers them (bit 0 = MF, bit 1 = DF, bit 2 = the reserved "evil" bit). */
export const IP_FLAG_MF = 1;
export const IP_FLAG_DF = 2;
export const IP_FLAG_EVIL = 4;

/**
 * One IP option (RFC 791 §3.1): the type octet (copied flag, class, number),
 * then for all but EOL and NOP a length octet and `data`.
 */
export interface Ipv4OptionRepr {
  copy_flag: number;
  optclass: number;
  option: number;
  /** Single-octet options (EOL = 0, NOP = 1) have no length or data. */
  single?: boolean;
  /** null = 2 + data length. */
  length?: number | null;
  data?: Uint8Array;
}

export function emitIpv4Option(o: Ipv4OptionRepr): Uint8Array {
  const type = packBits([[1, o.copy_flag], [2, o.optclass], [5, o.option]]);
  if (o.single) return type;
  const data = o.data ?? new Uint8Array(0);
  return concat([type, Uint8Array.of((o.length ?? data.length + 2) & 0xff), data]);
}

/** RFC 791 record route / loose / strict source route: pointer, then the addresses. */
export function routeOptionData(pointer: number, routers: ReadonlyArray<Addr>): Uint8Array {
  return concat([Uint8Array.of(pointer & 0xff), ...routers.map(ip4)]);
}

export interface Ipv4Repr {
  version: number;
  /** Header length in 32-bit words; null = computed. */
  ihl: number | null;
  tos: number;
  /** Total length; null = header + payload. */
  len: number | null;
  id: number;
  /** IP_FLAG_* bits. */
  flags: number;
  /** Fragment offset in 8-byte units. */
  frag: number;
  ttl: number;
  proto: number;
  /** null = computed (RFC 791 header checksum). */
  chksum: number | null;
  src: Addr;
  dst: Addr;
  /** Encoded options (see emitIpv4Option); padded with zeros to a 4-byte boundary. */
  options: Uint8Array;
}

/** scapy's IP() defaults; addresses must be given (`{ ...IPV4_DEFAULTS, src, dst }`). */
export const IPV4_DEFAULTS: Omit<Ipv4Repr, 'src' | 'dst'> = {
  version: 4, ihl: null, tos: 0, len: null, id: 1, flags: 0, frag: 0, ttl: 64, proto: 0, chksum: null, options: new Uint8Array(0),
};

export function emitIpv4(r: Ipv4Repr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const optLen = (r.options.length + 3) & ~3;
  const hlen = 20 + optLen;
  const h = new Uint8Array(hlen);
  h.set(packBits([
    [4, r.version], [4, r.ihl ?? hlen / 4], [8, r.tos], [16, r.len ?? hlen + payload.length],
    [16, r.id], [3, r.flags], [13, r.frag], [8, r.ttl], [8, r.proto], [16, 0],
  ]));
  h.set(ip4(r.src), 12);
  h.set(ip4(r.dst), 16);
  h.set(r.options, 20);
  const ck = r.chksum ?? internetChecksum(h);
  h[10] = (ck >>> 8) & 0xff;
  h[11] = ck & 0xff;
  return concat([h, payload]);
}

/**
 * The pseudo-header an upper layer under this IPv4 header checksums with.
 * With a loose/strict source route option the destination is the route's
 * last address (RFC 791 §3.1, the final destination). When the total length
 * was given explicitly, the upper-layer length is derived from it, as scapy does.
 */
export function ipv4Pseudo(r: Ipv4Repr, finalDst?: Addr): PseudoHeader {
  const p: PseudoHeader = { src: ip4(r.src), dst: ip4(finalDst ?? r.dst) };
  if (r.len !== null) {
    const ihl = r.ihl ?? 5 + Math.ceil(r.options.length / 4);
    p.length = Math.max(r.len - 4 * ihl, 0);
  }
  return p;
}
